//! The cluster requests of each undo action: the one loop that applies them, for chaosdeck's
//! entries and Krkn's alike.

use std::time::Duration;

use serde_json::Value;

use super::super::admissible::Author;
use super::super::admissible::admit_all;
use super::super::patch_guard::{first_mismatch, guarded_json_patch, shape};
use crate::cluster::{ClusterOps, DeleteOutcome};
use crate::journal::entry::{Entry, ObjectRef, UndoAction};

/// Why an entry's undo was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unapplied {
    /// An action is not the inverse of a change chaos makes ([`admit`](crate::journal::admissible::admit)): nothing
    /// was sent, and trying again will not change that.
    Refused(String),
    /// Sent, and at least one action failed (every one was attempted).
    Failed(String),
}

impl std::fmt::Display for Unapplied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unapplied::Refused(why) | Unapplied::Failed(why) => f.write_str(why),
        }
    }
}

/// Applies every action of a chaosdeck entry once all are admissible; Ok with notes.
pub async fn apply_entry(ops: &ClusterOps, entry: &Entry) -> Result<Vec<String>, Unapplied> {
    admit_all(&entry.undo, Author::Chaosdeck, ops.protected()).map_err(Unapplied::Refused)?;
    apply_actions(ops, &entry.undo, Vec::new(), Vec::new()).await
}

