//! The undo of a delete: re-create the object from the snapshot taken before chaosdeck deleted
//! it, after its owners (they are re-created first) and after a same-named object still in its
//! grace period is gone. Shown as the object it will create, in YAML.

use std::time::Duration;

use serde_json::Value;

use super::display::{BEFORE_AFTER, compact};
use crate::cluster::ClusterOps;
use crate::journal::shell::shell_quote;
use crate::refs::{ObjectRef, object_ref_of};

/// How long a re-create waits for a same-named object that is still terminating.
const TERMINATING_PATIENCE: Duration = Duration::from_secs(60);

pub(super) fn summary(object: &Value) -> String {
    format!("re-create {}", object_ref_of(object).display())
}

pub(super) fn left_as_is(object: &Value) -> String {
    format!("{} stays deleted", object_ref_of(object).display())
}

/// A snapshot as it can be created again: without the fields the server owns.
pub fn creatable(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            meta.remove(key);
        }
    }
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    object
}

/// The objects the snapshot's ownerReferences name, in its namespace (the scheduler drops
/// the namespace of cluster-scoped kinds): they must exist before it is re-created with its
/// references.
pub(super) fn owners(object: &Value) -> Vec<ObjectRef> {
    let ns = object.pointer("/metadata/namespace").and_then(Value::as_str);
    let owners = object.pointer("/metadata/ownerReferences").and_then(Value::as_array);
    owners
        .into_iter()
        .flatten()
        .map(|owner| {
            let field = |f: &str| owner.get(f).and_then(Value::as_str).unwrap_or_default();
            ObjectRef::new(field("apiVersion"), field("kind"), ns, field("name"))
        })
        .collect()
}

/// Creates the snapshot; an existing object counts as done unless it is still being deleted
/// (the one chaosdeck deleted, in its grace period), which is waited out.
pub(super) async fn apply(ops: &ClusterOps, object: &Value) -> Result<Option<String>, String> {
    let target = object_ref_of(object);
    // Older or hand-written snapshots may still carry server-owned fields.
    let object = &creatable(object);
    let deadline = std::time::Instant::now() + TERMINATING_PATIENCE;
    loop {
        if ops.create(object).await.map_err(|e| e.to_string())?.is_some() {
            return Ok(None);
        }
        let terminating = match ops.get(&target).await.map_err(|e| e.to_string())? {
            Some(o) => o.metadata.deletion_timestamp.is_some(),
            // It finished terminating between the 409 and this read: create again after a
            // short pause (not at once: a server that keeps answering 409 to the create and
            // 404 to the read would otherwise be sent requests back to back until the deadline).
            None if std::time::Instant::now() <= deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            None => {
                return Err(format!(
                    "{} answers 409 AlreadyExists to the create but cannot be read; run \
                     execute-rollback again",
                    target.display()
                ));
            }
        };
        if !terminating {
            return Ok(Some(format!(
                "{} already exists (re-created by its controller or by hand)",
                target.display()
            )));
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{} is still terminating after {} s; run execute-rollback again once it is gone",
                target.display(),
                TERMINATING_PATIENCE.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(super) fn kubectl(object: &Value) -> Vec<String> {
    vec![format!("kubectl create -f - <<< {}", shell_quote(&compact(&creatable(object))))]
}

pub(super) fn before_after(object: &Value) -> Vec<String> {
    let mut out = vec![format!("{BEFORE_AFTER}re-create {}:", object_ref_of(object).display())];
    match serde_saphyr::to_string(&creatable(object)) {
        Ok(yaml) => out.extend(yaml.lines().map(|l| format!("    {l}"))),
        Err(e) => out.push(format!("    (cannot show the object as YAML: {e})")),
    }
    out
}
