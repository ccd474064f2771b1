//! Undoing pending entries from inside a run, through the rollback service, its events
//! forwarded as the engine's.

use std::path::Path;

use tokio::sync::mpsc;

use crate::cluster::ClusterOps;
use crate::journal::executor::Tally;
use crate::journal::rollback::{self, Event, How, Selection};

use super::events::EngineEvent;

/// Undoes the outstanding entries `selection` takes from the journal at `root`, newest first,
/// audited as `audit` when given. Returns the tally (all zero when nothing was selected).
pub async fn undo(
    ops: &ClusterOps,
    root: &Path,
    selection: Selection,
    how: How,
    events: &mpsc::UnboundedSender<EngineEvent>,
) -> Tally {
    let selected = match rollback::select(root, selection) {
        Ok(selected) => selected,
        Err(e) => {
            let _ =
                events.send(EngineEvent::Log(format!("rollback: cannot read the journal: {e}")));
            return Tally { failed: 1, ..Tally::default() };
        }
    };
    rollback::undo(Ok(ops), &selected, &how, |event: Event| {
        let _ = events.send(EngineEvent::Rollback(event));
    })
    .await
}
