//! The write-ahead protocol of every change, written once ([`ScenarioCtx::change`]): declared,
//! not paused, stopped, read-only or protected; the entry durable and mirrored before the
//! request; a refused request retires its entry as not applied; a made change pinned to what
//! the cluster answered, then counted. The verbs in the parent module are thin wrappers.
//!
//! Owns: the order of those steps and the wording of a refusal. Must not know any verb's
//! request or undo: the wrappers pass them in.

use std::sync::atomic::Ordering;

use kube::api::DynamicObject;

use super::{Change, Failpoint, SLOW_CHANGE, ScenarioCtx};
use crate::cluster::OpError;
use crate::journal::writer::InFlight;
use crate::journal::{Context, EntryDraft, ObjectRef, UndoAction, WrittenEntry};
use crate::scenarios::needs::{Forward, Op};
use crate::scenarios::{ScenarioError, ScenarioEvent};

/// Which change [`ScenarioCtx::change`] makes, on what, and how its refusal is worded.
pub(super) struct ChangeSpec<'a> {
    pub(super) forward: Forward,
    pub(super) target: &'a ObjectRef,
    pub(super) step: &'a str,
    /// The request's verb in "the API server refused the <verb>".
    pub(super) verb: &'static str,
}

/// How the API server answered a forward request that was not an error.
pub(super) enum Answer<T> {
    /// The change was made; `T` is what the server returned.
    Made(T),
    /// An answer proving nothing changed (an object that already exists, a uid precondition
    /// that failed, a target that is gone): why.
    NotMade(String),
}

/// For changes whose entry needs nothing from the cluster's answer.
pub(super) fn no_pin<T>(_: &T) -> Option<fn(&mut crate::journal::Entry)> {
    None
}

pub(super) fn made_change(
    target: ObjectRef,
    made: Option<(DynamicObject, Option<WrittenEntry>)>,
) -> Change {
    match made {
        None => Change { target, written: None, object: None },
        Some((object, written)) => {
            Change { target, written, object: serde_json::to_value(&object).ok() }
        }
    }
}

impl ScenarioCtx {
    /// The write-ahead protocol, written once for every change: the operation must be declared
    /// and the run not paused, stopped, read-only or in a protected namespace; a dry run says
    /// what it would do (`would`) and sends nothing (`None`). Otherwise the undo (`undo`, given
    /// the entry's id, which `request` gets too; `None` when the change needs no entry) is
    /// journaled durably and mirrored
    /// before `request` is sent. A request refused outright, or answered [`Answer::NotMade`],
    /// retires the entry as not applied. A made change may `pin` its entry to what the cluster
    /// answered (a uid) before any executor can take it; only then does it count
    /// (failpoints, pace). Returns the answer and the entry.
    pub(super) async fn change<T, P>(
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
            && let Err(e) = crate::journal::mirror::retire(&self.ops, mirror).await
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
