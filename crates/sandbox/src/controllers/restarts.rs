//! Container restarts: PID 1 of a container ends on a signal, the kubelet starts it again.
//!
//! Owns: the two status transitions a real kubelet makes — the container terminated
//! (`exitCode` 128+signal, not ready, the pod's Ready and ContainersReady False), then, one
//! `pod_ready_delay` later, running again with `restartCount` one higher, the terminated state
//! kept as `lastState` and Ready True once every container is. A pod with
//! `restartPolicy: Never` fails instead. Must not decide which signal is sent (exec does).

use std::sync::Arc;

use serde_json::{Value, json};

use super::ctx::{Ctx, Step, after};
use super::events;
use crate::meta;
use crate::resources as r;
use crate::status::ApiError;
use crate::store::{Part, Store};

/// PID 1 of `container` in the pod with `uid` ended on `signal`. Refused when the pod was
/// replaced meanwhile, so a signal meant for one pod never lands on its successor.
pub fn pid1_ended(
    store: &Store,
    ns: &str,
    name: &str,
    uid: &str,
    container: &str,
    signal: u8,
) -> Result<crate::store::Obj, ApiError> {
    let now = meta::now_rfc3339();
    let pod = store.modify(r::PODS, ns, name, Part::Status, |cur| {
        if meta::uid(cur) != uid {
            return Err(ApiError::conflict(&r::RESOURCES[r::PODS], name, "the pod was replaced"));
        }
        let mut next = cur.clone();
        let never = meta::str_at(cur, &["spec", "restartPolicy"]) == Some("Never");
        if let Some(statuses) =
            next.pointer_mut("/status/containerStatuses").and_then(Value::as_array_mut)
        {
            for s in statuses.iter_mut().filter(|s| s.get("name") == Some(&json!(container))) {
                let started = s.pointer("/state/running/startedAt").cloned().unwrap_or(json!(now));
                s["state"] = json!({"terminated": {
                    "exitCode": 128 + i32::from(signal), "signal": signal, "reason": "Error",
                    "startedAt": started, "finishedAt": now,
                    "containerID": s.get("containerID").cloned().unwrap_or(Value::Null),
                }});
                s["ready"] = json!(false);
                s["started"] = json!(false);
            }
        }
        set_ready(&mut next, false, &now);
        if never {
            meta::set(&mut next, &["status", "phase"], json!("Failed"));
        }
        Ok(next)
    })?;
    let message = format!("Container {container} ended on signal {signal}");
    events::record(store, &pod, "Pod", "Killing", &message, "kubelet");
    Ok(pod)
}

/// Whether a running pod has a container the kubelet must start again.
pub fn needs_restart(pod: &Value) -> bool {
    meta::str_at(pod, &["spec", "restartPolicy"]) != Some("Never")
        && terminated(pod).next().is_some()
}

fn terminated(pod: &Value) -> impl Iterator<Item = &Value> {
    meta::at(pod, &["status", "containerStatuses"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| s.pointer("/state/terminated").is_some())
}

/// Starts every terminated container of the pod again after the pod's ready delay.
pub fn schedule(ctx: &Arc<Ctx>, pod: &Value) {
    let (ns, name, uid) =
        (meta::namespace(pod).to_string(), meta::name(pod).to_string(), meta::uid(pod).to_string());
    after(ctx, meta::uid(pod), Step::Restart, ctx.ready_delay, move |ctx| {
        let now = meta::now_rfc3339();
        let restarted = ctx.store.modify(r::PODS, &ns, &name, Part::Status, |cur| {
            if meta::uid(cur) != uid || meta::is_deleting(cur) {
                return Ok(cur.clone());
            }
            let mut next = cur.clone();
            if let Some(statuses) =
                next.pointer_mut("/status/containerStatuses").and_then(Value::as_array_mut)
            {
                for s in statuses.iter_mut().filter(|s| s.pointer("/state/terminated").is_some()) {
                    let count = s.get("restartCount").and_then(Value::as_u64).unwrap_or(0);
                    s["lastState"] = s["state"].take();
                    s["state"] = json!({"running": {"startedAt": now}});
                    s["restartCount"] = json!(count + 1);
                    s["ready"] = json!(true);
                    s["started"] = json!(true);
                    s["containerID"] =
                        json!(format!("containerd://{}", uuid::Uuid::new_v4().simple()));
                }
            }
            set_ready(&mut next, true, &now);
            Ok(next)
        });
        if let Ok(pod) = restarted {
            events::record(&ctx.store, &pod, "Pod", "Started", "Started container", "kubelet");
        }
    });
}

/// Sets Ready and ContainersReady; True only when every container is ready.
fn set_ready(pod: &mut Value, ready: bool, now: &str) {
    let all_ready = ready
        && meta::at(pod, &["status", "containerStatuses"])
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().all(|s| s.get("ready") == Some(&json!(true))));
    let Some(conds) = pod.pointer_mut("/status/conditions").and_then(Value::as_array_mut) else {
        return;
    };
    for c in conds {
        if matches!(c.get("type").and_then(Value::as_str), Some("Ready" | "ContainersReady")) {
            let status = if all_ready { "True" } else { "False" };
            if c.get("status") != Some(&json!(status)) {
                c["status"] = json!(status);
                c["lastTransitionTime"] = json!(now);
            }
            if all_ready {
                if let Some(m) = c.as_object_mut() {
                    m.remove("reason");
                }
            } else {
                c["reason"] = json!("ContainersNotReady");
            }
        }
    }
}
