//! Every change a scenario makes: the six verbs (`create`, `patch`, `add_list_item`,
//! `delete`, `fill_file`, `start_helper`), each a thin wrapper that says what its request and its undo are, and the
//! write-ahead protocol they share, written once ([`ScenarioCtx::change`]): declared, not
//! paused, stopped, read-only or protected; the entry durable and mirrored before the request;
//! a refused request retires its entry as not applied; a made change pinned to what the
//! cluster answered, then counted.
//!
//! Owns: each verb's request and undo, the order of the protocol's steps and the wording of a
//! refusal. `change` itself knows no verb: each wrapper passes its request and undo in, so a
//! new verb cannot skip a step. Must not read or write journal files except through the
//! [`InFlight`] change it holds.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use kube::api::DynamicObject;
use serde_json::{Value, json};

use super::{Change, Failpoint, SLOW_CHANGE, ScenarioCtx};
use crate::cluster::OpError;
use crate::cluster::exec::{ContainerPath, ContainerTarget, ExecCommand, ExecError, ExecOutput};
use crate::journal::entry::{ENTRY_LABEL, creatable, object_ref_of};
use crate::journal::placed_file::PlacedFile;
use crate::journal::undo::helper_pod_name;
use crate::journal::writer::InFlight;
use crate::journal::{Context, EntryDraft, ObjectRef, UndoAction, WrittenEntry};
use crate::scenarios::error::ScenarioError;
use crate::scenarios::event::ScenarioEvent;
use crate::scenarios::needs::{Forward, Op};

/// Which change [`ScenarioCtx::change`] makes, on what, and how its refusal is worded.
struct ChangeSpec<'a> {
    forward: Forward,
    target: &'a ObjectRef,
    step: &'a str,
    /// The request's verb in "the API server refused the <verb>".
    verb: &'static str,
}

/// How the API server answered a forward request that was not an error.
enum Answer<T> {
    /// The change was made; `T` is what the server returned.
    Made(T),
    /// An answer proving nothing changed (an object that already exists, a uid precondition
    /// that failed, a target that is gone): why.
    NotMade(String),
}

/// How long one `fallocate` may take: it reserves blocks without writing them, so seconds are
/// plenty even for gigabytes; a container that does not answer leaves the entry pending.
const FILL_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The name of the file a fill allocates: it carries the entry id, which is what its undo
/// removes by.
pub fn fill_file_name(entry_id: &str) -> String {
    format!("chaosdeck-fill-{entry_id}.tmp")
}

/// For changes whose entry needs nothing from the cluster's answer.
fn no_pin<T>(_: &T) -> Option<fn(&mut crate::journal::Entry)> {
    None
}

fn made_change(target: ObjectRef, made: Option<(DynamicObject, Option<WrittenEntry>)>) -> Change {
    match made {
        None => Change { target, written: None, object: None },
        Some((object, written)) => {
            Change { target, written, object: serde_json::to_value(&object).ok() }
        }
    }
}

impl ScenarioCtx {
    /// Creates `object` (labels added); the entry that deletes it is on disk first.
    pub async fn create(&self, step: &str, object: Value) -> Result<Change, ScenarioError> {
        let target = object_ref_of(&object);
        let would =
            || format!("dry run: would create {} ({step}); entry: delete it", target.display());
        let undo = |id: &str| {
            vec![UndoAction::Delete {
                target: target.clone(),
                uid: None,
                require_labels: BTreeMap::from([(ENTRY_LABEL.to_string(), id.to_string())]),
            }]
        };
        let request = async |id: &str| {
            let object = self.labelled(object.clone(), id);
            self.create_or_refused(&object, &target, "make that object").await
        };
        // Pin the undo to this exact object now that the cluster has given it a uid: the mirror
        // without it still deletes only the labelled object; with it, the watchdog's undo is
        // one exact request like the executor's.
        let pin = |created: &DynamicObject| {
            created.metadata.uid.clone().map(|uid| {
                move |e: &mut crate::journal::Entry| {
                    if let Some(UndoAction::Delete { uid: slot, .. }) = e.undo.first_mut() {
                        *slot = Some(uid);
                    }
                }
            })
        };
        let spec = ChangeSpec { forward: Forward::Create, target: &target, step, verb: "create" };
        match self.change(spec, would, Some(undo), request, pin).await? {
            None => Ok(Change { target, written: None, object: Some(object) }),
            Some((created, written)) => {
                Ok(Change { target, written, object: serde_json::to_value(&created).ok() })
            }
        }
    }

