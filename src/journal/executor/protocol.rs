//! One entry under its context's lock: re-read it, check who wrote it and for which cluster,
//! admit its actions, apply them, mark it executed (or record why not), retire its mirror.

use std::path::Path;

use super::super::admissible::{Author, admit_all};
use super::super::krkn;
use super::super::scan::{self, EntryBody, EntryNode, Liveness};
use super::super::transitions::Marked;
use super::apply::{Unapplied, apply_actions, apply_entry};
use super::offline::{foreign, krkn_reason};
use super::outcome::Outcome;
use crate::cluster::ClusterOps;
use crate::journal::entry::Entry;
use crate::journal::lock::{ContextLock, lock_context};
use crate::journal::mirror_link::{MirrorSays, MirrorTrust};
use crate::refs::ProtectedNamespaces;

/// Runs one entry while its context lock is held.
pub(super) async fn execute_locked(
    ops: &ClusterOps,
    trust: &MirrorTrust,
    lock: &ContextLock,
    node: &EntryNode,
    foreign_ok: bool,
) -> Outcome {
    // Re-read under the lock: another process may have executed or amended it meanwhile.
    match lock.still_pending(&node.path) {
        Ok(true) => {}
        Ok(false) => {
            return Outcome::Skipped {
                reason: "already executed by another process".into(),
                still_pending: false,
            };
        }
        Err(e) => return Outcome::Failed { error: e.to_string() },
    }
    if !foreign_ok && let Some(why) = foreign(node) {
        return Outcome::Refused { reason: why };
    }
    let fresh = scan::read_entry(
        node.path.clone(),
        node.file_name.clone(),
        node.name.clone(),
        &mut Liveness::default(),
    );
    undo_fresh(ops, trust, lock, &node.path, &fresh.body, |k| krkn_reason(node, k)).await
}

/// The protocol from the trust checks on, for an entry body read under the lock: the cluster
/// it was made on, admission of every action, the watchdog's word, apply, mark, retire the
/// mirror. The one sequence every undo of one entry runs, a scenario's revert of its own change
/// included.
async fn undo_fresh(
    ops: &ClusterOps,
    trust: &MirrorTrust,
    lock: &ContextLock,
    path: &Path,
    body: &EntryBody,
    krkn_skip: impl FnOnce(&krkn::KrknSummary) -> String,
) -> Outcome {
    let made_on = match body {
        EntryBody::Chaosdeck(entry) => entry.cluster.as_ref(),
        _ => None,
    };
    let would_apply = match body {
        EntryBody::Chaosdeck(_) => true,
        EntryBody::Krkn(k) => k.plan.is_executable(),
        _ => false,
    };
    if would_apply && let Err(reason) = ops.admits(made_on) {
        return Outcome::Refused { reason };
    }
    if let EntryBody::Chaosdeck(entry) = body
        && let Err(reason) = admit_all(&entry.undo, Author::Chaosdeck, ops.protected())
    {
        return Outcome::Refused { reason };
    }
    // The watchdog may have undone it already (the dead man's switch): say who, do not redo.
    let mut notes = Vec::new();
    if let EntryBody::Chaosdeck(entry) = body
        && let Some(mirror) = &entry.mirror
    {
        match crate::journal::mirror_link::undone_by(ops, trust, mirror).await {
            MirrorSays::Undone(undone) => {
                return match lock.mark_undone_elsewhere(path, &undone) {
                    Ok(_) => {
                        let mut notes =
                            vec![format!("undone by {} at {} (its mirror)", undone.by, undone.at)];
                        if let Err(e) = crate::journal::mirror_link::retire(ops, mirror).await {
                            notes.push(format!("its mirror configmap/{} stays: {e}", mirror.name));
                        }
                        Outcome::Executed { notes }
                    }
                    Err(e) => failed(lock, path, e.to_string()),
                };
            }
            MirrorSays::Unverified { claimed, why } => notes.push(format!(
                "its mirror says {} undid it, which cannot be believed here ({why}); undone here",
                claimed.by
            )),
            MirrorSays::Nothing => {}
        }
    }
    let applied = match body {
        EntryBody::Chaosdeck(entry) => apply_entry(ops, entry).await,
        // Krkn's plan is resolved into the same generic actions (plus what the look-ups found)
        // and applied by the same loop as chaosdeck's own entries; the rename to `.py.executed`
        // below is exactly Krkn's own.
        EntryBody::Krkn(k) if k.plan.is_executable() => {
            let resolved = krkn::apply::resolve(ops, &k.plan).await;
            if let Err(reason) = admit_all(&resolved.actions, Author::KrknMapping, ops.protected())
            {
                return Outcome::Refused { reason };
            }
            apply_actions(ops, &resolved.actions, resolved.notes, resolved.errors).await
        }
        EntryBody::Krkn(k) => {
            return Outcome::Skipped { reason: krkn_skip(k), still_pending: true };
        }
        EntryBody::Listed(_) => {
            return Outcome::Failed {
                error: "internal: entry was not parsed before execution".into(),
            };
        }
        EntryBody::Invalid(reason) => return Outcome::Invalid { reason: reason.clone() },
    };
    let mirror = match body {
        EntryBody::Chaosdeck(entry) => entry.mirror.clone(),
        _ => None,
    };
    match applied {
        // Synced with the rest of its context's batch (see [`Batches`]).
        Ok(found) => match lock.mark_executed_unsynced(path) {
            Ok(Marked::Renamed) => {
                notes.extend(found);
                if let Some(mirror) = &mirror
                    && let Err(e) = crate::journal::mirror_link::retire(ops, mirror).await
                {
                    notes.push(format!("its mirror configmap/{} stays: {e}", mirror.name));
                }
                Outcome::Executed { notes }
            }
            Ok(Marked::AlreadyExecuted) => Outcome::Failed {
                error: "internal: the entry disappeared while its context was locked".into(),
            },
            Err(e) => failed(lock, path, format!("undone in the cluster, but {e}")),
        },
        Err(Unapplied::Refused(reason)) => Outcome::Refused { reason },
        Err(Unapplied::Failed(error)) => failed(lock, path, error),
    }
}

