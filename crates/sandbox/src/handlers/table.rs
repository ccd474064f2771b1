//! Server-side `Table` rendering (`Accept: application/json;as=Table;g=meta.k8s.io`), which is
//! what makes `kubectl get` print READY/STATUS columns instead of just NAME and AGE.
//!
//! Owns: the columns per kind, modelled on the API server's printers. Must not change
//! objects.

use serde_json::{Value, json};

use crate::meta;
use crate::resources as r;
use crate::store::Obj;

fn col(name: &str, ty: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": "", "priority": priority})
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
                col("Ready", "string", 0),
                col("Status", "string", 0),
                col("Restarts", "string", 0),
                col("Age", "string", 0),
                col("IP", "string", 1),
                col("Node", "string", 1),
            ],
            vec![
                name,
                json!(pod_ready(obj)),
                json!(pod_status(obj)),
                json!("0"),
                age,
                json!(or_none(s(obj, &["status", "podIP"]))),
                json!(or_none(s(obj, &["spec", "nodeName"]))),
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
            vec![col("Name", "string", 0), col("Data", "integer", 0), col("Age", "string", 0)],
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
        _ => (vec![col("Name", "string", 0), col("Age", "string", 0)], vec![name, age]),
    }
}

pub fn table(res: usize, items: &[Obj], rv: u64, cont: Option<&str>) -> Value {
    let columns = columns_and_cells(res, &json!({})).0;
    let rows: Vec<Value> = items
        .iter()
        .map(|o| json!({"cells": columns_and_cells(res, o).1, "object": &**o}))
        .collect();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}
