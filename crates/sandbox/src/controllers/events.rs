//! core/v1 Events the controllers leave behind (Scheduled, SuccessfulCreate, Killing, ...),
//! so `kubectl get events` and `kubectl describe` tell the story of the sandbox.
//!
//! Owns: the Event shape. Must not fail a reconcile: losing an event is harmless.

use serde_json::{Value, json};

use crate::meta;
use crate::resources as r;
use crate::store::Store;

pub fn record(
    store: &Store,
    involved: &Value,
    kind: &str,
    reason: &str,
    message: &str,
    component: &str,
) {
    let ns = meta::namespace(involved);
    let ns = if ns.is_empty() { "default" } else { ns };
    let now = meta::now_rfc3339();
    let suffix: u64 = rand::random();
    let event = json!({
        "metadata": {"name": format!("{}.{suffix:016x}", meta::name(involved))},
        "involvedObject": {
            "kind": kind,
            "namespace": meta::namespace(involved),
            "name": meta::name(involved),
            "uid": meta::uid(involved),
            "apiVersion": involved.get("apiVersion").cloned().unwrap_or(Value::Null),
            "resourceVersion": meta::resource_version(involved),
        },
        "reason": reason,
        "message": message,
        "type": "Normal",
        "source": {"component": component},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "reportingComponent": component,
        "reportingInstance": "chaosdeck-sandbox",
    });
    if let Err(e) = store.create(r::EVENTS, ns, event) {
        tracing::debug!("event {reason} for {} not recorded: {e}", meta::name(involved));
    }
}
