//! Server-side `Table` rendering (`Accept: application/json;as=Table;g=meta.k8s.io`), which is
//! what makes `kubectl get` print READY/STATUS columns instead of just NAME and AGE.
//!
//! Owns: the columns per kind, modelled on the API server's printers (kinds without one get
//! its default: Name and Created At), and what each row carries of its object
//! (`includeObject`: `Metadata` by default, as on the API server, so that kubectl gets a
//! `PartialObjectMetadata` per row rather than the whole object; `Object`; `None`). Must not
//! change objects.

use serde_json::{Value, json};

use super::request::Req;
use crate::meta;
use crate::resources as r;
use crate::status::ApiError;
use crate::store::Obj;

/// What each row of a Table carries of its object (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

/// `Some` when the client asked for a Table (`Accept: ...;as=Table;...`), with what its rows
/// should carry; an unknown `includeObject` is refused, as the API server does.
pub fn wanted(req: &Req) -> Result<Option<Include>, ApiError> {
    if !req.wants_table() {
        return Ok(None);
    }
    match req.q("includeObject") {
        None | Some("Metadata") => Ok(Some(Include::Metadata)),
        Some("Object") => Ok(Some(Include::Object)),
        Some("None") => Ok(Some(Include::None)),
        Some(other) => Err(ApiError::bad_request(format!(
            "includeObject: Unsupported value: \"{other}\": supported values: \"None\", \"Metadata\", \"Object\""
        ))),
    }
}

// The API server's column descriptions come from the API's field documentation; these are
// the ones kubectl may show (`kubectl explain`-like tooling), for the common columns.
const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATED_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn description(name: &str) -> &'static str {
    match name {
        "Name" => NAME_DESCRIPTION,
        "Age" | "Created At" => CREATED_DESCRIPTION,
        _ => "",
    }
}

fn col(name: &str, ty: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": description(name), "priority": priority})
}

/// A pod column with the API server's description.
fn pod_col(name: &str, priority: u8, description: &str) -> Value {
    json!({"name": name, "type": "string", "format": "", "description": description, "priority": priority})
}

/// Kubernetes' short age format: 45s, 12m, 5h, 3d.
pub fn age(obj: &Value) -> String {
    let Some(ts) = meta::str_at(obj, &["metadata", "creationTimestamp"]) else {
        return "<unknown>".into();
    };
    let Ok(created) = ts.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let secs = (jiff::Timestamp::now().as_second() - created.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 3 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn s(obj: &Value, path: &[&str]) -> String {
    meta::str_at(obj, path).unwrap_or("").to_string()
}

fn n(obj: &Value, path: &[&str]) -> i64 {
    meta::i64_at(obj, path).unwrap_or(0)
}

fn or_none(v: String) -> String {
    if v.is_empty() { "<none>".into() } else { v }
}

fn pod_status(pod: &Value) -> String {
    if meta::is_deleting(pod) {
        return "Terminating".into();
    }
    match meta::str_at(pod, &["status", "phase"]) {
        Some("Succeeded") => "Completed".into(),
        Some(phase) => {
            // A reason (Evicted, OutOfmemory, ...) is more telling than the phase.
            let reason = s(pod, &["status", "reason"]);
            if reason.is_empty() { phase.to_string() } else { reason }
        }
        None => "Unknown".into(),
    }
}

fn pod_restarts(pod: &Value) -> String {
    let restarts: i64 =
        meta::at(pod, &["status", "containerStatuses"]).and_then(Value::as_array).map_or(0, |cs| {
            cs.iter().filter_map(|c| c.get("restartCount")?.as_i64()).fold(0, i64::saturating_add)
        });
    restarts.to_string()
}

/// `ready/total` over `spec.readinessGates`, `<none>` without any.
fn readiness_gates(pod: &Value) -> String {
    let gates: Vec<&str> = meta::at(pod, &["spec", "readinessGates"])
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(|g| g.get("conditionType")?.as_str()).collect())
        .unwrap_or_default();
    if gates.is_empty() {
        return "<none>".into();
    }
    let conditions = meta::at(pod, &["status", "conditions"]).and_then(Value::as_array);
    let ready = gates
        .iter()
        .filter(|gate| {
            conditions.into_iter().flatten().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(**gate)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
        .count();
    format!("{ready}/{}", gates.len())
}

fn pod_ready(pod: &Value) -> String {
    let total =
        meta::at(pod, &["spec", "containers"]).and_then(Value::as_array).map_or(0, Vec::len);
    let ready = meta::at(pod, &["status", "containerStatuses"])
        .and_then(Value::as_array)
        .map_or(0, |cs| cs.iter().filter(|c| c.get("ready") == Some(&json!(true))).count());
    format!("{ready}/{total}")
}

fn node_status(node: &Value) -> String {
    let ready = meta::at(node, &["status", "conditions"])
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c.get("type") == Some(&json!("Ready"))))
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True");
    let mut out = if ready { "Ready".to_string() } else { "NotReady".to_string() };
    if meta::at(node, &["spec", "unschedulable"]) == Some(&json!(true)) {
        out.push_str(",SchedulingDisabled");
    }
    out
}

fn node_roles(node: &Value) -> String {
    let roles: Vec<&str> = meta::labels(node)
        .map(|l| l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).collect())
        .unwrap_or_default();
    if roles.is_empty() { "<none>".into() } else { roles.join(",") }
}

