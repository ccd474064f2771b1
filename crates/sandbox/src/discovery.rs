//! Legacy (unaggregated) discovery documents: `/version`, `/api`, `/api/v1`, `/apis`,
//! `/apis/{group}` and `/apis/{group}/{version}`.
//!
//! Owns: the JSON kubectl and kube-rs read to map kinds and short names to URLs. Answers
//! aggregated-discovery requests with plain JSON too, which makes kubectl fall back to these
//! documents. Must not read the store.

use serde_json::{Value, json};

use super::resources::{self as r, ResourceDef};

const VERBS: [&str; 8] =
    ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// What `kubectl get all` covers, as on a real cluster.
const IN_ALL: [&str; 5] = ["pods", "services", "deployments", "replicasets", "jobs"];

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-chaosdeck-sandbox",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    })
}

fn group_doc(group: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/v1"), "version": "v1"});
    json!({
        "name": group,
        "versions": [gv.clone()],
        "preferredVersion": gv,
    })
}

pub fn group_list() -> Value {
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": r::GROUPS.iter().map(|g| group_doc(g)).collect::<Vec<_>>(),
    })
}

pub fn group(name: &str) -> Option<Value> {
    if !r::group_exists(name) {
        return None;
    }
    let mut doc = group_doc(name);
    if let Some(m) = doc.as_object_mut() {
        m.insert("kind".into(), json!("APIGroup"));
        m.insert("apiVersion".into(), json!("v1"));
    }
    Some(doc)
}

fn resource_entry(def: &ResourceDef) -> Value {
    let verbs: Vec<&str> = VERBS
        .iter()
        .copied()
        .filter(|v| *v != "deletecollection" || def.deletecollection)
        .collect();
    json!({
        "name": def.plural,
        "singularName": def.singular,
        "namespaced": def.namespaced,
        "kind": def.kind,
        "verbs": verbs,
        "shortNames": def.short_names,
        "categories": if IN_ALL.contains(&def.plural) { vec!["all"] } else { vec![] },
        "storageVersionHash": "",
    })
}

fn subresource_entry(def: &ResourceDef, sub: &str) -> Value {
    let (group, version, kind, verbs): (&str, &str, &str, &[&str]) = match sub {
        "scale" => ("autoscaling", "v1", "Scale", &["get", "patch", "update"]),
        "eviction" => ("policy", "v1", "Eviction", &["create"]),
        "log" => ("", "", "Pod", &["get"]),
        "exec" => ("", "", "PodExecOptions", &["create", "get"]),
        "finalize" => ("", "", def.kind, &["update"]),
        _ => ("", "", def.kind, &["get", "patch", "update"]),
    };
    let mut entry = json!({
        "name": format!("{}/{sub}", def.plural),
        "singularName": "",
        "namespaced": def.namespaced,
        "kind": kind,
        "verbs": verbs,
    });
    if !group.is_empty()
        && let Some(m) = entry.as_object_mut()
    {
        m.insert("group".into(), json!(group));
        m.insert("version".into(), json!(version));
    }
    entry
}

/// `APIResourceList` for one group/version, or None if we do not serve it.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let defs: Vec<&ResourceDef> = r::in_group_version(group, version).collect();
    if defs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for def in defs {
        resources.push(resource_entry(def));
        for sub in def.subresources {
            resources.push(subresource_entry(def, sub));
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }))
}
