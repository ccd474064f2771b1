//! Deployment, ReplicaSet and Job controllers.
//!
//! Owns: a deployment's replicasets (named `<deployment>-<pod-template-hash>`, owned by it,
//! the newest carrying all replicas and older ones scaled to zero), a replicaset's pods
//! (`<replicaset>-<5 chars>`, owned by it), a job's pods until enough have succeeded, and
//! the status blocks of all three. Must not schedule or start pods (the scheduler and the
//! kubelet do).

use std::sync::Arc;

use serde_json::{Value, json};

use super::conditions::{pod_ready, set_status};
use super::ctx::Ctx;
use super::events;
use crate::meta;
use crate::resources::{self as r, RESOURCES};
use crate::status::ApiError;
use crate::store::{DeleteOpts, Obj, Part, Store};

const HASH_LABEL: &str = "pod-template-hash";

/// Stable short hash of a pod template, spelled with the Kubernetes safe alphabet.
/// Pods one pass may create for one ReplicaSet or Job, as Kubernetes' controllers bound a
/// sync (500): the counts are their writer's, and a replicas or parallelism of 10^18 must not
/// be one pass on the task every controller shares.
const MAX_CREATES_PER_PASS: i64 = 500;

pub fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in template.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..10).map(|i| ALPHABET[((h >> (i * 6)) % ALPHABET.len() as u64) as usize] as char).collect()
}

fn first_err(acc: &mut Result<(), ApiError>, r: Result<(), ApiError>) {
    if acc.is_ok() && r.is_err() {
        *acc = r;
    }
}

fn active(pod: &Value) -> bool {
    !meta::is_deleting(pod)
        && !matches!(meta::str_at(pod, &["status", "phase"]), Some("Succeeded" | "Failed"))
}

fn owned_by<'a>(items: &'a [Obj], owner: &Value) -> Vec<&'a Obj> {
    let uid = meta::uid(owner);
    items.iter().filter(|o| meta::controller_uid(o) == Some(uid)).collect()
}

fn set_replicas(store: &Store, res: usize, obj: &Value, n: i64) -> Result<(), ApiError> {
    store
        .modify(res, meta::namespace(obj), meta::name(obj), Part::All, |cur| {
            let mut next = cur.clone();
            meta::set(&mut next, &["spec", "replicas"], json!(n));
            Ok(next)
        })
        .map(|_| ())
}

