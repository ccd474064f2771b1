//! What each Krkn rollback callable means, as chaosdeck's generic undo actions — or, for those
//! that need a privileged helper or a cloud API, a plain explanation of what Krkn would do.
//!
//! Krkn's deletes carry no uid or label check (the file records only a name), so they are plain
//! deletes of the named object; "not found" counts as done, as it does for Krkn.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::file::RollbackContent;
use super::literal::PyValue;
use super::payload::decode_json;
use crate::cluster::exec::{ContainerPath, ContainerTarget};
use crate::journal::entry::{ObjectRef, UndoAction};
use crate::journal::kubectl::shell_word;
use crate::journal::placed_file::PlacedFile;

/// The label key krkn-lib's `deploy_service_hijacking` points the Service's selector at.
pub const HIJACK_SELECTOR_KEY: &str = "service-hijacking";
/// Shown where the hijack selector value goes; the file does not record it.
pub const HIJACK_VALUE_PLACEHOLDER: &str = "<the hijack pod's service-hijacking label>";
/// krkn-lib names the hijack plan `service-hijacking-cm-<5 random letters>`.
pub const HIJACK_CONFIGMAP_PREFIX: &str = "service-hijacking-cm-";

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// chaosdeck can do this itself.
    Executable {
        actions: Vec<UndoAction>,
        /// What a reader should know (guards chosen, Krkn defects avoided).
        notes: Vec<String>,
        /// Service hijacking: the selector guard and the ConfigMap are found in the cluster at
        /// execution time (the file does not record them).
        hijack: Option<Box<Hijack>>,
    },
    /// Needs exec or a cloud API: described, never attempted.
    NotExecutable {
        /// A few words for listings.
        headline: String,
        /// What Krkn would do, in full, with the decoded payload.
        what: String,
    },
}

/// What `rollback_service_hijacking`'s payload names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hijack {
    pub service: ObjectRef,
    pub pod: ObjectRef,
    pub original_selectors: BTreeMap<String, String>,
}

impl Plan {
    /// One line for listings: `delete Pod default/cpu-hog-kqlog`.
    pub fn summary(&self) -> String {
        match self {
            Plan::Executable { actions, hijack: None, .. } => {
                actions.iter().map(UndoAction::summary).collect::<Vec<_>>().join("; ")
            }
            Plan::Executable { hijack: Some(h), .. } => format!(
                "restore the selector of {} to {}; delete Pod {}; delete its {HIJACK_CONFIGMAP_PREFIX}* ConfigMap if found",
                h.service.display(),
                serde_json::to_string(&h.original_selectors).unwrap_or_default(),
                h.pod.name
            ),
            Plan::NotExecutable { headline, .. } => format!("not executable here: {headline}"),
        }
    }

    pub fn is_executable(&self) -> bool {
        matches!(self, Plan::Executable { .. })
    }
}

/// Maps `callable` + `content` to a plan; Err when the content does not fit the callable.
pub fn plan(callable: &str, content: &RollbackContent) -> Result<Plan, String> {
    match callable {
        "rollback_network_policy" => {
            let ns = namespace(callable, content)?;
            let name = k8s_name(&content.resource_identifier, "network policy name")?;
            Ok(executable(vec![delete("networking.k8s.io/v1", "NetworkPolicy", ns, name)], vec![]))
        }
        "rollback_hog_pod" => {
            let ns = namespace(callable, content)?;
            let name = k8s_name(&content.resource_identifier, "hog pod name")?;
            Ok(executable(vec![delete("v1", "Pod", ns, name)], vec![]))
        }
        "rollback_syn_flood_pods" | "rollback_http_load_pods" => {
            let ns = namespace(callable, content)?;
            let pods = pod_list(&content.resource_identifier)?;
            let mut notes = vec![];
            if callable == "rollback_http_load_pods" {
                notes.push(
                    "Krkn's own copy of this callable fails with `name 'json' is not defined` and \
                     deletes nothing while marking the file executed; chaosdeck deletes the pods"
                        .to_string(),
                );
            }
            let actions = pods.iter().map(|p| delete("v1", "Pod", ns, p)).collect();
            Ok(executable(actions, notes))
        }
        "rollback_service_hijacking" => service_hijacking(content),
        "rollback_temp_file" => temp_file(content),
        "rollback_throttle" => throttle(content),
        "rollback_shutdown_nodes" => shutdown_nodes(content),
        "rollback_gcp_zone_outage" => gcp_zone_outage(content),
        other => Ok(Plan::NotExecutable {
            headline: format!("unknown callable {other}"),
            what: format!(
                "{other} is not a callable chaosdeck knows; content {}",
                describe_content(content)
            ),
        }),
    }
}