    /// Merge-patches `target` with `set`; the entry restores `restore` guarded by `set`.
    pub async fn patch(
        &self,
        step: &str,
        target: ObjectRef,
        set: Value,
        restore: Value,
    ) -> Result<Change, ScenarioError> {
        let would = || {
            format!(
                "dry run: would patch {} with {set} ({step}); entry: restore {restore}",
                target.display()
            )
        };
        let undo = |_: &str| {
            vec![UndoAction::Patch {
                target: target.clone(),
                restore: restore.clone(),
                guard: set.clone(),
            }]
        };
        let request = async |_: &str| Ok(Answer::Made(self.ops.merge_patch(&target, &set).await?));
        let spec = ChangeSpec { forward: Forward::Patch, target: &target, step, verb: "patch" };
        let made = self.change(spec, would, Some(undo), request, no_pin).await?;
        Ok(made_change(target, made))
    }

    /// Appends `item` to the list at `path` (JSON pointer); the entry removes exactly that item.
    pub async fn add_list_item(
        &self,
        step: &str,
        target: ObjectRef,
        path: &str,
        item: Value,
    ) -> Result<Change, ScenarioError> {
        let would =
            || format!("dry run: would add {item} to {path} of {} ({step})", target.display());
        let undo = |_: &str| {
            vec![UndoAction::RemoveListItem {
                target: target.clone(),
                path: path.to_string(),
                item: item.clone(),
            }]
        };
        // The list is read after the entry is written and the pause is over: what is patched
        // is what is there now.
        let request = async |_: &str| {
            // Nothing is sent before this read: if it fails, the change was not made.
            let current = match self.ops.get(&target).await {
                Ok(Some(current)) => current,
                Ok(None) => return Ok(Answer::NotMade(format!("{} not found", target.display()))),
                Err(e) => {
                    return Ok(Answer::NotMade(format!(
                        "reading {} before the patch failed, so no patch was sent: {e}",
                        target.display()
                    )));
                }
            };
            let has_list = serde_json::to_value(&current)
                .ok()
                .and_then(|v| v.pointer(path).map(Value::is_array))
                .unwrap_or(false);
            let op = if has_list {
                json!([{"op": "add", "path": format!("{path}/-"), "value": item}])
            } else {
                json!([{"op": "add", "path": path, "value": [item]}])
            };
            let patch: json_patch::Patch =
                serde_json::from_value(op).map_err(|e| OpError::Invalid(e.to_string()))?;
            Ok(Answer::Made(self.ops.json_patch(&target, patch).await?))
        };
        let spec =
            ChangeSpec { forward: Forward::AddListItem, target: &target, step, verb: "patch" };
        let made = self.change(spec, would, Some(undo), request, no_pin).await?;
        Ok(made_change(target, made))
    }

    /// Deletes `target`; when `snapshot` is given (an object nothing would re-create), the entry
    /// re-creates it from that snapshot.
    pub async fn delete(
        &self,
        step: &str,
        target: ObjectRef,
        uid: &str,
        snapshot: Option<Value>,
        grace: Option<i64>,
    ) -> Result<Change, ScenarioError> {
        let would = || {
            let entry = if snapshot.is_some() {
                "entry: re-create it from a snapshot"
            } else {
                "no entry (its controller re-creates it)"
            };
            format!("dry run: would delete {} ({step}); {entry}", target.display())
        };
        // A pod its controller re-creates needs no entry.
        let undo = snapshot
            .as_ref()
            .map(|object| move |_: &str| vec![UndoAction::Create { object: creatable(object) }]);
        let request = async |_: &str| {
            Ok(match self.ops.delete_with_grace(&target, uid, grace).await? {
                // 409 on the uid precondition: nothing was deleted.
                crate::cluster::DeleteOutcome::NotOurs(why) => {
                    Answer::NotMade(format!("the API server refused the delete (HTTP 409): {why}"))
                }
                _ => Answer::Made(()),
            })
        };
        let spec = ChangeSpec { forward: Forward::Delete, target: &target, step, verb: "delete" };
        let made = self.change(spec, would, undo, request, no_pin).await?;
        Ok(Change { target, written: made.and_then(|(_, written)| written), object: None })
    }