fn ports(svc: &Value) -> String {
    let ports = meta::at(svc, &["spec", "ports"]).and_then(Value::as_array);
    let list: Vec<String> = ports
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{}/{}",
                p.get("port").map(|v| v.to_string()).unwrap_or_default(),
                s(p, &["protocol"])
            )
        })
        .collect();
    if list.is_empty() { "<none>".into() } else { list.join(",") }
}

fn int_or_string(obj: &Value, path: &[&str]) -> String {
    match meta::at(obj, path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "N/A".into(),
    }
}

fn columns_and_cells(res: usize, obj: &Value) -> (Vec<Value>, Vec<Value>) {
    let name = json!(meta::name(obj));
    let age = json!(age(obj));
    match res {
        r::PODS => (
            vec![
                col("Name", "string", 0),
                pod_col(
                    "Ready",
                    0,
                    "The aggregate readiness state of this pod for accepting traffic.",
                ),
                pod_col("Status", 0, "The aggregate status of the containers in this pod."),
                pod_col(
                    "Restarts",
                    0,
                    "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                ),
                col("Age", "string", 0),
                pod_col(
                    "IP",
                    1,
                    "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
                ),
                pod_col(
                    "Node",
                    1,
                    "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
                ),
                pod_col(
                    "Nominated Node",
                    1,
                    "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
                ),
                pod_col(
                    "Readiness Gates",
                    1,
                    "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
                ),
            ],
            vec![
                name,
                json!(pod_ready(obj)),
                json!(pod_status(obj)),
                json!(pod_restarts(obj)),
                age,
                json!(or_none(s(obj, &["status", "podIP"]))),
                json!(or_none(s(obj, &["spec", "nodeName"]))),
                json!(or_none(s(obj, &["status", "nominatedNodeName"]))),
                json!(readiness_gates(obj)),
            ],
        ),
        r::NODES => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Roles", "string", 0),
                col("Age", "string", 0),
                col("Version", "string", 0),
            ],
            vec![
                name,
                json!(node_status(obj)),
                json!(node_roles(obj)),
                age,
                json!(s(obj, &["status", "nodeInfo", "kubeletVersion"])),
            ],
        ),
        r::NAMESPACES => (
            vec![col("Name", "string", 0), col("Status", "string", 0), col("Age", "string", 0)],
            vec![name, json!(s(obj, &["status", "phase"])), age],
        ),
        r::DEPLOYMENTS => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Up-to-date", "integer", 0),
                col("Available", "integer", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    n(obj, &["status", "readyReplicas"]),
                    n(obj, &["spec", "replicas"])
                )),
                json!(n(obj, &["status", "updatedReplicas"])),
                json!(n(obj, &["status", "availableReplicas"])),
                age,
            ],
        ),
        r::REPLICASETS => (
            vec![
                col("Name", "string", 0),
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(n(obj, &["spec", "replicas"])),
                json!(n(obj, &["status", "replicas"])),
                json!(n(obj, &["status", "readyReplicas"])),
                age,
            ],
        ),
        r::SERVICES => (
            vec![
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Cluster-IP", "string", 0),
                col("External-IP", "string", 0),
                col("Port(s)", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(s(obj, &["spec", "type"])),
                json!(s(obj, &["spec", "clusterIP"])),
                json!("<none>"),
                json!(ports(obj)),
                age,
            ],
        ),
        r::CONFIGMAPS => (
            // "string" although the cells are numbers: what the API server says.
            vec![col("Name", "string", 0), col("Data", "string", 0), col("Age", "string", 0)],
            vec![
                name,
                json!(obj.get("data").and_then(Value::as_object).map_or(0, |d| d.len())),
                age,
            ],
        ),
        r::JOBS => {
            let done = n(obj, &["status", "succeeded"]);
            let want = n(obj, &["spec", "completions"]);
            let status = if done >= want { "Complete" } else { "Running" };
            (
                vec![
                    col("Name", "string", 0),
                    col("Status", "string", 0),
                    col("Completions", "string", 0),
                    col("Age", "string", 0),
                ],
                vec![name, json!(status), json!(format!("{done}/{want}")), age],
            )
        }
        r::PDBS => (
            vec![
                col("Name", "string", 0),
                col("Min Available", "string", 0),
                col("Max Unavailable", "string", 0),
                col("Allowed Disruptions", "integer", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(int_or_string(obj, &["spec", "minAvailable"])),
                json!(int_or_string(obj, &["spec", "maxUnavailable"])),
                json!(n(obj, &["status", "disruptionsAllowed"])),
                age,
            ],
        ),
        r::NETWORKPOLICIES => {
            let sel = meta::at(obj, &["spec", "podSelector"])
                .and_then(|s| crate::selectors::LabelSelector::from_api(s).ok())
                .map(|s| s.as_query())
                .unwrap_or_default();
            (
                vec![
                    col("Name", "string", 0),
                    col("Pod-Selector", "string", 0),
                    col("Age", "string", 0),
                ],
                vec![name, json!(if sel.is_empty() { "<none>".to_string() } else { sel }), age],
            )
        }
        r::EVENTS => {
            let object = format!(
                "{}/{}",
                s(obj, &["involvedObject", "kind"]).to_lowercase(),
                s(obj, &["involvedObject", "name"])
            );
            (
                vec![
                    col("Last Seen", "string", 0),
                    col("Type", "string", 0),
                    col("Reason", "string", 0),
                    col("Object", "string", 0),
                    col("Message", "string", 0),
                ],
                vec![
                    age,
                    json!(s(obj, &["type"])),
                    json!(s(obj, &["reason"])),
                    json!(object),
                    json!(s(obj, &["message"])),
                ],
            )
        }
        r::LEASES => (
            vec![col("Name", "string", 0), col("Holder", "string", 0), col("Age", "string", 0)],
            vec![name, json!(s(obj, &["spec", "holderIdentity"])), age],
        ),
        // The API server's default for a kind without a printer (a CRD without printer
        // columns, for one): the creation time as it is, not an age.
        _ => (
            vec![col("Name", "string", 0), col("Created At", "date", 0)],
            vec![name, json!(s(obj, &["metadata", "creationTimestamp"]))],
        ),
    }
}

