//! The kubelet stand-in: timed pod lifecycle steps.
//!
//! Owns: Pending → Running and Ready `pod_ready_delay` after a pod is bound to a Ready node;
//! Running → Succeeded for run-to-completion pods (job pods, or any pod annotated
//! `sandbox.chaosdeck.io/run-seconds`, chaosdeck's helper pods) after their declared duration; and finishing graceful
//! deletions (a pod marked with deletionTimestamp disappears after min(grace period, delay)).
//! Containers whose PID 1 ended are started again by [`super::restarts`].
//! A pod's duration is that annotation, else `sleep N` in its command/args, else 1 s.
//! Must not decide where pods run (the scheduler does).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::ctx::{Ctx, Nodes, Step, after};
use super::events;
use super::restarts;
use super::scheduler::node_ready;
use crate::meta;
use crate::resources as r;
use crate::status::ApiError;
use crate::store::{DeleteOpts, Part};

pub const RUN_SECONDS: &str = "sandbox.chaosdeck.io/run-seconds";

/// How long a run-to-completion pod runs, or None for pods that run until deleted.
fn run_duration(pod: &Value) -> Option<Duration> {
    if let Some(secs) = meta::str_at(pod, &["metadata", "annotations", RUN_SECONDS])
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
    {
        return Some(seconds(secs));
    }
    // chaosdeck's helper ends by itself after its `--for` (removing its rules).
    if let Some(secs) = crate::exec::netfilter::helper_seconds(pod) {
        return Some(seconds(secs));
    }
    let owned_by_job = meta::at(pod, &["metadata", "ownerReferences"])
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| r.get("kind") == Some(&json!("Job"))));
    if !owned_by_job {
        return None;
    }
    let containers = meta::at(pod, &["spec", "containers"]).and_then(Value::as_array);
    let words: Vec<&str> = containers
        .into_iter()
        .flatten()
        .flat_map(|c| {
            ["command", "args"]
                .into_iter()
                .filter_map(|f| c.get(f).and_then(Value::as_array))
                .flatten()
                .filter_map(Value::as_str)
                .flat_map(str::split_whitespace)
        })
        .collect();
    let slept = words
        .windows(2)
        .find(|w| w[0] == "sleep")
        .and_then(|w| w[1].parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0);
    Some(seconds(slept.unwrap_or(1.0)))
}

/// A finite, non-negative number of seconds as a Duration; more than a Duration holds (the
/// annotation and `sleep` are anyone's input) runs for ever, as such a sleep would.
fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

fn container_names(pod: &Value) -> Vec<(String, String)> {
    meta::at(pod, &["spec", "containers"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let s = |f: &str| c.get(f).and_then(Value::as_str).unwrap_or("").to_string();
            (s("name"), s("image"))
        })
        .collect()
}

fn running(pod: &Value, ip: &str, host_ip: &str) -> Value {
    let now = meta::now_rfc3339();
    let mut next = pod.clone();
    let cond = |t: &str| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    let statuses: Vec<Value> = container_names(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name, "image": image, "imageID": format!("{image}@sha256:sandbox"),
                "containerID": format!("containerd://{}", uuid::Uuid::new_v4().simple()),
                "ready": true, "started": true, "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            })
        })
        .collect();
    meta::set(&mut next, &["status", "phase"], json!("Running"));
    meta::set(&mut next, &["status", "podIP"], json!(ip));
    meta::set(&mut next, &["status", "podIPs"], json!([{"ip": ip}]));
    meta::set(&mut next, &["status", "hostIP"], json!(host_ip));
    meta::set(&mut next, &["status", "startTime"], json!(now));
    meta::set(
        &mut next,
        &["status", "conditions"],
        json!([
            cond("PodReadyToStartContainers"),
            cond("Initialized"),
            cond("Ready"),
            cond("ContainersReady"),
            cond("PodScheduled")
        ]),
    );
    meta::set(&mut next, &["status", "containerStatuses"], json!(statuses));
    next
}

fn succeeded(pod: &Value) -> Value {
    let now = meta::now_rfc3339();
    let mut next = pod.clone();
    let started = meta::str_at(pod, &["status", "startTime"]).unwrap_or("").to_string();
    let statuses: Vec<Value> = container_names(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name, "image": image, "ready": false, "started": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": now}},
            })
        })
        .collect();
    meta::set(&mut next, &["status", "phase"], json!("Succeeded"));
    meta::set(&mut next, &["status", "containerStatuses"], json!(statuses));
    if let Some(conds) = next.pointer_mut("/status/conditions").and_then(Value::as_array_mut) {
        for c in conds {
            if matches!(c.get("type").and_then(Value::as_str), Some("Ready" | "ContainersReady")) {
                c["status"] = json!("False");
                c["reason"] = json!("PodCompleted");
                c["lastTransitionTime"] = json!(now);
            }
        }
    }
    next
}

