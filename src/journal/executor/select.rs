//! Which entries a rollback takes, in which order.

use super::super::filter::Filter;
use super::super::scan::{self, EntryNode, JournalTree};

/// Outstanding entries of `tree` that `filter` selects, newest first (LIFO). Invalid
/// pending-named files are selected too: they are outstanding work, reported as such.
///
/// Ordered by when each entry was written, not context by context: two runs on one journal
/// overlap in time, and the schedule reads this order as "newer first" for entries on the
/// same object. Ties (same nanosecond) fall back to the context's time and the file name.
pub fn select<'t>(tree: &'t JournalTree, filter: &Filter) -> Vec<&'t EntryNode> {
    let mut chosen: Vec<(&scan::ContextNode, &EntryNode)> = tree
        .entries()
        .filter(|(_, e)| e.state.awaits_undo())
        .filter(|(c, e)| filter.matches(c, e))
        .collect();
    chosen.sort_by(|(ca, a), (cb, b)| {
        (b.name.ts_ns, cb.name.ts_ns, &b.file_name).cmp(&(
            a.name.ts_ns,
            ca.name.ts_ns,
            &a.file_name,
        ))
    });
    chosen.into_iter().map(|(_, e)| e).collect()
}