/// The one loop that applies undo actions, for chaosdeck's entries and Krkn's alike (their
/// admission checked by the caller).
pub(super) async fn apply_actions(
    ops: &ClusterOps,
    actions: &[UndoAction],
    mut notes: Vec<String>,
    mut errors: Vec<String>,
) -> Result<Vec<String>, Unapplied> {
    for action in actions {
        match apply_action(ops, action).await {
            Ok(Some(note)) => notes.push(note),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(notes) } else { Err(Unapplied::Failed(errors.join("; "))) }
}

/// One action; `Ok(Some(note))` when it found the work already done or not ours.
async fn apply_action(ops: &ClusterOps, action: &UndoAction) -> Result<Option<String>, String> {
    match action {
        // The uid names exactly the object chaosdeck created, so one DELETE carrying it as a
        // precondition is the whole undo: the API server answers 404 (already gone) or 409
        // (another object holds the name now). `require_labels` only stands in for the uid when
        // it was never recorded (a crash between the write-ahead entry and the create).
        UndoAction::Delete { target, uid: Some(uid), .. } if !uid.is_empty() => {
            match ops.delete_exact(target, uid).await.map_err(|e| e.to_string())? {
                DeleteOutcome::Deleted => Ok(None),
                DeleteOutcome::NotFound => Ok(Some(format!("{} already gone", target.display()))),
                DeleteOutcome::NotOurs(why) => Ok(Some(format!("{why}; left alone"))),
            }
        }
        // Nothing to check (a Krkn file names the object and nothing else): one DELETE by
        // name, what Krkn itself sends; a GET first would only double the round trips.
        UndoAction::Delete { target, require_labels, .. } if require_labels.is_empty() => {
            match ops.delete_named(target).await.map_err(|e| e.to_string())? {
                DeleteOutcome::NotFound => Ok(Some(format!("{} already gone", target.display()))),
                DeleteOutcome::Deleted | DeleteOutcome::NotOurs(_) => Ok(None),
            }
        }
        // Without a uid the labels must be read first. A deletecollection filtered by the labels
        // and the name would be one request, but the API server lists and then deletes by name
        // without a uid precondition, so a same-named stranger created in between could go.
        UndoAction::Delete { target, require_labels, .. } => {
            let Some(current) = ops.get(target).await.map_err(|e| e.to_string())? else {
                return Ok(Some(format!("{} already gone", target.display())));
            };
            let current_uid = current.metadata.uid.clone().unwrap_or_default();
            let labels = current.metadata.labels.clone().unwrap_or_default();
            if let Some((k, v)) = require_labels.iter().find(|(k, v)| labels.get(*k) != Some(*v)) {
                return Ok(Some(format!(
                    "{} does not carry {k}={v}, so it is not the object chaosdeck created; left alone",
                    target.display()
                )));
            }
            match ops.delete_exact(target, &current_uid).await.map_err(|e| e.to_string())? {
                DeleteOutcome::Deleted => Ok(None),
                DeleteOutcome::NotFound => Ok(Some(format!("{} already gone", target.display()))),
                DeleteOutcome::NotOurs(why) => Ok(Some(format!("{why}; left alone"))),
            }
        }
        UndoAction::Patch { target, restore, guard } => {
            if let Some(patch) = guarded_json_patch(restore, guard) {
                let patch: json_patch::Patch = serde_json::from_value(Value::Array(patch))
                    .map_err(|e| format!("{}: internal: bad JSON patch: {e}", target.display()))?;
                match ops.json_patch(target, patch).await {
                    Ok(_) => return Ok(None),
                    Err(e) if e.code() == Some(404) => {
                        return Ok(Some(format!(
                            "{} is gone; nothing to restore",
                            target.display()
                        )));
                    }
                    // 422: a test failed or the object has another shape; nothing was changed.
                    // The read below says why, in the same words as without the fast path.
                    Err(e) if e.code() == Some(422) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            restore_by_merge(ops, target, restore, guard).await
        }
        UndoAction::RemoveListItem { target, path, item } => {
            let Some(current) = ops.get(target).await.map_err(|e| e.to_string())? else {
                return Ok(Some(format!("{} is gone; nothing to remove", target.display())));
            };
            let current = serde_json::to_value(&current).map_err(|e| e.to_string())?;
            let list = match list_at(&current, path) {
                ListAt::List(list) => list,
                ListAt::FieldAbsent => {
                    return Ok(Some(format!(
                        "{} has no {path} any more, so not that item either",
                        target.display()
                    )));
                }
                ListAt::WrongShape(why) => {
                    return Err(format!(
                        "{}: {why}; the object does not have the shape this entry was written \
                         for, so it is not marked undone — check it by hand",
                        target.display()
                    ));
                }
            };
            let Some(index) = list.iter().position(|v| v == item) else {
                return Ok(Some(format!("{} no longer has that item in {path}", target.display())));
            };
            // `test` makes the removal conditional: if the list moved meanwhile, nothing else
            // is removed by mistake and the undo fails, to be retried.
            // Removing the only item removes the field, so the object reads as it did before.
            let only = list.len() == 1;
            let remove_path = if only { path.clone() } else { format!("{path}/{index}") };
            let ops_json = serde_json::json!([
                {"op": "test", "path": format!("{path}/{index}"), "value": item},
                {"op": "remove", "path": remove_path},
            ]);
            let patch: json_patch::Patch =
                serde_json::from_value(ops_json).map_err(|e| e.to_string())?;
            ops.json_patch(target, patch).await.map_err(|e| e.to_string())?;
            Ok(None)
        }
        UndoAction::Create { object } => recreate(ops, object).await,
        UndoAction::RemoveFile { file } => super::remove_file::remove(ops, file).await,
    }
}

/// Reads the object, then merge-patches it at the version read: the undo of a patch when its
/// guarded JSON Patch cannot be expressed or did not apply. Tells "already restored" (a note)
/// from "changed by a human" (an error naming the path and what it holds).
async fn restore_by_merge(
    ops: &ClusterOps,
    target: &ObjectRef,
    restore: &Value,
    guard: &Value,
) -> Result<Option<String>, String> {
    let Some(current) = ops.get(target).await.map_err(|e| e.to_string())? else {
        return Ok(Some(format!("{} is gone; nothing to restore", target.display())));
    };
    let current = serde_json::to_value(&current).map_err(|e| e.to_string())?;
    if first_mismatch(restore, &current, "").is_none() {
        return Ok(Some(format!("{} already restored", target.display())));
    }
    if let Some(mismatch) = first_mismatch(guard, &current, "") {
        return Err(format!(
            "{} was changed after chaosdeck set it ({mismatch} no longer holds the value \
             chaosdeck set); not overwriting that edit — restore by hand or mark the entry \
             executed",
            target.display()
        ));
    }
    // Optimistic concurrency: the patch applies only to the version just checked.
    let mut patch = restore.clone();
    if let (Some(map), Some(rv)) =
        (patch.as_object_mut(), current.pointer("/metadata/resourceVersion"))
    {
        let meta = map.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("resourceVersion".into(), rv.clone());
        }
    }
    ops.merge_patch(target, &patch).await.map_err(|e| e.to_string())?;
    Ok(None)
}

/// What a JSON pointer finds where an entry expects a list.
enum ListAt<'v> {
    List(&'v Vec<Value>),
    /// The parent object is there without the field: Kubernetes drops an empty list (a node's
    /// `spec.taints` once its last taint is removed), so the item is gone.
    FieldAbsent,
    /// Anything else (the parent is missing or not an object, the field is not a list): the
    /// path does not fit this object, and "gone" would be a guess. Not counted as done.
    WrongShape(String),
}

fn list_at<'v>(object: &'v Value, path: &str) -> ListAt<'v> {
    match object.pointer(path) {
        Some(Value::Array(list)) => return ListAt::List(list),
        Some(other) => {
            return ListAt::WrongShape(format!(
                "{path} is {} where a list was expected",
                shape(other)
            ));
        }
        None => {}
    }
    let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    match object.pointer(parent) {
        Some(Value::Object(_)) => ListAt::FieldAbsent,
        Some(other) => ListAt::WrongShape(format!(
            "{} is {} where an object holding {path} was expected",
            if parent.is_empty() { "the object" } else { parent },
            shape(other)
        )),
        None => ListAt::WrongShape(format!("{parent} does not exist, so {path} cannot be checked")),
    }
}

/// How long a re-create waits for a same-named object that is still terminating.
const TERMINATING_PATIENCE: Duration = Duration::from_secs(60);

/// Creates the snapshot; an existing object counts as done unless it is still being deleted
/// (the one chaosdeck deleted, in its grace period), which is waited out.
async fn recreate(ops: &ClusterOps, object: &Value) -> Result<Option<String>, String> {
    let target = crate::journal::entry::object_ref_of(object);
    // Older or hand-written snapshots may still carry server-owned fields.
    let object = &crate::journal::entry::creatable(object);
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