fn pod_from_template(owner: &Value, owner_res: usize, template: &Value) -> Value {
    let def = &RESOURCES[owner_res];
    let mut metadata = template.get("metadata").cloned().unwrap_or_else(|| json!({}));
    meta::set(&mut metadata, &["generateName"], json!(format!("{}-", meta::name(owner))));
    meta::set(
        &mut metadata,
        &["ownerReferences"],
        json!([meta::owner_ref(def.kind, &def.api_version(), owner)]),
    );
    if let Some(m) = metadata.as_object_mut() {
        m.remove("name");
        m.remove("namespace");
    }
    json!({
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}

pub fn deployments(ctx: &Arc<Ctx>, ns: &str) -> Result<(), ApiError> {
    let store = &ctx.store;
    let (deploys, _) = store.list(r::DEPLOYMENTS, Some(ns));
    if deploys.is_empty() {
        return Ok(());
    }
    let (rses, _) = store.list(r::REPLICASETS, Some(ns));
    let mut result = Ok(());
    for d in deploys.iter().filter(|d| !meta::is_deleting(d)) {
        first_err(&mut result, deployment(store, d, &rses));
    }
    result
}

fn deployment(store: &Store, d: &Value, rses: &[Obj]) -> Result<(), ApiError> {
    let template = meta::at(d, &["spec", "template"]).cloned().unwrap_or_else(|| json!({}));
    let hash = template_hash(&template);
    let want = meta::i64_at(d, &["spec", "replicas"]).unwrap_or(1);
    let owned = owned_by(rses, d);
    let current = owned.iter().find(|rs| meta::label(rs, HASH_LABEL) == Some(hash.as_str()));
    let mut result = Ok(());
    match current {
        None => {
            let revision = owned
                .iter()
                .filter_map(|rs| {
                    meta::str_at(
                        rs,
                        &["metadata", "annotations", "deployment.kubernetes.io/revision"],
                    )
                    .and_then(|v| v.parse::<i64>().ok())
                })
                .max()
                .unwrap_or(0)
                .saturating_add(1);
            let mut tpl = template.clone();
            meta::set(&mut tpl, &["metadata", "labels", HASH_LABEL], json!(hash));
            let mut selector =
                meta::at(d, &["spec", "selector"]).cloned().unwrap_or_else(|| json!({}));
            meta::set(&mut selector, &["matchLabels", HASH_LABEL], json!(hash));
            let labels =
                meta::at(&tpl, &["metadata", "labels"]).cloned().unwrap_or_else(|| json!({}));
            let rs = json!({
                "metadata": {
                    "name": format!("{}-{hash}", meta::name(d)),
                    "labels": labels,
                    "annotations": {
                        "deployment.kubernetes.io/revision": revision.to_string(),
                        "deployment.kubernetes.io/desired-replicas": want.to_string(),
                    },
                    "ownerReferences": [meta::owner_ref("Deployment", "apps/v1", d)],
                },
                "spec": {"replicas": want, "selector": selector, "template": tpl},
            });
            match store.create(r::REPLICASETS, meta::namespace(d), rs) {
                Ok(rs) => events::record(
                    store,
                    d,
                    "Deployment",
                    "ScalingReplicaSet",
                    &format!("Scaled up replica set {} from 0 to {want}", meta::name(&rs)),
                    "deployment-controller",
                ),
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        Some(rs) if meta::i64_at(rs, &["spec", "replicas"]) != Some(want) => {
            first_err(&mut result, set_replicas(store, r::REPLICASETS, rs, want));
        }
        Some(_) => {}
    }
    for old in owned.iter().filter(|rs| meta::label(rs, HASH_LABEL) != Some(hash.as_str())) {
        if meta::i64_at(old, &["spec", "replicas"]).unwrap_or(0) != 0 {
            first_err(&mut result, set_replicas(store, r::REPLICASETS, old, 0));
        }
    }
    // Statuses are anyone's writes (PUT .../status): counts are taken as at least 0 and summed
    // without overflowing.
    let sum = |field: &str| -> i64 {
        owned
            .iter()
            .map(|rs| meta::i64_at(rs, &["status", field]).unwrap_or(0).max(0))
            .fold(0, i64::saturating_add)
    };
    let updated = current.map_or(0, |rs| meta::i64_at(rs, &["status", "replicas"]).unwrap_or(0));
    let available = sum("availableReplicas");
    let now = meta::now_rfc3339();
    let available_cond = if available >= want { "True" } else { "False" };
    let mut status = json!({
        "observedGeneration": meta::i64_at(d, &["metadata", "generation"]).unwrap_or(1),
        "replicas": sum("replicas"),
        "updatedReplicas": updated,
        "readyReplicas": sum("readyReplicas"),
        "availableReplicas": available,
        "conditions": [
            {"type": "Available", "status": available_cond,
             "reason": if available >= want { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
             "message": if available >= want { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." },
             "lastUpdateTime": now, "lastTransitionTime": now},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "message": format!("ReplicaSet \"{}-{hash}\" has successfully progressed.", meta::name(d)),
             "lastUpdateTime": now, "lastTransitionTime": now},
        ],
    });
    if want > available {
        status["unavailableReplicas"] = json!(want - available);
    }
    // Drop zero counts the way the API server's omitempty does, so `kubectl get -o yaml`
    // looks familiar.
    strip_zeroes(&mut status);
    first_err(&mut result, set_status(store, r::DEPLOYMENTS, d, status));
    result
}

fn strip_zeroes(status: &mut Value) {
    if let Some(m) = status.as_object_mut() {
        m.retain(|k, v| k == "replicas" || v != &json!(0));
    }
}

pub fn replicasets(ctx: &Arc<Ctx>, ns: &str) -> Result<(), ApiError> {
    let store = &ctx.store;
    let (rses, _) = store.list(r::REPLICASETS, Some(ns));
    if rses.is_empty() {
        return Ok(());
    }
    let (pods, _) = store.list(r::PODS, Some(ns));
    let mut result = Ok(());
    for rs in rses.iter().filter(|rs| !meta::is_deleting(rs)) {
        first_err(&mut result, replicaset(store, rs, &pods));
    }
    result
}

fn replicaset(store: &Store, rs: &Value, pods: &[Obj]) -> Result<(), ApiError> {
    let want = meta::i64_at(rs, &["spec", "replicas"]).unwrap_or(1).max(0) as usize;
    let mut live: Vec<&Obj> = owned_by(pods, rs).into_iter().filter(|p| active(p)).collect();
    let mut result = Ok(());
    if live.len() < want {
        let template = meta::at(rs, &["spec", "template"]).cloned().unwrap_or_else(|| json!({}));
        for _ in live.len()..want.min(live.len() + MAX_CREATES_PER_PASS as usize) {
            match store.create(
                r::PODS,
                meta::namespace(rs),
                pod_from_template(rs, r::REPLICASETS, &template),
            ) {
                Ok(pod) => events::record(
                    store,
                    rs,
                    "ReplicaSet",
                    "SuccessfulCreate",
                    &format!("Created pod: {}", meta::name(&pod)),
                    "replicaset-controller",
                ),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
    } else if live.len() > want {
        // Like the real controller: unscheduled before scheduled, not-ready before ready,
        // newest before oldest.
        live.sort_by_key(|p| {
            (
                meta::str_at(p, &["spec", "nodeName"]).is_some(),
                pod_ready(p),
                std::cmp::Reverse(
                    meta::str_at(p, &["metadata", "creationTimestamp"]).unwrap_or("").to_string(),
                ),
            )
        });
        for p in live.drain(..live.len() - want) {
            match store.delete(r::PODS, meta::namespace(p), meta::name(p), &DeleteOpts::default()) {
                Ok(_) => events::record(
                    store,
                    rs,
                    "ReplicaSet",
                    "SuccessfulDelete",
                    &format!("Deleted pod: {}", meta::name(p)),
                    "replicaset-controller",
                ),
                Err(e) if e.code == 404 => {}
                Err(e) => result = Err(e),
            }
        }
    }
    let owned: Vec<&Obj> = owned_by(pods, rs).into_iter().filter(|p| active(p)).collect();
    let ready = owned.iter().filter(|p| pod_ready(p)).count();
    let mut status = json!({
        "replicas": owned.len(),
        "fullyLabeledReplicas": owned.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": meta::i64_at(rs, &["metadata", "generation"]).unwrap_or(1),
    });
    strip_zeroes(&mut status);
    first_err(&mut result, set_status(store, r::REPLICASETS, rs, status));
    result
}

pub fn jobs(ctx: &Arc<Ctx>, ns: &str) -> Result<(), ApiError> {
    let store = &ctx.store;
    let (jobs, _) = store.list(r::JOBS, Some(ns));
    if jobs.is_empty() {
        return Ok(());
    }
    let (pods, _) = store.list(r::PODS, Some(ns));
    let mut result = Ok(());
    for job in jobs.iter().filter(|j| !meta::is_deleting(j)) {
        first_err(&mut result, job_pass(store, job, &pods));
    }
    result
}

fn job_pass(store: &Store, job: &Value, pods: &[Obj]) -> Result<(), ApiError> {
    let owned = owned_by(pods, job);
    let phase = |p: &&&Obj| meta::str_at(p, &["status", "phase"]).map(String::from);
    let succeeded =
        owned.iter().filter(|p| phase(p).as_deref() == Some("Succeeded")).count() as i64;
    let failed = owned.iter().filter(|p| phase(p).as_deref() == Some("Failed")).count() as i64;
    let running = owned.iter().filter(|p| active(p)).count() as i64;
    let completions = meta::i64_at(job, &["spec", "completions"]).unwrap_or(1);
    let parallelism = meta::i64_at(job, &["spec", "parallelism"]).unwrap_or(1);
    let suspended = meta::at(job, &["spec", "suspend"]) == Some(&json!(true));
    let done = succeeded >= completions;
    let mut result = Ok(());
    if !done && !suspended {
        let want_active = parallelism
            .min(completions - succeeded)
            .min(running.saturating_add(MAX_CREATES_PER_PASS));
        let template = meta::at(job, &["spec", "template"]).cloned().unwrap_or_else(|| json!({}));
        for _ in running..want_active {
            match store.create(
                r::PODS,
                meta::namespace(job),
                pod_from_template(job, r::JOBS, &template),
            ) {
                Ok(pod) => events::record(
                    store,
                    job,
                    "Job",
                    "SuccessfulCreate",
                    &format!("Created pod: {}", meta::name(&pod)),
                    "job-controller",
                ),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
    }
    let old = job.get("status");
    let now = meta::now_rfc3339();
    let start = old.and_then(|s| s.get("startTime")).cloned().unwrap_or_else(|| json!(now));
    let mut status = json!({
        "startTime": start,
        "active": if done { 0 } else { running },
        "succeeded": succeeded,
        "failed": failed,
        "ready": owned.iter().filter(|p| active(p) && pod_ready(p)).count(),
        "uncountedTerminatedPods": {},
    });
    if done {
        let completed =
            old.and_then(|s| s.get("completionTime")).cloned().unwrap_or_else(|| json!(now));
        status["completionTime"] = completed;
        status["conditions"] = json!([
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
             "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached",
             "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now},
        ]);
        if old.and_then(|s| s.get("completionTime")).is_none() {
            events::record(store, job, "Job", "Completed", "Job completed", "job-controller");
        }
    }
    if let Some(m) = status.as_object_mut() {
        m.retain(|k, v| {
            !(matches!(k.as_str(), "active" | "succeeded" | "failed") && v == &json!(0))
        });
    }
    first_err(&mut result, set_status(store, r::JOBS, job, status));
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn pods_in(store: &Store, ns: &str) -> usize {
        store.list(r::PODS, Some(ns)).0.len()
    }

    #[test]
    fn one_pass_creates_at_most_500_pods_per_owner() {
        let store = Store::new();
        store.create(r::NAMESPACES, "", json!({"metadata": {"name": "big"}})).unwrap();
        let template = json!({"metadata": {"labels": {"app": "x"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let rs = store
            .create(
                r::REPLICASETS,
                "big",
                json!({"metadata": {"name": "rs"},
                "spec": {"replicas": 1_000_000_000_000_000_000_i64, "template": template.clone(),
                         "selector": {"matchLabels": {"app": "x"}}}}),
            )
            .unwrap();
        replicaset(&store, &rs, &[]).unwrap();
        assert_eq!(pods_in(&store, "big"), 500);
        let job = store
            .create(
                r::JOBS,
                "big",
                json!({"metadata": {"name": "job"},
                "spec": {"parallelism": 1_000_000_000_000_000_000_i64,
                         "completions": 1_000_000_000_000_000_000_i64, "template": template}}),
            )
            .unwrap();
        job_pass(&store, &job, &[]).unwrap();
        assert_eq!(pods_in(&store, "big"), 1000);
    }
}