fn executable(actions: Vec<UndoAction>, notes: Vec<String>) -> Plan {
    Plan::Executable { actions, notes, hijack: None }
}

fn delete(api_version: &str, kind: &str, ns: &str, name: &str) -> UndoAction {
    UndoAction::Delete {
        target: ObjectRef::new(api_version, kind, Some(ns), name),
        uid: None,
        require_labels: BTreeMap::new(),
    }
}

fn namespace<'c>(callable: &str, content: &'c RollbackContent) -> Result<&'c str, String> {
    match content.namespace.as_deref() {
        Some(ns) => k8s_name(ns, "namespace"),
        None => Err(format!("{callable} needs a namespace, and the file has namespace=None")),
    }
}

/// A DNS-1123 name (what the API server accepts for these kinds); anything else cannot have
/// come from Krkn's scenario and is refused before it reaches a URL path.
fn k8s_name<'a>(name: &'a str, what: &str) -> Result<&'a str, String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if ok { Ok(name) } else { Err(format!("{what} {name:?} is not a valid Kubernetes name")) }
}

fn pod_list(resource_identifier: &str) -> Result<Vec<String>, String> {
    let value = decode_json(resource_identifier)?;
    let items = value
        .as_array()
        .ok_or_else(|| format!("payload is {value}, expected a JSON list of pod names"))?;
    if items.is_empty() {
        return Err("payload lists no pods".into());
    }
    items
        .iter()
        .map(|v| {
            let name = v.as_str().ok_or_else(|| format!("pod name {v} is not a string"))?;
            k8s_name(name, "pod name").map(str::to_string)
        })
        .collect()
}

fn field<'v>(payload: &'v Value, key: &str) -> Result<&'v Value, String> {
    payload.get(key).ok_or_else(|| format!("payload has no {key:?} field"))
}

fn str_field<'v>(payload: &'v Value, key: &str) -> Result<&'v str, String> {
    field(payload, key)?.as_str().ok_or_else(|| format!("payload field {key:?} is not a string"))
}

fn service_hijacking(content: &RollbackContent) -> Result<Plan, String> {
    let payload = decode_json(&content.resource_identifier)?;
    let service = k8s_name(str_field(&payload, "service_name")?, "service name")?;
    // Krkn's callable uses service_namespace for every call, not rollback_content.namespace.
    let ns = k8s_name(str_field(&payload, "service_namespace")?, "service namespace")?;
    let pod = k8s_name(str_field(&payload, "webservice_pod_name")?, "hijack pod name")?;
    let selectors = field(&payload, "original_selectors")?
        .as_object()
        .ok_or("payload field \"original_selectors\" is not an object")?;
    if selectors.is_empty() {
        return Err("original_selectors is empty; restoring it would select every pod".into());
    }
    let mut original = BTreeMap::new();
    for (k, v) in selectors {
        let v = v.as_str().ok_or_else(|| format!("original selector {k} is not a string"))?;
        original.insert(k.clone(), v.to_string());
    }
    let service_ref = ObjectRef::new("v1", "Service", Some(ns), service);
    let pod_ref = ObjectRef::new("v1", "Pod", Some(ns), pod);
    let restore = restore_patch(&original);
    let actions = vec![
        UndoAction::Patch {
            target: service_ref.clone(),
            restore,
            // A placeholder for readers: execution always replaces it with the value read from
            // the hijack pod or the Service (see `apply::resolve`), or drops the patch.
            guard: json!({"spec": {"selector": {HIJACK_SELECTOR_KEY: HIJACK_VALUE_PLACEHOLDER}}}),
        },
        delete("v1", "Pod", ns, pod),
    ];
    let notes = vec![
        format!(
            "selector guard: Krkn's file does not record the value it set ({HIJACK_SELECTOR_KEY}: \
             <sh-…>); at execution chaosdeck reads it from the hijack pod's label (or the Service), \
             restores the original selector only while the Service still carries that key, and \
             leaves a selector someone else changed alone"
        ),
        format!(
            "ConfigMap: Krkn's rollback leaks its {HIJACK_CONFIGMAP_PREFIX}* plan; chaosdeck deletes \
             the one the hijack pod mounts; when the pod no longer tells, the undo is complete only \
             if no unclaimed {HIJACK_CONFIGMAP_PREFIX}* ConfigMap is left in the namespace"
        ),
    ];
    Ok(Plan::Executable {
        actions,
        notes,
        hijack: Some(Box::new(Hijack {
            service: service_ref,
            pod: pod_ref,
            original_selectors: original,
        })),
    })
}