/// What a row carries of its object.
fn row_object(obj: &Value, include: Include) -> Value {
    match include {
        Include::None => Value::Null,
        Include::Object => obj.clone(),
        Include::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    }
}

/// A `meta.k8s.io/v1` Table of `items`; `cont` is the continue token and remaining count
/// of a page that has more after it.
pub fn table(
    res: usize,
    items: &[Obj],
    rv: u64,
    cont: Option<(&str, Option<usize>)>,
    include: Include,
) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata(rv, cont),
        "columnDefinitions": columns_and_cells(res, &json!({})).0,
        "rows": items.iter().map(|o| row(res, o, include)).collect::<Vec<_>>(),
    })
}

/// [`table`] written as JSON row by row: each object is parsed, turned into its row and
/// dropped before the next, so a table of every pod in a big cluster never holds them all
/// parsed (150,000 pods would take over a gigabyte, and seconds of page clearing).
pub fn table_bytes(
    res: usize,
    items: impl ExactSizeIterator<Item = Obj>,
    rv: u64,
    cont: Option<(&str, Option<usize>)>,
    include: Include,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024 + items.len() * 512);
    // Writing a Value into a Vec cannot fail.
    out.extend_from_slice(br#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":"#);
    let _ = serde_json::to_writer(&mut out, &list_metadata(rv, cont));
    out.extend_from_slice(br#","columnDefinitions":"#);
    let _ = serde_json::to_writer(&mut out, &columns_and_cells(res, &json!({})).0);
    out.extend_from_slice(br#","rows":["#);
    for (i, obj) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut out, &row(res, &obj, include));
    }
    out.extend_from_slice(b"]}");
    out
}

fn row(res: usize, obj: &Value, include: Include) -> Value {
    json!({"cells": columns_and_cells(res, obj).1, "object": row_object(obj, include)})
}

fn list_metadata(rv: u64, cont: Option<(&str, Option<usize>)>) -> Value {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some((token, remaining)) = cont {
        metadata["continue"] = json!(token);
        if let Some(remaining) = remaining {
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    metadata
}