    /// Allocates `bytes` in a new file under `mount_path` of `container` (`fallocate` through
    /// exec). The entry that removes exactly that file — its name carries the entry id, and the
    /// entry names the pod's uid, the container and the claim — is durable and mirrored before
    /// the exec is sent. Returns the program's output (None in a dry run): a non-zero exit
    /// still counts as made, since `fallocate` leaves an empty file behind when it fails.
    pub async fn fill_file(
        &self,
        step: &str,
        container: &ContainerTarget,
        claim: Option<&str>,
        mount_path: &ContainerPath,
        bytes: u64,
    ) -> Result<(Change, Option<ExecOutput>), ScenarioError> {
        let target = ObjectRef::new("v1", "Pod", Some(&container.namespace), &container.pod);
        let would = || {
            // A dry run does not measure, so it does not know the size.
            let size = if bytes == 0 { "the fill".to_string() } else { format!("{bytes} bytes") };
            format!(
                "dry run: would allocate {size} in {mount_path} of {} ({step}); entry: remove \
                 that file",
                container.display()
            )
        };
        let placed = |id: &str| -> Result<PlacedFile, String> {
            Ok(PlacedFile {
                container: container.clone(),
                claim: claim.map(str::to_string),
                mount_path: mount_path.clone(),
                path: mount_path.join(&fill_file_name(id))?,
                tag: id.to_string(),
                bytes,
            })
        };
        // An id that makes no valid file name leaves the entry without an action; the request
        // below then refuses, so the entry is retired as not applied.
        let undo = |id: &str| placed(id).map(|file| vec![UndoAction::RemoveFile { file }]);
        let undo = |id: &str| undo(id).unwrap_or_default();
        let request = async |id: &str| {
            let file = match placed(id) {
                Ok(file) => file,
                Err(why) => return Ok(Answer::NotMade(why)),
            };
            let command = ExecCommand::allocate(file.path.clone(), bytes);
            match self.ops.exec(container, &command, FILL_LIMIT).await {
                Ok((_, out)) => Ok(Answer::Made(out)),
                Err(ExecError::Op(e)) => Err(*e),
                // Sent, and no answer: the file may exist.
                Err(e @ (ExecError::TimedOut { .. } | ExecError::Failed { .. })) => {
                    Err(OpError::Api {
                        target: target.display(),
                        verb: "exec",
                        code: None,
                        message: e.to_string(),
                    })
                }
                // Checked before sending (the pod, its container, the program): not made.
                Err(e) => Ok(Answer::NotMade(e.to_string())),
            }
        };
        let spec = ChangeSpec { forward: Forward::FillFile, target: &target, step, verb: "exec" };
        let made = self.change(spec, would, Some(undo), request, no_pin).await?;
        let (out, written) = match made {
            Some((out, written)) => (Some(out), written),
            None => (None, None),
        };
        Ok((Change { target, written, object: None }, out))
    }

