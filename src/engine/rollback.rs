//! Undoing pending entries from inside a run, reporting each one as an event.

use std::path::Path;

use tokio::sync::mpsc;

use crate::cluster::ClusterOps;
use crate::journal::executor::{self, ExecuteOptions, Outcome, Tally};
use crate::journal::scan::EntryNode;
use crate::journal::{Filter, scan};

use super::events::EngineEvent;

/// Executes the outstanding entries of one context directory (or of the whole journal when
/// `context` is `None`), newest first. Returns (executed, not undone): skipped entries that
/// another process already executed count as neither.
pub async fn undo(
    ops: &ClusterOps,
    journal_root: &Path,
    context: Option<&Path>,
    reason: &str,
    events: &mpsc::UnboundedSender<EngineEvent>,
) -> (usize, usize) {
    let tree = match scan(journal_root) {
        Ok(tree) => tree,
        Err(e) => {
            let _ =
                events.send(EngineEvent::Log(format!("rollback: cannot read the journal: {e}")));
            return (0, 1);
        }
    };
    let selected: Vec<&EntryNode> = executor::select(&tree, &Filter::default())
        .into_iter()
        .filter(|e| context.is_none_or(|dir| e.path.parent() == Some(dir)))
        .collect();
    if selected.is_empty() {
        return (0, 0);
    }
    let _ = events
        .send(EngineEvent::RollbackStarted { reason: reason.to_string(), entries: selected.len() });
    let outcomes = executor::execute(ops, &selected, ExecuteOptions::default(), |out| {
        let event = match &out.outcome {
            Outcome::Executed { .. } => {
                EngineEvent::EntryExecuted { path: out.path.clone(), summary: out.summary.clone() }
            }
            Outcome::Failed { error } => {
                EngineEvent::EntryFailed { path: out.path.clone(), error: error.clone() }
            }
            // Not undone either: the change may still be in the cluster.
            Outcome::Invalid { reason } => EngineEvent::EntryFailed {
                path: out.path.clone(),
                error: format!("invalid entry, not executed: {reason}"),
            },
            Outcome::NotAttempted { reason } | Outcome::Blocked { reason } => {
                EngineEvent::EntryFailed { path: out.path.clone(), error: reason.clone() }
            }
            Outcome::Skipped { reason, .. } => {
                EngineEvent::Log(format!("skipped {}: {reason}", out.file_name))
            }
            Outcome::Refused { reason } => {
                EngineEvent::EntryFailed { path: out.path.clone(), error: reason.clone() }
            }
            Outcome::Planned { .. } => return,
        };
        let _ = events.send(event);
    })
    .await;
    // "Failed" counts what was not undone; an entry another process executed first is done,
    // not a failure of this run.
    let executed = Tally::of(&outcomes).executed;
    let failed = outcomes.iter().filter(|o| o.outcome.left_outstanding()).count();
    let _ = events.send(EngineEvent::RollbackFinished { executed, failed });
    (executed, failed)
}
