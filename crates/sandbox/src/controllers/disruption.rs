//! PodDisruptionBudgets: computing their status and deciding whether an eviction may go ahead.
//!
//! Owns: the disruption arithmetic (minAvailable / maxUnavailable as counts or percentages,
//! healthy = Ready and not terminating). Must not delete pods itself; the eviction handler does.

use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

use super::conditions::pod_ready;
use super::conditions::set_status;
use crate::meta;
use crate::resources as r;
use crate::selectors::LabelSelector;
use crate::status::ApiError;
use crate::store::Store;

static EVICTIONS: Mutex<()> = Mutex::new(());

/// Serialises evictions so two of them cannot both spend the last allowed disruption.
pub fn eviction_lock() -> MutexGuard<'static, ()> {
    EVICTIONS.lock().unwrap_or_else(|p| p.into_inner())
}

fn healthy(pod: &Value) -> bool {
    pod_ready(pod) && !meta::is_deleting(pod)
}

/// A count or a percentage of `total`, rounded up as the disruption controller does. The API
/// server refuses negative values and percentages over 100; the sandbox does not validate
/// budgets, so they are clamped here instead of overflowing.
fn scaled(v: &Value, total: i64) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().map(|n| n.max(0)),
        Value::String(s) => {
            let pct: i64 = s.strip_suffix('%')?.trim().parse().ok()?;
            Some((pct.clamp(0, 100) * total.max(0) + 99) / 100)
        }
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub expected: i64,
    pub current_healthy: i64,
    pub desired_healthy: i64,
    pub disruptions_allowed: i64,
}

pub fn budget(store: &Store, pdb: &Value) -> Budget {
    let ns = meta::namespace(pdb);
    let sel = meta::at(pdb, &["spec", "selector"])
        .and_then(|s| LabelSelector::from_api(s).ok())
        .unwrap_or(LabelSelector { requirements: vec![], matches_nothing: true });
    let (pods, _) = store.list_filtered(r::PODS, Some(ns), |p| {
        sel.matches(p)
            && !matches!(meta::str_at(p, &["status", "phase"]), Some("Succeeded" | "Failed"))
    });
    let expected = pods.iter().filter(|p| !meta::is_deleting(p)).count() as i64;
    let current_healthy = pods.iter().filter(|p| healthy(p)).count() as i64;
    let desired_healthy = if let Some(min) = meta::at(pdb, &["spec", "minAvailable"]) {
        scaled(min, expected).unwrap_or(expected)
    } else if let Some(max) = meta::at(pdb, &["spec", "maxUnavailable"]) {
        (expected - scaled(max, expected).unwrap_or(0)).max(0)
    } else {
        expected
    };
    let disruptions_allowed = (current_healthy - desired_healthy).max(0);
    Budget { expected, current_healthy, desired_healthy, disruptions_allowed }
}

/// Err(429) when evicting `pod` would take a matching budget below its desired health.
pub fn check_eviction(store: &Store, pod: &Value) -> Result<(), ApiError> {
    if meta::is_deleting(pod) || !healthy(pod) {
        // Evicting a pod that is already down or going costs no availability.
        return Ok(());
    }
    let (pdbs, _) = store.list_filtered(r::PDBS, Some(meta::namespace(pod)), |pdb| {
        meta::at(pdb, &["spec", "selector"])
            .and_then(|s| LabelSelector::from_api(s).ok())
            .is_some_and(|s| !s.requirements.is_empty() && s.matches(pod))
    });
    if pdbs.len() > 1 {
        return Err(ApiError::internal(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        ));
    }
    if let Some(pdb) = pdbs.first() {
        let b = budget(store, pdb);
        if b.disruptions_allowed <= 0 {
            let mut err = ApiError::too_many_requests(
                "Cannot evict pod as it would violate the pod's disruption budget.",
            );
            // No retryAfterSeconds, like the API server; note that kube-rs still retries 429s
            // with its own backoff unless `Config::default_retry` is off.
            err.details = Some(json!({"causes": [{
                "reason": "DisruptionBudget",
                "message": format!(
                    "The disruption budget {} needs {} healthy pods and has {} currently",
                    meta::name(pdb), b.desired_healthy, b.current_healthy
                ),
            }]}));
            return Err(err);
        }
    }
    Ok(())
}

/// The status block the disruption controller keeps on each PDB.
pub fn status_of(store: &Store, pdb: &Value) -> Value {
    let b = budget(store, pdb);
    json!({
        "observedGeneration": meta::i64_at(pdb, &["metadata", "generation"]).unwrap_or(1),
        "currentHealthy": b.current_healthy,
        "desiredHealthy": b.desired_healthy,
        "expectedPods": b.expected,
        "disruptionsAllowed": b.disruptions_allowed,
        "conditions": [{
            "type": "DisruptionAllowed",
            "status": if b.disruptions_allowed > 0 { "True" } else { "False" },
            "reason": if b.disruptions_allowed > 0 { "SufficientPods" } else { "InsufficientPods" },
            "message": "",
            "lastTransitionTime": meta::now_rfc3339(),
            "observedGeneration": meta::i64_at(pdb, &["metadata", "generation"]).unwrap_or(1),
        }],
    })
}

/// Keeps every PDB's status in `ns` current.
pub fn reconcile(store: &Store, ns: &str) -> Result<(), ApiError> {
    let (pdbs, _) = store.list(r::PDBS, Some(ns));
    let mut result = Ok(());
    for pdb in pdbs {
        let status = status_of(store, &pdb);
        if let Err(e) = set_status(store, r::PDBS, &pdb, status)
            && e.code != 404
        {
            result = Err(e);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DeleteOpts, Part};

    fn ready_pod(store: &Store, name: &str) -> Value {
        let pod = json!({"metadata": {"name": name, "labels": {"app": "api"}},
            "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": "n1"}});
        let created = store.create(r::PODS, "p", pod).unwrap();
        store
            .modify(r::PODS, "p", name, Part::All, |cur| {
                let mut next = cur.clone();
                meta::set(&mut next, &["status", "phase"], json!("Running"));
                meta::set(
                    &mut next,
                    &["status", "conditions"],
                    json!([{"type": "Ready", "status": "True"}]),
                );
                Ok(next)
            })
            .unwrap();
        (*created).clone()
    }

    #[test]
    fn min_available_blocks_the_second_eviction() {
        let store = Store::new();
        store.create(r::NAMESPACES, "", json!({"metadata": {"name": "p"}})).unwrap();
        store
            .create(
                r::PDBS,
                "p",
                json!({"metadata": {"name": "pdb"},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "api"}}}}),
            )
            .unwrap();
        for n in ["a", "b", "c"] {
            ready_pod(&store, n);
        }
        let a = store.get(r::PODS, "p", "a").unwrap();
        assert!(check_eviction(&store, &a).is_ok());
        store.delete(r::PODS, "p", "a", &DeleteOpts::default()).unwrap();
        assert!(meta::is_deleting(&store.get(r::PODS, "p", "a").unwrap()));
        let b = store.get(r::PODS, "p", "b").unwrap();
        let err = check_eviction(&store, &b).unwrap_err();
        assert_eq!(err.code, 429);
        let pdb = store.get(r::PDBS, "p", "pdb").unwrap();
        assert_eq!(budget(&store, &pdb).disruptions_allowed, 0);
    }

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&json!("50%"), 3), Some(2));
        assert_eq!(scaled(&json!(1), 3), Some(1));
        assert_eq!(scaled(&json!("x"), 3), None);
    }
}