    /// Starts chaosdeck's helper pod in `ns`: `pod` builds it from the entry id, which names
    /// the pod (`chaosdeck-helper-<id>`) and tags every rule the helper applies. The entry that
    /// stops it — the helper removes the tagged rules and reads the tables again, then the pod
    /// is deleted — is durable and mirrored before the create, and pinned to the pod's uid
    /// after it. `fault` says what the helper does (given the entry id), for people.
    pub async fn start_helper(
        &self,
        step: &str,
        ns: &str,
        fault: impl Fn(&str) -> String,
        pod: impl Fn(&str) -> Value,
    ) -> Result<Change, ScenarioError> {
        let placeholder = ObjectRef::new("v1", "Pod", Some(ns), "chaosdeck-helper");
        let named = |id: &str| ObjectRef::new("v1", "Pod", Some(ns), &helper_pod_name(id));
        let would = || {
            format!(
                "dry run: would start a helper pod in {ns} to apply {} ({step}); entry: stop it",
                fault("<entry id>")
            )
        };
        let undo = |id: &str| {
            vec![UndoAction::StopHelper {
                helper: named(id),
                uid: None,
                tag: id.to_string(),
                fault: fault(id),
            }]
        };
        let request = async |id: &str| {
            let mut object = pod(id);
            if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("name".into(), Value::String(helper_pod_name(id)));
                meta.insert("namespace".into(), Value::String(ns.to_string()));
            }
            let object = self.labelled(object, id);
            self.create_or_refused(&object, &named(id), "start that helper").await
        };
        let pin = |created: &DynamicObject| {
            created.metadata.uid.clone().map(|uid| {
                move |e: &mut crate::journal::Entry| {
                    if let Some(UndoAction::StopHelper { uid: slot, .. }) = e.undo.first_mut() {
                        *slot = Some(uid);
                    }
                }
            })
        };
        let spec = ChangeSpec {
            forward: Forward::StartHelper,
            target: &placeholder,
            step,
            verb: "create",
        };
        match self.change(spec, would, Some(undo), request, pin).await? {
            None => Ok(Change { target: placeholder, written: None, object: None }),
            Some((created, written)) => {
                let target = ObjectRef::new(
                    "v1",
                    "Pod",
                    Some(ns),
                    created.metadata.name.as_deref().unwrap_or_default(),
                );
                Ok(Change { target, written, object: serde_json::to_value(&created).ok() })
            }
        }
    }

    /// `object` carrying the labels of entry `id` (its own labels kept).
    fn labelled(&self, mut object: Value, id: &str) -> Value {
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            let existing = meta.entry("labels").or_insert_with(|| json!({}));
            if let Some(map) = existing.as_object_mut() {
                for (k, v) in self.labels(id) {
                    map.insert(k, Value::String(v));
                }
            }
        }
        object
    }

    /// Creates `object`; an HTTP 409 is an answer, not an error: the change was not made
    /// (`what` says what chaosdeck therefore did not do).
    async fn create_or_refused(
        &self,
        object: &Value,
        target: &ObjectRef,
        what: &str,
    ) -> Result<Answer<DynamicObject>, OpError> {
        Ok(match self.ops.create(object).await? {
            Some(created) => Answer::Made(created),
            None => Answer::NotMade(format!(
                "{} already exists (HTTP 409 AlreadyExists): the API server refused the create, \
                 so chaosdeck did not {what}",
                target.display()
            )),
        })
    }

    /// The write-ahead protocol, written once for every change: the operation must be declared
    /// and the run not paused, stopped, read-only or in a protected namespace; a dry run says
    /// what it would do (`would`) and sends nothing (`None`). Otherwise the undo (`undo`, given
    /// the entry's id, which `request` gets too; `None` when the change needs no entry) is
    /// journaled durably and mirrored
    /// before `request` is sent. A request refused outright, or answered [`Answer::NotMade`],
    /// retires the entry as not applied. A made change may `pin` its entry to what the cluster
    /// answered (a uid) before any executor can take it; only then does it count
    /// (failpoints, pace). Returns the answer and the entry.
    async fn change<T, P>(
        &self,
        spec: ChangeSpec<'_>,
        would: impl FnOnce() -> String,
        undo: Option<impl FnOnce(&str) -> Vec<UndoAction>>,
        request: impl AsyncFnOnce(&str) -> Result<Answer<T>, OpError>,
        pin: impl FnOnce(&T) -> Option<P>,
    ) -> Result<Option<(T, Option<WrittenEntry>)>, ScenarioError>
    where
        P: FnOnce(&mut crate::journal::Entry),
    {
        let ChangeSpec { forward, target, step, verb } = spec;
        self.permit_ref(Op::Change(forward), target)?;
        self.before_change(target).await?;
        if self.dry_run {
            self.log(would());
            return Ok(None);
        }
        let (id, mut in_flight) = match undo {
            Some(undo) => {
                let ctx = self.context_or_begin()?;
                let name = ctx.mint(&self.scenario_type);
                let id = name.id();
                let actions = undo(&id);
                (id, Some(self.write(&ctx, name, step, actions).await?))
            }
            None => (String::new(), None),
        };
        let answer = request(&id).await;
        let made = match (answer, &in_flight) {
            (Ok(Answer::Made(made)), _) => made,
            (Ok(Answer::NotMade(why)), Some((written, held))) => {
                self.not_applied(held, written, &why).await?;
                return Err(ScenarioError::Failed(why));
            }
            (Ok(Answer::NotMade(why)), None) => return Err(ScenarioError::Failed(why)),
            (Err(e), Some((written, held))) => {
                return Err(self.refused(held, written, verb, e).await);
            }
            (Err(e), None) => return Err(e.into()),
        };
        let mut repin = false;
        if let Some((written, held)) = in_flight.as_mut()
            && let Some(pin) = pin(&made)
        {
            held.amend(written, pin)?;
            repin = true;
        }
        // Made and recorded: from here an executor may undo it.
        let written = in_flight.map(|(written, _held)| written);
        if repin
            && let (Some(written), Some(armed)) = (&written, &self.armed)
            && let Err(e) = armed.store.update_entry(written).await
        {
            self.log(format!("dead man's switch: {e} (the mirror keeps its first guard)"));
        }
        self.after_change().await?;
        Ok(Some((made, written)))
    }

    /// A forward request failed. Refused outright (401, 403, 409, 422, or never sent), the
    /// change was not made: its entry is retired at once as not applied. Anything else
    /// (timeouts, 5xx, a lost connection) may have been applied: the entry stays pending.
    async fn refused(
        &self,
        held: &InFlight,
        written: &WrittenEntry,
        verb: &str,
        e: OpError,
    ) -> ScenarioError {
        let code = match &e {
            OpError::Unauthorized { code, .. } => Some(*code),
            OpError::Api { code: Some(code @ (409 | 422)), .. } => Some(*code),
            _ => None,
        };
        let never_sent = matches!(e, OpError::Discovery { .. } | OpError::Invalid(_));
        let why = match (code, never_sent) {
            (Some(code), _) => {
                format!("the API server refused the {verb} (HTTP {code}), so it was not made: {e}")
            }
            (None, true) => format!("the {verb} was never sent: {e}"),
            (None, false) => return e.into(),
        };
        match self.not_applied(held, written, &why).await {
            Ok(()) => e.into(),
            Err(journal) => ScenarioError::Failed(format!(
                "{e}; and its entry {} could not be retired as not applied: {journal}",
                written.path.display()
            )),
        }
    }

    /// Retires `written` as not applied (through the journal's state changes, under the
    /// context lock its change holds) and says so.
    async fn not_applied(
        &self,
        held: &InFlight,
        written: &WrittenEntry,
        why: &str,
    ) -> Result<(), ScenarioError> {
        held.retire_not_applied(written, why)?;
        self.log(format!("journal: not applied {}: {why}", written.path.display()));
        self.retire_mirror(written).await;
        (self.events)(ScenarioEvent::EntryRetired { path: written.path.clone() });
        Ok(())
    }

    /// Removes the mirror of an entry that needs no undo any more. Best effort: a mirror left
    /// behind is at worst replayed by the watchdog, and the entry's guards make that harmless.
    pub(super) async fn retire_mirror(&self, written: &WrittenEntry) {
        if self.armed.is_none() {
            return;
        }
        if let Some(mirror) = &written.entry.mirror
            && let Err(e) = crate::journal::mirror_link::retire(&self.ops, mirror).await
        {
            self.log(format!("dead man's switch: mirror configmap/{} stays: {e}", mirror.name));
        }
    }

    async fn write(
        &self,
        ctx: &Context,
        name: crate::journal::names::EntryName,
        step: &str,
        undo: Vec<UndoAction>,
    ) -> Result<(WrittenEntry, InFlight), ScenarioError> {
        // Before the entry exists: no executor may undo it until the change has been sent.
        let held = ctx.begin_change().await?;
        let draft = EntryDraft {
            scenario_type: self.scenario_type.clone(),
            scenario_file: Some(self.scenario_file.display().to_string()),
            step: step.to_string(),
            undo,
        };
        let written = held.write(name, draft)?;
        (self.events)(ScenarioEvent::EntryWritten {
            path: written.path.clone(),
            summary: written.entry.undo_summary(),
        });
        // Second write-ahead copy, in the cluster: no mirror, no change.
        if let Some(armed) = &self.armed
            && let Err(e) = armed.store.create(&written).await
        {
            let why = format!("dead man's switch: {e}; so the change was not made");
            self.not_applied(&held, &written, &why).await?;
            return Err(ScenarioError::Failed(why));
        }
        if let Some(Failpoint::SlowChange(at)) = self.failpoint
            && self.changes.load(Ordering::SeqCst) + 1 == at
        {
            crate::out::err_line(format!(
                "chaosdeck failpoint: entry written, change {at} held back {} s",
                SLOW_CHANGE.as_secs()
            ));
            tokio::time::sleep(SLOW_CHANGE).await;
        }
        Ok((written, held))
    }

    pub(super) async fn after_change(&self) -> Result<(), ScenarioError> {
        let n = self.changes.fetch_add(1, Ordering::SeqCst) + 1;
        match self.failpoint {
            Some(Failpoint::FailAfterChange(at)) if at == n => {
                Err(ScenarioError::Failed(format!("failpoint: injected failure after change {n}")))
            }
            Some(Failpoint::PanicAfterChange(at)) if at == n => {
                panic!("failpoint: injected panic after change {n}")
            }
            Some(Failpoint::HangAfterChange(at)) if at == n => {
                crate::out::err_line(format!("chaosdeck failpoint: hanging after change {n}"));
                self.cancel.cancelled().await;
                Err(ScenarioError::Cancelled)
            }
            _ => Ok(()),
        }
    }
}
