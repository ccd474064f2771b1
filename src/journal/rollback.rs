//! The one rollback service. The engine (a failed or stopped scenario, the emergency key), the
//! TUI (`x`, `!`), `execute-rollback` and a scenario's revert of its own change all undo
//! through here: select, audit when asked, undo through the executor, and report one stream of
//! [`Event`]s in one wording ([`EntryOutcome::line`], [`Tally::line`]).
//!
//! Owns: which entries a request takes and the order of its events. Must not print or draw:
//! callers turn events into lines, rows or metrics.

use std::path::{Path, PathBuf};

use super::audit;
use super::executor::{self, EntryOutcome, ExecuteOptions, Outcome, Tally};
use super::filter::Filter;
use super::scan::{EntryNode, JournalTree, scan};
use crate::cluster::ClusterOps;

/// Which outstanding entries a rollback takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every outstanding entry of the journal (the emergency key).
    All,
    /// What the filter selects: a run (full uuid or unique prefix), a scenario type, a file.
    Filter(Filter),
    /// The outstanding entries of one context directory (a scenario's own, after it failed).
    Context(PathBuf),
    /// Exactly these entry files, those of them still outstanding.
    Paths(Vec<PathBuf>),
}

/// A scanned journal and the entries a [`Selection`] takes from it, newest first.
pub struct Selected {
    tree: JournalTree,
    selection: Selection,
}

impl Selected {
    /// The selected entries, newest first (the undo order). Invalid pending-named files are
    /// among them: outstanding work that is reported, never executed.
    pub fn entries(&self) -> Vec<&EntryNode> {
        let filter = match &self.selection {
            Selection::Filter(f) => f.clone(),
            _ => Filter::default(),
        };
        executor::select(&self.tree, &filter)
            .into_iter()
            .filter(|e| match &self.selection {
                Selection::All | Selection::Filter(_) => true,
                Selection::Context(dir) => e.path.parent() == Some(dir.as_path()),
                Selection::Paths(paths) => paths.contains(&e.path),
            })
            .collect()
    }

    pub fn tree(&self) -> &JournalTree {
        &self.tree
    }

    pub fn root(&self) -> &Path {
        &self.tree.root
    }
}

/// Reads the journal at `root` for `selection`.
pub fn select(root: &Path, selection: Selection) -> std::io::Result<Selected> {
    Ok(Selected { tree: scan(root)?, selection })
}

/// Why and how a rollback runs.
#[derive(Debug, Clone)]
pub struct How {
    /// Said when it starts (and in the audit line when there is one).
    pub reason: String,
    /// The action written to the journal's `audit.log` before anything is undone.
    pub audit: Option<String>,
    pub options: ExecuteOptions,
}

impl How {
    pub fn because(reason: impl Into<String>) -> How {
        How { reason: reason.into(), audit: None, options: ExecuteOptions::default() }
    }

    pub fn audited(mut self, action: impl Into<String>) -> How {
        self.audit = Some(action.into());
        self
    }
}

/// What a rollback reports, in order: `Started`, one `Entry` per selected entry, `Finished`;
/// `Note`s may come between (an audit line that could not be written).
#[derive(Debug, Clone)]
pub enum Event {
    Started { reason: String, entries: usize },
    Entry(EntryOutcome),
    Note(String),
    Finished(Tally),
}

/// Undoes the selected entries, newest first, and returns their tally (the one `Finished`
/// carries; all zero when nothing was selected). With no cluster (`ops` is `Err`), what needs
/// none is still reported (invalid files, Krkn files left to Krkn) and the rest is
/// `NotAttempted` with `no_cluster` as the reason. Nothing selected: the audit line only.
pub async fn undo(
    ops: Result<&ClusterOps, &str>,
    selected: &Selected,
    how: &How,
    mut on: impl FnMut(Event),
) -> Tally {
    // The operator's act is recorded even when a scenario's own rollback got there first and
    // nothing is left to select.
    if let Some(action) = &how.audit
        && let Err(e) = audit::append(selected.root(), action, &how.reason)
    {
        // Undoing chaos goes ahead regardless; the missing record is said out loud.
        on(Event::Note(format!("AUDIT LOG NOT WRITTEN for the {action}: {e}")));
    }
    let entries = selected.entries();
    if entries.is_empty() {
        return Tally::default();
    }
    on(Event::Started { reason: how.reason.clone(), entries: entries.len() });
    let outcomes = match ops {
        Ok(ops) => {
            executor::execute(ops, &entries, how.options, |out| on(Event::Entry(out.clone()))).await
        }
        Err(no_cluster) => without_cluster(&entries, no_cluster, &mut on),
    };
    let tally = Tally::of(&outcomes);
    on(Event::Finished(tally));
    tally
}

/// The outcomes when there is no cluster to undo on.
fn without_cluster(
    entries: &[&EntryNode],
    no_cluster: &str,
    on: &mut impl FnMut(Event),
) -> Vec<EntryOutcome> {
    let mut outcomes = executor::execute_offline(entries, |out| on(Event::Entry(out.clone())));
    for node in entries.iter().filter(|n| executor::needs_cluster(n)) {
        let out = EntryOutcome {
            path: node.path.clone(),
            file_name: node.file_name.clone(),
            summary: node.summary(),
            outcome: Outcome::NotAttempted { reason: no_cluster.to_string() },
        };
        on(Event::Entry(out.clone()));
        outcomes.push(out);
    }
    outcomes
}

/// The pending entries of `run_uuid` in the journal at `root` (what a run leaves behind).
pub fn pending_of_run(root: &Path, run_uuid: &str) -> Vec<PathBuf> {
    let filter = Filter { run_uuid: Some(run_uuid.to_string()), ..Default::default() };
    super::scan_with(root, super::Depth::Headers)
        .map(|tree| {
            tree.entries()
                .filter(|(c, e)| e.state.is_outstanding() && filter.matches(c, e))
                .map(|(_, e)| e.path.clone())
                .collect()
        })
        .unwrap_or_default()
}
