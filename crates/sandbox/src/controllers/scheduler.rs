//! The scheduler: binds Pending pods without a node to a Ready, schedulable node that
//! satisfies their nodeSelector, required node affinity and taints, preferring the node
//! with the fewest pods.
//!
//! Owns: `spec.nodeName` of unbound pods and their PodScheduled condition (with the real
//! scheduler's "0/N nodes are available: ..." message when nothing fits). Must not start
//! pods (the kubelet does).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use super::ctx::Ctx;
use super::events;
use crate::meta;
use crate::resources as r;
use crate::status::ApiError;
use crate::store::{Part, string_fields};

pub fn node_ready(node: &Value) -> bool {
    meta::at(node, &["status", "conditions"]).and_then(Value::as_array).is_some_and(|cs| {
        cs.iter().any(|c| {
            c.get("type") == Some(&json!("Ready")) && c.get("status") == Some(&json!("True"))
        })
    })
}

pub(super) fn tolerates(pod: &Value, key: &str, value: &str, effect: &str) -> bool {
    let tolerations = meta::at(pod, &["spec", "tolerations"]).and_then(Value::as_array);
    tolerations.into_iter().flatten().any(|t| {
        let s = |f: &str| t.get(f).and_then(Value::as_str).unwrap_or("");
        let exists = s("operator") == "Exists";
        let key_ok = s("key") == key || (s("key").is_empty() && exists);
        let value_ok = exists || s("value") == value;
        let effect_ok = s("effect").is_empty() || s("effect") == effect;
        key_ok && value_ok && effect_ok
    })
}

fn expression_matches(expr: &Value, labels: Option<&serde_json::Map<String, Value>>) -> bool {
    let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
    let have = labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    let values: Vec<&str> = expr
        .get("values")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match expr.get("operator").and_then(Value::as_str) {
        Some("In") => have.is_some_and(|h| values.contains(&h)),
        Some("NotIn") => have.is_none_or(|h| !values.contains(&h)),
        Some("Exists") => have.is_some(),
        Some("DoesNotExist") => have.is_none(),
        Some("Gt") => {
            matches!((have.and_then(number), values.first().and_then(|v| number(v))), (Some(h), Some(v)) if h > v)
        }
        Some("Lt") => {
            matches!((have.and_then(number), values.first().and_then(|v| number(v))), (Some(h), Some(v)) if h < v)
        }
        _ => false,
    }
}

/// Why `node` cannot run `pod`, in the scheduler's words, or None if it can. Checks run in
/// the default scheduler's filter order, so the first failing one is the one reported.
fn misfit(pod: &Value, node: &Value) -> Option<String> {
    if !node_ready(node) {
        return Some("node(s) were not ready".into());
    }
    if meta::at(node, &["spec", "unschedulable"]) == Some(&json!(true))
        && !tolerates(pod, "node.kubernetes.io/unschedulable", "", "NoSchedule")
    {
        return Some("node(s) were unschedulable".into());
    }
    for taint in meta::at(node, &["spec", "taints"]).and_then(Value::as_array).into_iter().flatten()
    {
        let s = |f: &str| taint.get(f).and_then(Value::as_str).unwrap_or("");
        let effect = s("effect");
        if matches!(effect, "NoSchedule" | "NoExecute")
            && !tolerates(pod, s("key"), s("value"), effect)
        {
            return Some(format!("node(s) had untolerated taint {{{}: {}}}", s("key"), s("value")));
        }
    }
    let labels = meta::labels(node);
    if let Some(sel) = meta::at(pod, &["spec", "nodeSelector"]).and_then(Value::as_object) {
        let ok = sel.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !ok {
            return Some("node(s) didn't match Pod's node affinity/selector".into());
        }
    }
    let terms = meta::at(
        pod,
        &[
            "spec",
            "affinity",
            "nodeAffinity",
            "requiredDuringSchedulingIgnoredDuringExecution",
            "nodeSelectorTerms",
        ],
    )
    .and_then(Value::as_array);
    if let Some(terms) = terms.filter(|t| !t.is_empty()) {
        let any = terms.iter().any(|term| {
            term.get("matchExpressions")
                .and_then(Value::as_array)
                .is_none_or(|exprs| exprs.iter().all(|e| expression_matches(e, labels)))
        });
        if !any {
            return Some("node(s) didn't match Pod's node affinity/selector".into());
        }
    }
    None
}

