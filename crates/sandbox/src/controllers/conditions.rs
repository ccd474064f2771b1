//! Status conditions as controllers read and write them.

use serde_json::{Value, json};

use crate::meta;
use crate::status::ApiError;
use crate::store::{Part, Store};

/// Whether the pod's Ready condition is True.
pub fn pod_ready(pod: &Value) -> bool {
    meta::at(pod, &["status", "conditions"]).and_then(Value::as_array).is_some_and(|cs| {
        cs.iter().any(|c| {
            c.get("type") == Some(&json!("Ready")) && c.get("status") == Some(&json!("True"))
        })
    })
}

/// Keeps the timestamps of conditions whose status did not change, so an unchanged status
/// is byte-for-byte unchanged and the write becomes a no-op.
fn settle_conditions(old: Option<&Value>, mut new: Value) -> Value {
    let old = old.and_then(|s| s.get("conditions")).and_then(Value::as_array);
    if let Some(conds) = new.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conds {
            let same = old.and_then(|o| {
                o.iter()
                    .find(|x| x.get("type") == c.get("type") && x.get("status") == c.get("status"))
            });
            for field in ["lastTransitionTime", "lastUpdateTime", "lastProbeTime"] {
                if let (Some(m), Some(prev)) = (c.as_object_mut(), same.and_then(|s| s.get(field)))
                    && m.contains_key(field)
                {
                    m.insert(field.into(), prev.clone());
                }
            }
        }
    }
    new
}

pub fn set_status(store: &Store, res: usize, obj: &Value, status: Value) -> Result<(), ApiError> {
    let status = settle_conditions(obj.get("status"), status);
    if obj.get("status") == Some(&status) {
        return Ok(());
    }
    let uid = meta::uid(obj).to_string();
    store
        .modify(res, meta::namespace(obj), meta::name(obj), Part::All, |cur| {
            if meta::uid(cur) != uid {
                return Err(ApiError::internal("object was replaced"));
            }
            let mut next = cur.clone();
            meta::set(&mut next, &["status"], status);
            Ok(next)
        })
        .map(|_| ())
}
