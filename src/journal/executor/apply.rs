//! The one loop that applies undo actions, for chaosdeck's entries and Krkn's alike: every
//! action is attempted, and the entry counts as undone only when all succeeded. Each kind's
//! requests are `journal::undo`'s.

use super::super::admissible::{Author, admit_all};
use crate::cluster::ClusterOps;
use crate::journal::entry::{Entry, UndoAction};

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
        match action.apply(ops).await {
            Ok(Some(note)) => notes.push(note),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(notes) } else { Err(Unapplied::Failed(errors.join("; "))) }
}
