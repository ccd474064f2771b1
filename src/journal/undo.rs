//! The undo actions an entry carries: plain object operations on named objects, never
//! scenario code, so any binary can replay them. What each kind is the inverse of, and what
//! it may touch, is [`super::admissible`]'s; how it is applied, the executor's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::placed_file::PlacedFile;
use crate::refs::{ObjectRef, object_ref_of};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum UndoAction {
    /// Delete an object chaosdeck created. Only the exact object: its uid when known, otherwise
    /// an object carrying every label in `require_labels`; a same-named stranger is left alone.
    Delete {
        target: ObjectRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        require_labels: BTreeMap<String, String>,
    },
    /// Restore previous values with a JSON merge patch, but only while the object still holds
    /// the values chaosdeck set (`guard`, same shape as a merge patch): a human's later edit
    /// makes the undo fail loudly instead of being clobbered.
    Patch { target: ObjectRef, restore: Value, guard: Value },
    /// Re-create an object from the snapshot taken before chaosdeck deleted it.
    Create { object: Value },
    /// Remove one exact item from a list field (`path` is a JSON pointer such as
    /// `/spec/taints`), leaving every other item alone — including ones others added later.
    RemoveListItem { target: ObjectRef, path: String, item: Value },
    /// Remove a file chaosdeck allocated inside a container, through whichever pod mounts its
    /// claim then; only a file under the recorded mount whose name carries the tag.
    RemoveFile { file: PlacedFile },
}

impl UndoAction {
    /// The object this action works on.
    pub fn target(&self) -> ObjectRef {
        match self {
            UndoAction::Delete { target, .. }
            | UndoAction::Patch { target, .. }
            | UndoAction::RemoveListItem { target, .. } => target.clone(),
            UndoAction::Create { object } => object_ref_of(object),
            UndoAction::RemoveFile { file } => {
                let c = &file.container;
                ObjectRef::new("v1", "Pod", Some(&c.namespace), &c.pod)
            }
        }
    }

    /// One line for lists: `delete NetworkPolicy demo/x`.
    pub fn summary(&self) -> String {
        match self {
            UndoAction::Delete { target, .. } => format!("delete {}", target.display()),
            UndoAction::Patch { target, restore, .. } => {
                format!("patch {} back to {}", target.display(), compact(restore))
            }
            UndoAction::Create { object } => {
                format!("re-create {}", object_ref_of(object).display())
            }
            UndoAction::RemoveListItem { target, path, item } => {
                format!("remove {} from {path} of {}", compact(item), target.display())
            }
            UndoAction::RemoveFile { file } => file.summary(),
        }
    }

    /// What stays in the cluster when this undo is never run (an entry marked executed by
    /// hand): `the NetworkPolicy demo/x stays in the cluster`.
    pub fn left_as_is(&self) -> String {
        match self {
            UndoAction::Delete { target, .. } => {
                format!("the {} stays in the cluster", target.display())
            }
            UndoAction::Patch { target, .. } => {
                format!("{} keeps the chaos change", target.display())
            }
            UndoAction::Create { object } => {
                format!("{} stays deleted", object_ref_of(object).display())
            }
            UndoAction::RemoveListItem { target, path, item } => {
                format!("{} stays in {path} of {}", compact(item), target.display())
            }
            UndoAction::RemoveFile { file } => {
                let on = file
                    .claim
                    .as_ref()
                    .map(|c| format!("claim {c}"))
                    .unwrap_or_else(|| format!("the volume of {}", file.container.display()));
                format!("{} stays on {on}, taking its space", file.path)
            }
        }
    }
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

pub(crate) fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
