//! The undo actions an entry carries: plain object operations on named objects, never
//! scenario code, so any binary can replay them.
//!
//! One file per kind (`delete`, `patch`, `list_item`, `recreate`, `remove_file`,
//! `stop_helper`, `lift_throttle`) holds
//! everything that kind answers: its summary, what stays when it never runs, its admission
//! rule, its requests, its by-hand kubectl lines, its before/after view and what it must wait
//! for. This file only dispatches, by exhaustive matches, so a new kind does not compile until
//! each answer is given. Which forward change each kind reverses, and the permissions both
//! send, is [`super::admissible`]'s. Must not decide whether an undo runs: the executor does.

mod delete;
mod display;
mod lift_throttle;
mod list_item;
mod patch;
mod recreate;
mod remove_file;
mod stop_helper;
mod written_by;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::placed_file::PlacedFile;
use crate::cluster::ClusterOps;
use crate::refs::{ObjectRef, object_ref_of};

pub use delete::ENTRY_LABEL;
pub use display::{BEFORE_AFTER, compact};
pub use recreate::creatable;
pub use stop_helper::{HELPER_CONTAINER, helper_pod_name};
pub use written_by::Author;

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
    /// Stop a fault chaosdeck's helper pod applied: the helper removes every rule tagged with
    /// the entry id (and reads the tables again), then the pod is deleted — exactly that pod:
    /// its uid once known, else its entry label. `fault` says what the rules do, for people.
    StopHelper {
        helper: ObjectRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<String>,
        tag: String,
        fault: String,
    },
    /// Lift the I/O limits Krkn's storage throttle left on a device of a pod's cgroup, through
    /// chaosdeck's helper on the node of Krkn's privileged pod, then delete that pod (Krkn's
    /// files only).
    LiftThrottle { pod: ObjectRef, device: String, cgroup_path: String, cgroup_version: String },
}

impl UndoAction {
    /// The object this action works on.
    pub fn target(&self) -> ObjectRef {
        match self {
            UndoAction::Delete { target, .. }
            | UndoAction::Patch { target, .. }
            | UndoAction::RemoveListItem { target, .. } => target.clone(),
            UndoAction::StopHelper { helper, .. } => helper.clone(),
            UndoAction::LiftThrottle { pod, .. } => pod.clone(),
            UndoAction::Create { object } => object_ref_of(object),
            UndoAction::RemoveFile { file } => remove_file::target(file),
        }
    }

    /// One line for lists: `delete NetworkPolicy demo/x`.
    pub fn summary(&self) -> String {
        match self {
            UndoAction::Delete { target, .. } => delete::summary(target),
            UndoAction::Patch { target, restore, .. } => patch::summary(target, restore),
            UndoAction::Create { object } => recreate::summary(object),
            UndoAction::RemoveListItem { target, path, item } => {
                list_item::summary(target, path, item)
            }
            UndoAction::RemoveFile { file } => file.summary(),
            UndoAction::StopHelper { helper, fault, .. } => stop_helper::summary(helper, fault),
            UndoAction::LiftThrottle { pod, device, cgroup_path, .. } => {
                lift_throttle::summary(pod, device, cgroup_path)
            }
        }
    }

    /// What stays in the cluster when this undo is never run (an entry marked executed by
    /// hand): `the NetworkPolicy demo/x stays in the cluster`.
    pub fn left_as_is(&self) -> String {
        match self {
            UndoAction::Delete { target, .. } => delete::left_as_is(target),
            UndoAction::Patch { target, .. } => patch::left_as_is(target),
            UndoAction::Create { object } => recreate::left_as_is(object),
            UndoAction::RemoveListItem { target, path, item } => {
                list_item::left_as_is(target, path, item)
            }
            UndoAction::RemoveFile { file } => remove_file::left_as_is(file),
            UndoAction::StopHelper { helper, fault, .. } => stop_helper::left_as_is(helper, fault),
            UndoAction::LiftThrottle { pod, device, .. } => lift_throttle::left_as_is(pod, device),
        }
    }

    /// The kind's own admission rule, once its kind and namespace are allowed: `fields` are
    /// the JSON pointers the forward change may touch.
    pub fn admit_kind(&self, fields: &[&str], author: Author) -> Result<(), String> {
        match self {
            UndoAction::Delete { target, uid, require_labels } => {
                delete::admit(target, uid, require_labels, author)
            }
            UndoAction::Patch { target, restore, guard } => {
                patch::admit(target, restore, guard, fields)
            }
            UndoAction::RemoveListItem { target, path, .. } => {
                list_item::admit(target, path, fields)
            }
            // The kind and namespace are the snapshot's own (`target` reads them from it), so
            // a snapshot cannot name one thing and be another.
            UndoAction::Create { .. } => Ok(()),
            UndoAction::RemoveFile { file } => remove_file::admit(file, author),
            UndoAction::StopHelper { helper, tag, .. } => stop_helper::admit(helper, tag, author),
            UndoAction::LiftThrottle { device, cgroup_path, cgroup_version, .. } => {
                lift_throttle::admit(device, cgroup_path, cgroup_version, author)
            }
        }
    }

