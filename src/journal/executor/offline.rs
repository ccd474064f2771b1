//! Entries that need no cluster (a file that cannot be read, a Krkn file left to Krkn), and
//! dry runs: reported, never executed.

use std::path::Path;

use super::super::krkn;
use super::super::scan::{EntryBody, EntryNode};
use super::outcome::{EntryOutcome, Outcome};

/// Why `node` is in a file another user owns or may write ([`trust`](crate::journal::trust)), if it is:
/// refused unless the operator says so (`--allow-foreign-journal`).
pub fn foreign(node: &EntryNode) -> Option<String> {
    let root = node.path.parent().and_then(Path::parent)?;
    crate::journal::trust::foreign(root, &node.path).map(|why| {
        format!(
            "refused: {why}; an entry someone else could have written is undone only with \
             --allow-foreign-journal"
        )
    })
}

/// Whether undoing `node` talks to the cluster: not for a file that cannot be read, nor for a
/// Krkn file left to Krkn; those are reported without one (see [`execute_offline`]).
pub fn needs_cluster(node: &EntryNode) -> bool {
    match &node.body {
        EntryBody::Invalid(_) => false,
        EntryBody::Krkn(k) => k.plan.is_executable(),
        EntryBody::Chaosdeck(_) | EntryBody::Listed(_) => true,
    }
}

/// The outcomes of entries that need no cluster (invalid files, Krkn files left to Krkn):
/// each is reported, none executed. Others in `entries` are ignored (give those to
/// [`execute`](super::execute)).
pub fn execute_offline(
    entries: &[&EntryNode],
    mut report: impl FnMut(&EntryOutcome),
) -> Vec<EntryOutcome> {
    entries
        .iter()
        .filter(|node| !needs_cluster(node))
        .map(|node| {
            let out = finish(node, offline_outcome(node));
            report(&out);
            out
        })
        .collect()
}

/// The outcome of an entry that needs no cluster ([`needs_cluster`] is false).
pub(super) fn offline_outcome(node: &EntryNode) -> Outcome {
    match &node.body {
        EntryBody::Invalid(reason) => Outcome::Invalid { reason: reason.clone() },
        EntryBody::Krkn(k) => {
            Outcome::Skipped { reason: krkn_reason(node, k), still_pending: true }
        }
        _ => Outcome::Failed { error: "internal: this entry needs the cluster".into() },
    }
}

pub(super) fn finish(node: &EntryNode, outcome: Outcome) -> EntryOutcome {
    EntryOutcome {
        path: node.path.clone(),
        file_name: node.file_name.clone(),
        summary: node.summary(),
        outcome,
    }
}

pub(super) fn plan(node: &EntryNode) -> Outcome {
    match &node.body {
        EntryBody::Chaosdeck(entry) => {
            let context = entry.cluster.as_ref().map(|c| c.context.as_str());
            Outcome::Planned {
                steps: entry
                    .undo
                    .iter()
                    .flat_map(|a| crate::journal::kubectl::commands(a, context))
                    .collect(),
            }
        }
        // Never planned from a header: the body says what would be undone.
        EntryBody::Listed(_) => {
            Outcome::Invalid { reason: "internal: the entry was not parsed before planning".into() }
        }
        EntryBody::Krkn(k) => match &k.plan {
            krkn::Plan::Executable { actions, .. } => Outcome::Planned {
                steps: actions
                    .iter()
                    .flat_map(|a| crate::journal::kubectl::commands(a, None))
                    .collect(),
            },
            krkn::Plan::NotExecutable { .. } => {
                Outcome::Skipped { reason: krkn_reason(node, k), still_pending: true }
            }
        },
        EntryBody::Invalid(reason) => Outcome::Invalid { reason: reason.clone() },
    }
}

/// Why a Krkn entry is left to Krkn, and how to run it there.
pub(super) fn krkn_reason(node: &EntryNode, k: &krkn::KrknSummary) -> String {
    let what = match &k.plan {
        krkn::Plan::NotExecutable { what, .. } => what.clone(),
        krkn::Plan::Executable { .. } => k.plan.summary(),
    };
    format!(
        "not executable here: {what}; run it with Krkn {}",
        krkn::krkn_instructions(&node.path, &node.name.scenario_type)
    )
}
