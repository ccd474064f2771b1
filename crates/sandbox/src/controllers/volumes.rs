//! The volume binder's stand-in: a claim is bound at once to a volume of exactly the size it
//! requests, as a dynamic provisioner with an immediate binding mode would do.
//!
//! Owns: `spec.volumeName` and `status` (phase, access modes, capacity) of claims. Must not
//! model PersistentVolumes themselves; the claim is what chaos and its undo look at.

use serde_json::{Value, json};

use crate::meta;
use crate::resources as r;
use crate::status::ApiError;
use crate::store::{Part, Store};

/// Binds every claim of `ns` that is not bound yet.
pub fn bind(store: &Store, ns: &str) -> Result<(), ApiError> {
    let (claims, _) = store.list(r::PVCS, Some(ns));
    for claim in claims {
        if meta::str_at(&claim, &["status", "phase"]) == Some("Bound") || meta::is_deleting(&claim)
        {
            continue;
        }
        let uid = meta::uid(&claim).to_string();
        let volume = format!("pvc-{uid}");
        let modes = meta::at(&claim, &["spec", "accessModes"]).cloned().unwrap_or(json!([]));
        let size = meta::at(&claim, &["spec", "resources", "requests", "storage"])
            .cloned()
            .unwrap_or(Value::Null);
        store.modify(r::PVCS, ns, meta::name(&claim), Part::All, |cur| {
            if meta::uid(cur) != uid {
                return Err(ApiError::internal("object was replaced"));
            }
            let mut next = cur.clone();
            meta::set(&mut next, &["spec", "volumeName"], json!(volume));
            meta::set(
                &mut next,
                &["status"],
                json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": size}}),
            );
            Ok(next)
        })?;
    }
    Ok(())
}