    /// Sends the undo; `Ok(Some(note))` when it found the work already done or not ours.
    /// Admission is the caller's (the executor's), before anything is sent.
    pub(crate) async fn apply(&self, ops: &ClusterOps) -> Result<Option<String>, String> {
        match self {
            UndoAction::Delete { target, uid, require_labels } => {
                delete::apply(ops, target, uid, require_labels).await
            }
            UndoAction::Patch { target, restore, guard } => {
                patch::apply(ops, target, restore, guard).await
            }
            UndoAction::RemoveListItem { target, path, item } => {
                list_item::apply(ops, target, path, item).await
            }
            UndoAction::Create { object } => recreate::apply(ops, object).await,
            UndoAction::RemoveFile { file } => remove_file::apply(ops, file).await,
            UndoAction::StopHelper { helper, uid, tag, .. } => {
                stop_helper::apply(ops, helper, uid, tag).await
            }
            UndoAction::LiftThrottle { pod, device, cgroup_path, cgroup_version } => {
                lift_throttle::apply(ops, pod, device, cgroup_path, cgroup_version).await
            }
        }
    }

    /// Shell lines (comments included) that perform it with kubectl, for the current context.
    pub fn kubectl(&self) -> Vec<String> {
        match self {
            UndoAction::Delete { target, uid, require_labels } => {
                delete::kubectl(target, uid, require_labels)
            }
            UndoAction::Patch { target, restore, guard } => patch::kubectl(target, restore, guard),
            UndoAction::RemoveListItem { target, path, item } => {
                list_item::kubectl(target, path, item)
            }
            UndoAction::Create { object } => recreate::kubectl(object),
            UndoAction::RemoveFile { file } => remove_file::kubectl(file),
            UndoAction::StopHelper { helper, tag, .. } => stop_helper::kubectl(helper, tag),
            UndoAction::LiftThrottle { pod, device, cgroup_path, .. } => {
                lift_throttle::kubectl(pod, device, cgroup_path)
            }
        }
    }

    /// Its before/after lines, each part starting with [`BEFORE_AFTER`]; empty when it has no
    /// before and after worth showing (a delete removes what chaosdeck made; the summary
    /// already says so).
    pub fn before_after(&self) -> Vec<String> {
        match self {
            UndoAction::Patch { target, restore, guard } => {
                patch::before_after(target, restore, guard)
            }
            UndoAction::Create { object } => recreate::before_after(object),
            UndoAction::Delete { .. }
            | UndoAction::RemoveListItem { .. }
            | UndoAction::RemoveFile { .. }
            | UndoAction::StopHelper { .. }
            | UndoAction::LiftThrottle { .. } => Vec::new(),
        }
    }

    /// Objects besides its target that must exist before it runs (the scheduler orders it
    /// after their undos).
    pub fn relies_on(&self) -> Vec<ObjectRef> {
        match self {
            UndoAction::Create { object } => recreate::owners(object),
            UndoAction::Delete { .. }
            | UndoAction::Patch { .. }
            | UndoAction::RemoveListItem { .. }
            | UndoAction::RemoveFile { .. }
            | UndoAction::StopHelper { .. }
            | UndoAction::LiftThrottle { .. } => Vec::new(),
        }
    }

    /// The names it carries that a display must not show raw (control characters are
    /// replaced when an entry is shown). A snapshot is left out: its names are read from the
    /// object when shown, and it is created as written (the API server refuses a name with a
    /// control character); paths are checked when read.
    pub fn names_mut(&mut self) -> Vec<&mut String> {
        fn of(target: &mut ObjectRef) -> Vec<&mut String> {
            let mut out = vec![&mut target.api_version, &mut target.kind, &mut target.name];
            out.extend(target.namespace.as_mut());
            out
        }
        match self {
            UndoAction::Delete { target, .. } | UndoAction::Patch { target, .. } => of(target),
            UndoAction::StopHelper { helper, tag, fault, .. } => {
                let mut out = of(helper);
                out.extend([tag, fault]);
                out
            }
            UndoAction::LiftThrottle { pod, device, cgroup_path, cgroup_version } => {
                let mut out = of(pod);
                out.extend([device, cgroup_path, cgroup_version]);
                out
            }
            UndoAction::RemoveListItem { target, path, .. } => {
                let mut out = of(target);
                out.push(path);
                out
            }
            UndoAction::Create { .. } => Vec::new(),
            UndoAction::RemoveFile { file } => {
                let c = &mut file.container;
                let mut out = vec![&mut c.namespace, &mut c.pod, &mut c.container, &mut file.tag];
                out.extend(file.claim.as_mut());
                out
            }
        }
    }
}
