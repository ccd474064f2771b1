//! What happens to running pods when their node changes: the node lifecycle controller marks
//! pods on a node that is not Ready as not Ready (and Ready again when the node recovers),
//! and the taint eviction controller deletes pods that do not tolerate a `NoExecute` taint.
//!
//! Owns: the Ready condition of Running pods and NoExecute evictions. Unlike a real cluster
//! there is no 5-minute grace before pods on a dead node are evicted; they just stay NotReady
//! until the node is Ready again or someone deletes them. Must not schedule or create pods.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use super::ctx::{Ctx, Nodes};
use super::events;
use super::scheduler::{node_ready, tolerates};
use crate::meta;
use crate::resources as r;
use crate::status::ApiError;
use crate::store::{DeleteOpts, Part, string_fields};

fn set_ready(pod: &Value, ready: bool) -> Value {
    let mut next = pod.clone();
    let now = meta::now_rfc3339();
    let status = if ready { "True" } else { "False" };
    if let Some(conds) = next.pointer_mut("/status/conditions").and_then(Value::as_array_mut) {
        for c in conds {
            if matches!(c.get("type").and_then(Value::as_str), Some("Ready" | "ContainersReady"))
                && c.get("status") != Some(&json!(status))
            {
                c["status"] = json!(status);
                c["lastTransitionTime"] = json!(now);
            }
        }
    }
    if let Some(cs) = next.pointer_mut("/status/containerStatuses").and_then(Value::as_array_mut) {
        // A status is whatever its writer sent: only objects are container statuses.
        for c in cs.iter_mut().filter_map(Value::as_object_mut) {
            c.insert("ready".into(), json!(ready));
        }
    }
    next
}

/// The NoExecute taint `pod` does not tolerate on `node`, if any.
fn untolerated_no_execute<'a>(pod: &Value, node: &'a Value) -> Option<&'a str> {
    meta::at(node, &["spec", "taints"]).and_then(Value::as_array).into_iter().flatten().find_map(
        |t| {
            let s = |f: &str| t.get(f).and_then(Value::as_str).unwrap_or("");
            (s("effect") == "NoExecute" && !tolerates(pod, s("key"), s("value"), "NoExecute"))
                .then(|| t.get("key").and_then(Value::as_str).unwrap_or(""))
        },
    )
}

fn has_no_execute_taint(node: &Value) -> bool {
    meta::at(node, &["spec", "taints"]).and_then(Value::as_array).is_some_and(|ts| {
        ts.iter().any(|t| t.get("effect").and_then(Value::as_str) == Some("NoExecute"))
    })
}

/// Whether a pod's JSON (serde_json's compact output, keys sorted) shows it needs nothing from
/// this controller: it has a `Ready` condition that is `True`, and every `"nodeName":"…"` in it
/// names a node in `healthy` (Ready, no NoExecute taint). A text match cannot be fooled by a
/// string value: quotes inside strings are escaped. Erring towards "not settled" only costs a
/// parse.
fn settled(json: &[u8], healthy: &HashSet<&str>) -> bool {
    const READY: &[u8] = br#""status":"True","type":"Ready""#;
    if memchr::memmem::find(json, READY).is_none() {
        return false;
    }
    let mut named = false;
    for node in string_fields(json, "nodeName") {
        match node {
            Some(name) if healthy.contains(name) => named = true,
            _ => return false,
        }
    }
    named
}

pub fn pods(ctx: &Arc<Ctx>, ns: &str, nodes: &Nodes<'_>) -> Result<(), ApiError> {
    let store = &ctx.store;
    // At scale nearly every pod is Ready on a healthy node and needs nothing from here; those
    // are recognised in their stored JSON and not parsed (a cordon used to parse every pod).
    let healthy: HashSet<&str> = nodes
        .iter()
        .filter(|(_, n)| node_ready(n) && !has_no_execute_taint(n))
        .map(|(name, _)| *name)
        .collect();
    let (running, _) = store.list_screened(
        r::PODS,
        Some(ns),
        |s| s.json().is_none_or(|json| !settled(json, &healthy)),
        |p| !meta::is_deleting(p) && meta::str_at(p, &["status", "phase"]) == Some("Running"),
    );
    if running.is_empty() {
        return Ok(());
    }
    let mut result = Ok(());
    for pod in running {
        let name = meta::name(&pod).to_string();
        let node_name = meta::str_at(&pod, &["spec", "nodeName"]).unwrap_or("");
        let node = nodes.get(node_name);
        if let Some(key) = node.and_then(|n| untolerated_no_execute(&pod, n)) {
            let opts = DeleteOpts { uid: Some(meta::uid(&pod).to_string()), ..Default::default() };
            match store.delete(r::PODS, ns, &name, &opts) {
                Ok(_) => events::record(
                    store,
                    &pod,
                    "Pod",
                    "TaintManagerEviction",
                    &format!(
                        "Marking for deletion Pod {ns}/{name} (taint {key} with effect NoExecute)"
                    ),
                    "taint-eviction-controller",
                ),
                Err(e) if e.code == 404 || e.code == 409 => {}
                Err(e) => result = Err(e),
            }
            continue;
        }
        // A pod whose node is gone or not Ready cannot be Ready.
        let want_ready = node.is_some_and(|n| node_ready(n));
        if super::conditions::pod_ready(&pod) == want_ready {
            continue;
        }
        let uid = meta::uid(&pod).to_string();
        let outcome = store.modify(r::PODS, ns, &name, Part::All, |cur| {
            let same =
                meta::uid(cur) == uid && meta::str_at(cur, &["status", "phase"]) == Some("Running");
            Ok(if same { set_ready(cur, want_ready) } else { cur.clone() })
        });
        match outcome {
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => result = Err(e),
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(pod: &Value) -> Vec<u8> {
        serde_json::to_vec(pod).unwrap_or_default()
    }

    fn pod(node: &str, ready: &str) -> Value {
        json!({
            "metadata": {"name": "p", "labels": {"note": "\"nodeName\":\"n1\""}},
            "spec": {"nodeName": node},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": ready, "lastTransitionTime": "t", "reason": "r"},
            ]},
        })
    }

    #[test]
    fn only_ready_pods_on_healthy_nodes_are_settled() {
        let healthy: HashSet<&str> = ["n1"].into_iter().collect();
        assert!(settled(&json_of(&pod("n1", "True")), &healthy));
        assert!(!settled(&json_of(&pod("n1", "False")), &healthy));
        assert!(!settled(&json_of(&pod("n2", "True")), &healthy));
        // The label's text names n1 (escaped), the pod runs on n2: only the real field counts.
        let mut on_n2 = pod("n2", "True");
        on_n2["metadata"]["labels"]["nodeName"] = json!("n1");
        assert!(!settled(&json_of(&on_n2), &healthy), "every nodeName must be healthy");
        let mut nowhere = pod("n1", "True");
        nowhere["spec"] = json!({});
        assert!(!settled(&json_of(&nowhere), &healthy), "no node: look at it");
    }
}