/// A failed entry: its error recorded beside it (so listings say "failed", not "pending"),
/// and the outcome saying so — or saying that the record could not be written either.
fn failed(lock: &ContextLock, pending: &Path, error: String) -> Outcome {
    // A rename that happened before its directory fsync failed: no record for a file that is
    // no longer pending.
    if matches!(lock.still_pending(pending), Ok(false)) {
        return Outcome::Failed { error };
    }
    match lock.record_failure(pending, &error) {
        Ok(_) => Outcome::Failed { error },
        Err(e) => Outcome::Failed { error: format!("{error}; and {e}") },
    }
}

/// A scenario undoing its own change on normal completion: the entry as the scenario wrote it,
/// through the same protocol as every other undo (`undo_fresh`: cluster, admission, the
/// watchdog's word, apply, mark, mirror) under the context lock, and retired (renamed
/// `.executed`, synced) only after every action succeeded. An entry another process already
/// executed is left as it is. `Err` is why the change may still be in the cluster.
pub async fn revert_own(
    ops: &ClusterOps,
    pending: &Path,
    entry: &Entry,
) -> Result<Vec<String>, String> {
    let dir = pending.parent().ok_or_else(|| format!("{}: no context", pending.display()))?;
    let lock = lock_context(dir, crate::journal::lock::DEFAULT_PATIENCE)
        .await
        .map_err(|e| e.to_string())?;
    if !lock.still_pending(pending).map_err(|e| e.to_string())? {
        return Ok(vec![format!("{} was already executed by another process", pending.display())]);
    }
    let body = EntryBody::Chaosdeck(Box::new(entry.clone()));
    let outcome =
        undo_fresh(ops, &MirrorTrust::new(), &lock, pending, &body, |_| String::new()).await;
    match outcome {
        Outcome::Executed { mut notes } => {
            if let Err(e) = lock.sync() {
                notes.push(format!(
                    "marked executed, but {} could not be synced ({e}): after a power loss it \
                     may list as pending again, and undoing it again is harmless",
                    dir.display()
                ));
            }
            Ok(notes)
        }
        // Refused before any request: recorded like a failure, so the entry lists as failed
        // (not pending) with the reason when nothing rolls it back afterwards.
        Outcome::Refused { reason } => Err(match lock.record_failure(pending, &reason) {
            Ok(_) => reason,
            Err(e) => format!("{reason}; and {e}"),
        }),
        Outcome::Failed { error } => Err(error),
        other => Err(format!("not undone: {other:?}")),
    }
}

/// Whether every action of a chaosdeck entry may be applied, `protected` staying out of
/// bounds ([`admit`](crate::journal::admissible::admit)); the reason the first may not.
pub fn admissible_entry(protected: &ProtectedNamespaces, entry: &Entry) -> Result<(), String> {
    admit_all(&entry.undo, Author::Chaosdeck, protected)
}