/// The merge patch that puts the original selector back and drops Krkn's key.
pub fn restore_patch(original: &BTreeMap<String, String>) -> Value {
    let mut selector: Map<String, Value> =
        original.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    if !original.contains_key(HIJACK_SELECTOR_KEY) {
        selector.insert(HIJACK_SELECTOR_KEY.into(), Value::Null);
    }
    json!({"spec": {"selector": selector}})
}

fn temp_file(content: &RollbackContent) -> Result<Plan, String> {
    let ns = namespace("rollback_temp_file", content)?;
    let p = decode_json(&content.resource_identifier)?;
    let pod = k8s_name(str_field(&p, "pod_name")?, "pod name")?;
    let container = k8s_name(str_field(&p, "container_name")?, "container name")?;
    let file_name = str_field(&p, "file_name")?;
    let path = |field: &str| {
        str_field(&p, field).and_then(|v| {
            ContainerPath::parse(v).map_err(|why| format!("{field} of the file: {why}"))
        })
    };
    let (full_path, mount_path) = (path("full_path")?, path("mount_path")?);
    let file = PlacedFile {
        container: ContainerTarget {
            namespace: ns.to_string(),
            pod: pod.to_string(),
            container: container.to_string(),
            uid: None,
            restarts: None,
        },
        claim: None,
        mount_path,
        path: full_path,
        tag: file_name.to_string(),
        bytes: 0,
    };
    // The same rule as for chaosdeck's own fills: only that name, under that mount.
    if file.path.file_name() != file_name {
        return Err(format!("full_path {} does not end in file_name {file_name:?}", file.path));
    }
    file.command().map_err(|why| format!("rollback_temp_file: {why}"))?;
    let notes = vec![format!(
        "chaosdeck execs `rm -- {}` in container {container} of Pod {ns}/{pod} (no shell, the path \
         as one word) and checks the space with df, where Krkn runs `rm -f` then `ls -lh`; Krkn \
         records no claim, so if that pod is gone the entry stays pending",
        shell_word(file.path.as_str())
    )];
    Ok(executable(vec![UndoAction::RemoveFile { file }], notes))
}

fn throttle(content: &RollbackContent) -> Result<Plan, String> {
    let ns = namespace("rollback_throttle", content)?;
    let p = decode_json(&content.resource_identifier)?;
    let pod = k8s_name(str_field(&p, "priv_pod_name")?, "pod name")?;
    let device = str_field(&p, "maj_min")?.to_string();
    let cgroup = str_field(&p, "cgroup_path")?.to_string();
    let version = str_field(&p, "cgroup_version")?.to_string();
    // What Krkn's callable means to do (write `max` limits through its privileged pod, delete
    // the pod), done through chaosdeck's own helper: Krkn's copy fails on `base64` and marks
    // the file executed anyway.
    let action = UndoAction::LiftThrottle {
        pod: ObjectRef::new("v1", "Pod", Some(ns), pod),
        device,
        cgroup_path: cgroup,
        cgroup_version: version,
    };
    let note = "Krkn's own copy of this callable fails with `name 'base64' is not defined` and \
                lifts nothing while marking the file executed; chaosdeck lifts the limit through \
                its helper on the node of Krkn's pod"
        .to_string();
    Ok(executable(vec![action], vec![note]))
}