pub fn pods(ctx: &Arc<Ctx>, ns: &str, nodes: &Nodes<'_>) -> Result<(), ApiError> {
    let store = &ctx.store;
    // What the filter can accept must contain one of these; the rest are not parsed.
    let run_seconds = format!("\"{RUN_SECONDS}\"");
    let hints = [
        r#""deletionTimestamp""#,
        r#""phase":"Pending""#,
        &run_seconds,
        r#""kind":"Job""#,
        r#""terminated""#,
        r#""--for""#,
        r#""lift""#,
    ];
    let (pods, _) = store.list_hinted(r::PODS, Some(ns), &hints, |p| {
        meta::is_deleting(p)
            || match meta::str_at(p, &["status", "phase"]) {
                Some("Pending") => meta::str_at(p, &["spec", "nodeName"]).is_some(),
                Some("Running") => run_duration(p).is_some() || restarts::needs_restart(p),
                _ => false,
            }
    });
    if pods.is_empty() {
        return Ok(());
    }
    for pod in pods {
        let uid = meta::uid(&pod).to_string();
        let name = meta::name(&pod).to_string();
        let ns = ns.to_string();
        if meta::is_deleting(&pod) {
            let grace =
                meta::i64_at(&pod, &["metadata", "deletionGracePeriodSeconds"]).unwrap_or(0).max(0);
            let delay = ctx.ready_delay.min(Duration::from_secs(grace as u64));
            let killing = pod.clone();
            let started = after(ctx, meta::uid(&pod), Step::Terminate, delay, move |ctx| {
                let opts =
                    DeleteOpts { uid: Some(uid), grace_seconds: Some(0), ..Default::default() };
                if let Err(e) = ctx.store.delete(r::PODS, &ns, &name, &opts)
                    && e.code != 404
                {
                    tracing::debug!("cannot finish deleting pod {ns}/{name}: {e}");
                }
            });
            if started {
                events::record(store, &killing, "Pod", "Killing", "Stopping container", "kubelet");
            }
            continue;
        }
        let node_name = meta::str_at(&pod, &["spec", "nodeName"]).unwrap_or("").to_string();
        match meta::str_at(&pod, &["status", "phase"]) {
            Some("Pending") => {
                let Some(node) = nodes.get(node_name.as_str()).filter(|n| node_ready(n)) else {
                    continue;
                };
                let host_ip = meta::at(node, &["status", "addresses"])
                    .and_then(Value::as_array)
                    .and_then(|a| a.iter().find(|x| x.get("type") == Some(&json!("InternalIP"))))
                    .and_then(|x| x.get("address"))
                    .and_then(Value::as_str)
                    .unwrap_or("10.0.0.1")
                    .to_string();
                after(ctx, meta::uid(&pod), Step::Start, ctx.ready_delay, move |ctx| {
                    let ip = ctx.next_pod_ip();
                    let started = ctx.store.modify(r::PODS, &ns, &name, Part::All, |cur| {
                        let still_pending = meta::uid(cur) == uid
                            && !meta::is_deleting(cur)
                            && meta::str_at(cur, &["status", "phase"]) == Some("Pending");
                        Ok(if still_pending { running(cur, &ip, &host_ip) } else { cur.clone() })
                    });
                    if let Ok(pod) = started {
                        events::record(
                            &ctx.store,
                            &pod,
                            "Pod",
                            "Started",
                            "Started container",
                            "kubelet",
                        );
                    }
                });
            }
            Some("Running") if restarts::needs_restart(&pod) => restarts::schedule(ctx, &pod),
            Some("Running") => {
                let Some(duration) = run_duration(&pod) else { continue };
                after(ctx, meta::uid(&pod), Step::Finish, duration, move |ctx| {
                    let _ = ctx.store.modify(r::PODS, &ns, &name, Part::All, |cur| {
                        let still_running = meta::uid(cur) == uid
                            && !meta::is_deleting(cur)
                            && meta::str_at(cur, &["status", "phase"]) == Some("Running");
                        Ok(if still_running { succeeded(cur) } else { cur.clone() })
                    });
                });
            }
            _ => {}
        }
    }
    Ok(())
}
