//! The link from an entry to its mirror in the cluster (the dead man's switch): whoever retires
//! or executes a mirrored entry removes the mirror too, so the watchdog never acts on a change
//! that is already undone.
//!
//! Owns: removing a mirror by the reference its entry carries. The mirror's format, and the
//! watchdog that reads it, live in `deadman`.

use crate::cluster::{ClusterOps, DeleteOutcome};

use super::entry::{MirrorRef, ObjectRef, UndoneBy};

/// Label every mirror carries (value [`MIRROR_LABEL_VALUE`]); nothing without it is removed.
pub const MIRROR_LABEL: &str = "chaosdeck.io/mirror";
pub const MIRROR_LABEL_VALUE: &str = "entry";
/// `pending`, `executed` or `failed`.
pub const STATE_LABEL: &str = "chaosdeck.io/state";
pub const UNDONE_BY_ANNOTATION: &str = "chaosdeck.io/undone-by";
pub const UNDONE_AT_ANNOTATION: &str = "chaosdeck.io/undone-at";
/// What the last attempt found (notes, or the error of a failed undo).
pub const OUTCOME_ANNOTATION: &str = "chaosdeck.io/outcome";

pub fn object_ref(mirror: &MirrorRef) -> ObjectRef {
    ObjectRef::new("v1", "ConfigMap", Some(&mirror.namespace), &mirror.name)
}

/// Who undid the entry from its mirror (the watchdog), if the mirror says it was undone.
/// Anything else — no mirror, not a mirror, not executed, unreadable — is `None`: the executor
/// then undoes the entry itself, which the guards make safe either way.
pub async fn undone_by(ops: &ClusterOps, mirror: &MirrorRef) -> Option<UndoneBy> {
    let current = ops.get(&object_ref(mirror)).await.ok()??;
    let labels = current.metadata.labels.clone().unwrap_or_default();
    if labels.get(MIRROR_LABEL).map(String::as_str) != Some(MIRROR_LABEL_VALUE)
        || labels.get(STATE_LABEL).map(String::as_str) != Some("executed")
    {
        return None;
    }
    let annotations = current.metadata.annotations.clone().unwrap_or_default();
    Some(UndoneBy {
        by: annotations.get(UNDONE_BY_ANNOTATION)?.clone(),
        at: annotations.get(UNDONE_AT_ANNOTATION)?.clone(),
        notes: annotations.get(OUTCOME_ANNOTATION).cloned().unwrap_or_default(),
    })
}

/// Removes the mirror of an entry that is done. Gone already is fine; an object of that name
/// without the mirror label is left alone. Best effort by design: a mirror left behind only
/// means the watchdog may replay an undo, which the entry's guards make harmless.
pub async fn retire(ops: &ClusterOps, mirror: &MirrorRef) -> Result<(), String> {
    let target = object_ref(mirror);
    let Some(current) = ops.get(&target).await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let labels = current.metadata.labels.clone().unwrap_or_default();
    if labels.get(MIRROR_LABEL).map(String::as_str) != Some(MIRROR_LABEL_VALUE) {
        return Err(format!(
            "{} does not carry {MIRROR_LABEL}={MIRROR_LABEL_VALUE}; not removed",
            target.display()
        ));
    }
    let uid = current.metadata.uid.clone().unwrap_or_default();
    match ops.delete_exact(&target, &uid).await.map_err(|e| e.to_string())? {
        DeleteOutcome::Deleted | DeleteOutcome::NotFound => Ok(()),
        DeleteOutcome::NotOurs(why) => Err(why),
    }
}