fn shutdown_nodes(content: &RollbackContent) -> Result<Plan, String> {
    let (cloud, ids) = match (&content.cloud_type, &content.instance_ids) {
        (Some(cloud), Some(ids)) if !ids.is_empty() => {
            (cloud.clone(), ids.iter().map(plain).collect::<Vec<_>>())
        }
        // Older files: resource_identifier = "<cloud>:<id1>,<id2>".
        _ => {
            let (cloud, ids) = content.resource_identifier.split_once(':').ok_or_else(|| {
                "neither cloud_type/instance_ids nor a \"<cloud>:<ids>\" resource_identifier"
                    .to_string()
            })?;
            let ids: Vec<String> = ids
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            (cloud.to_string(), ids)
        }
    };
    Ok(Plan::NotExecutable {
        headline: format!("start {cloud} instances {}", ids.join(", ")),
        what: format!(
            "Krkn would start the {cloud} instances {} through the cloud API (no Kubernetes \
             needed{}), wait up to 300 s for each to run, then sleep 60 s",
            ids.join(", "),
            if content.skip_kubernetes { ", skip_kubernetes=True" } else { "" }
        ),
    })
}

fn gcp_zone_outage(content: &RollbackContent) -> Result<Plan, String> {
    let p = decode_json(&content.resource_identifier)?;
    let nodes: Vec<String> = field(&p, "nodes")?
        .as_array()
        .ok_or("payload field \"nodes\" is not a list")?
        .iter()
        .map(|n| n.as_str().map(str::to_string).unwrap_or_else(|| n.to_string()))
        .collect();
    let timeout = field(&p, "timeout").map(ToString::to_string).unwrap_or_else(|_| "?".into());
    Ok(Plan::NotExecutable {
        headline: format!("start GCP nodes {}", nodes.join(", ")),
        what: format!(
            "Krkn would start the GCP nodes {} through the GCP compute API and wait up to {timeout} s \
             for each to be ready",
            nodes.join(", ")
        ),
    })
}

/// A string without Python quotes; anything else (Azure's `(vm, group)` pairs) as Python shows it.
fn plain(value: &PyValue) -> String {
    match value {
        PyValue::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The content as Python would print it, for explanations.
pub fn describe_content(c: &RollbackContent) -> String {
    format!(
        "namespace={}, resource_identifier={:?}, cloud_type={}, instance_ids={}, skip_kubernetes={}",
        c.namespace.as_deref().map(|s| format!("{s:?}")).unwrap_or_else(|| "None".into()),
        c.resource_identifier,
        c.cloud_type.as_deref().map(|s| format!("{s:?}")).unwrap_or_else(|| "None".into()),
        c.instance_ids
            .as_ref()
            .map(|ids| PyValue::Seq(ids.clone()).to_string())
            .unwrap_or_else(|| "None".into()),
        if c.skip_kubernetes { "True" } else { "False" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::krkn::payload::encode_base64;

    fn content(ns: Option<&str>, id: &str) -> RollbackContent {
        RollbackContent {
            namespace: ns.map(str::to_string),
            resource_identifier: id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn hog_pod_is_a_plain_delete() {
        let plan = plan("rollback_hog_pod", &content(Some("default"), "cpu-hog-kqlog")).unwrap();
        assert_eq!(plan.summary(), "delete Pod default/cpu-hog-kqlog");
    }

    #[test]
    fn kubernetes_callables_need_a_namespace_and_valid_names() {
        assert!(
            plan("rollback_hog_pod", &content(None, "p")).unwrap_err().contains("namespace=None")
        );
        assert!(plan("rollback_hog_pod", &content(Some("d"), "../x")).is_err());
        let empty = encode_base64(b"[]");
        assert!(plan("rollback_syn_flood_pods", &content(Some("d"), &empty)).is_err());
    }

    #[test]
    fn restore_patch_drops_krkns_key() {
        let original = BTreeMap::from([("app".to_string(), "nginx".to_string())]);
        assert_eq!(
            restore_patch(&original),
            json!({"spec": {"selector": {"app": "nginx", "service-hijacking": null}}})
        );
    }

    #[test]
    fn unknown_callables_are_described_not_run() {
        let plan = plan("rollback_callable", &content(Some("d"), "x")).unwrap();
        assert!(!plan.is_executable());
        assert_eq!(plan.summary(), "not executable here: unknown callable rollback_callable");
    }
}