pub fn schedule(ctx: &Arc<Ctx>, ns: &str) -> Result<(), ApiError> {
    let store = &ctx.store;
    // Only Pending pods matter: at scale, most pods are not, and are not parsed.
    let (pending, _) = store.list_hinted(r::PODS, Some(ns), &[r#""phase":"Pending""#], |p| {
        meta::str_at(p, &["spec", "nodeName"]).is_none_or(str::is_empty)
            && !meta::is_deleting(p)
            && meta::str_at(p, &["status", "phase"]) == Some("Pending")
            // A pod for another scheduler is that scheduler's.
            && meta::str_at(p, &["spec", "schedulerName"])
                .is_none_or(|s| s.is_empty() || s == "default-scheduler")
    });
    if pending.is_empty() {
        return Ok(());
    }
    let (nodes, _) = store.list(r::NODES, None);
    // Pods per node over the whole cluster, read from the stored JSON where it is plain (one
    // nodeName, no deletionTimestamp): parsing 150,000 pods per pass took seconds.
    let mut load: HashMap<String, usize> = HashMap::new();
    store.for_each_stored(r::PODS, None, |s| {
        if let Some(json) = s.json()
            && memchr::memmem::find(json, br#""deletionTimestamp""#).is_none()
        {
            let mut names = string_fields(json, "nodeName");
            match (names.next(), names.next()) {
                (None, _) => return,
                (Some(Some(node)), None) => {
                    *load.entry(node.to_string()).or_default() += 1;
                    return;
                }
                _ => {}
            }
        }
        let p = s.obj();
        if let Some(n) = meta::str_at(&p, &["spec", "nodeName"]).filter(|_| !meta::is_deleting(&p))
        {
            *load.entry(n.to_string()).or_default() += 1;
        }
    });
    let mut result = Ok(());
    for pod in pending {
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let best = nodes
            .iter()
            .filter(|n| match misfit(&pod, n) {
                Some(why) => {
                    *reasons.entry(why).or_default() += 1;
                    false
                }
                None => true,
            })
            .min_by_key(|n| {
                (load.get(meta::name(n)).copied().unwrap_or(0), meta::name(n).to_string())
            })
            .map(|n| meta::name(n).to_string());
        let uid = meta::uid(&pod).to_string();
        let now = meta::now_rfc3339();
        let outcome = match &best {
            Some(node) => {
                *load.entry(node.clone()).or_default() += 1;
                let node = node.clone();
                store.modify(r::PODS, ns, meta::name(&pod), Part::All, |cur| {
                    let bound = meta::str_at(cur, &["spec", "nodeName"]).is_some_and(|n| !n.is_empty());
                    if meta::uid(cur) != uid || bound {
                        return Ok(cur.clone());
                    }
                    let mut next = cur.clone();
                    meta::set(&mut next, &["spec", "nodeName"], json!(node));
                    meta::set(
                        &mut next,
                        &["status", "conditions"],
                        json!([{"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}]),
                    );
                    Ok(next)
                })
            }
            None => {
                let detail: Vec<String> =
                    reasons.iter().map(|(why, n)| format!("{n} {why}")).collect();
                let message =
                    format!("0/{} nodes are available: {}.", nodes.len(), detail.join(", "));
                store.modify(r::PODS, ns, meta::name(&pod), Part::All, |cur| {
                    let cond = json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": message, "lastProbeTime": null, "lastTransitionTime": now}]);
                    let same = meta::at(cur, &["status", "conditions", "0", "message"]).is_some()
                        && cur.pointer("/status/conditions/0/message") == Some(&json!(message));
                    let mut next = cur.clone();
                    if !same {
                        meta::set(&mut next, &["status", "conditions"], cond);
                    }
                    Ok(next)
                })
            }
        };
        match (outcome, best) {
            (Ok(bound), Some(node)) => events::record(
                store,
                &bound,
                "Pod",
                "Scheduled",
                &format!("Successfully assigned {ns}/{} to {node}", meta::name(&bound)),
                "default-scheduler",
            ),
            (Ok(_), None) => {}
            (Err(e), _) if e.code == 404 => {}
            (Err(e), _) => result = Err(e),
        }
    }
    result
}
