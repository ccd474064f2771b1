//! The journal seen by run: run → contexts → entries, newest first at each level, with the
//! counts that the TUI tree and `list-rollback` show.
//!
//! Owns grouping, ordering and counting only; reading files is `scan`'s job and choosing what
//! to show (filters) is the caller's.

use std::collections::HashMap;

use serde::Serialize;

use super::scan::{ContextNode, EntryNode, EntryState};

/// How many entries are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pending: usize,
    pub failed: usize,
    pub executed: usize,
    pub not_applied: usize,
    pub invalid: usize,
    /// Outstanding entries whose writer process is gone (also counted as pending or failed).
    pub orphaned: usize,
}

impl Counts {
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a EntryNode>) -> Counts {
        let mut c = Counts::default();
        for e in entries {
            match e.state {
                EntryState::Pending => c.pending += 1,
                EntryState::Failed => c.failed += 1,
                EntryState::Executed => c.executed += 1,
                EntryState::NotApplied => c.not_applied += 1,
                EntryState::Invalid => c.invalid += 1,
            }
            if e.is_orphaned() {
                c.orphaned += 1;
            }
        }
        c
    }

    fn add(&mut self, o: &Counts) {
        self.pending += o.pending;
        self.failed += o.failed;
        self.executed += o.executed;
        self.not_applied += o.not_applied;
        self.invalid += o.invalid;
        self.orphaned += o.orphaned;
    }

    /// Still needs an undo (pending or failed).
    pub fn outstanding(&self) -> usize {
        self.pending + self.failed
    }

    /// The non-zero counts in words, most urgent first: `2 pending, 1 failed, 3 executed`.
    pub fn line(&self) -> String {
        let parts: Vec<String> = [
            (self.pending, "pending"),
            (self.failed, "failed"),
            (self.invalid, "invalid"),
            (self.executed, "executed"),
            (self.not_applied, "not-applied"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}"))
        .collect();
        if parts.is_empty() { "no entries".into() } else { parts.join(", ") }
    }
}

/// One context (one scenario-file execution) of a run.
#[derive(Debug)]
pub struct ContextGroup<'t> {
    pub node: &'t ContextNode,
    /// The entries shown, newest first.
    pub entries: Vec<&'t EntryNode>,
    pub counts: Counts,
}

impl ContextGroup<'_> {
    /// The scenario type(s) of the context's entries; Krkn and chaosdeck write one type per
    /// context, so more than one is unusual and listed in full.
    pub fn scenario_type(&self) -> String {
        let mut types: Vec<&str> =
            self.node.entries.iter().map(|e| e.name.scenario_type.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        if types.is_empty() { "(empty)".into() } else { types.join(",") }
    }

    /// The scenario file, when an entry records it (Krkn's files do not).
    pub fn scenario_file(&self) -> Option<&str> {
        self.node.entries.iter().find_map(|e| e.scenario_file.as_deref())
    }
}

/// One run: every context that carries its uuid.
#[derive(Debug)]
pub struct RunGroup<'t> {
    pub run_uuid: &'t str,
    /// The oldest context's time: when the run started, as far as the journal knows.
    pub started_ns: u64,
    /// Newest first.
    pub contexts: Vec<ContextGroup<'t>>,
    pub counts: Counts,
    /// An outstanding entry's writer process still runs on this host.
    pub live: bool,
}

/// Groups `shown` (contexts with the entries to show, in any order) by run. Runs are ordered
/// by start time, contexts and entries by creation time, newest first at every level; ties
/// fall back to the names so the order never depends on the directory listing.
pub fn group<'t>(shown: Vec<(&'t ContextNode, Vec<&'t EntryNode>)>) -> Vec<RunGroup<'t>> {
    let mut index: HashMap<&'t str, usize> = HashMap::new();
    let mut runs: Vec<RunGroup<'t>> = Vec::new();
    for (node, mut entries) in shown {
        entries.sort_by(|a, b| (b.name.ts_ns, &b.file_name).cmp(&(a.name.ts_ns, &a.file_name)));
        let counts = Counts::of(entries.iter().copied());
        let live =
            node.entries.iter().any(|e| e.state.is_outstanding() && e.writer_alive == Some(true));
        let i = *index.entry(node.name.run_uuid.as_str()).or_insert_with(|| {
            runs.push(RunGroup {
                run_uuid: &node.name.run_uuid,
                started_ns: node.name.ts_ns,
                contexts: Vec::new(),
                counts: Counts::default(),
                live: false,
            });
            runs.len() - 1
        });
        let run = &mut runs[i];
        run.started_ns = run.started_ns.min(node.name.ts_ns);
        run.counts.add(&counts);
        run.live |= live;
        run.contexts.push(ContextGroup { node, entries, counts });
    }
    for run in &mut runs {
        run.contexts.sort_by(|a, b| {
            (b.node.name.ts_ns, &b.node.dir_name).cmp(&(a.node.name.ts_ns, &a.node.dir_name))
        });
    }
    runs.sort_by(|a, b| (b.started_ns, b.run_uuid).cmp(&(a.started_ns, a.run_uuid)));
    runs
}

/// A context or run time for people: UTC, to the second (the raw nanoseconds when out of
/// range).
pub fn when(ts_ns: u64, format: &str) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ts_ns))
        .map(|t| t.strftime(format).to_string())
        .unwrap_or_else(|_| ts_ns.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::names::{ContextName, EntryName, Flavor};
    use crate::journal::scan::EntryBody;
    use std::path::PathBuf;

    fn entry(scenario: &str, ts: u64, state: EntryState, alive: Option<bool>) -> EntryNode {
        EntryNode {
            file_name: format!("{scenario}_{ts}_abcdefgh.yaml"),
            path: PathBuf::from(format!("/j/{scenario}_{ts}_abcdefgh.yaml")),
            name: EntryName {
                flavor: Flavor::Chaosdeck,
                scenario_type: scenario.into(),
                ts_ns: ts,
                suffix: "abcdefgh".into(),
                executed: state == EntryState::Executed,
            },
            state,
            body: EntryBody::Invalid("test".into()),
            last_error: None,
            writer_alive: alive,
            scenario_file: Some(format!("scenarios/{scenario}.yaml")),
        }
    }

    fn ctx(run: &str, ts: u64, entries: Vec<EntryNode>) -> ContextNode {
        ContextNode {
            dir_name: format!("{ts}-{run}"),
            path: PathBuf::from(format!("/j/{ts}-{run}")),
            name: ContextName { ts_ns: ts, run_uuid: run.into() },
            entries,
            unknown: vec![],
        }
    }

    fn all(contexts: &[ContextNode]) -> Vec<(&ContextNode, Vec<&EntryNode>)> {
        contexts.iter().map(|c| (c, c.entries.iter().collect())).collect()
    }

    #[test]
    fn groups_by_run_newest_first_at_every_level() {
        let contexts = vec![
            ctx("old", 10, vec![entry("hog", 11, EntryState::Executed, None)]),
            ctx(
                "new",
                20,
                vec![
                    entry("pod", 21, EntryState::Pending, Some(false)),
                    entry("pod", 23, EntryState::Failed, Some(false)),
                    entry("pod", 22, EntryState::Pending, Some(true)),
                ],
            ),
            ctx("old", 30, vec![entry("node", 31, EntryState::Pending, None)]),
            ctx("new", 25, vec![]),
        ];
        let runs = group(all(&contexts));
        let order: Vec<&str> = runs.iter().map(|r| r.run_uuid).collect();
        // "old" started first (ts 10) although it also has the newest context.
        assert_eq!(order, ["new", "old"]);
        let new = &runs[0];
        assert_eq!(new.started_ns, 20);
        let ctx_order: Vec<u64> = new.contexts.iter().map(|c| c.node.name.ts_ns).collect();
        assert_eq!(ctx_order, [25, 20]);
        let entry_order: Vec<u64> = new.contexts[1].entries.iter().map(|e| e.name.ts_ns).collect();
        assert_eq!(entry_order, [23, 22, 21]);
        assert_eq!(new.counts.pending, 2);
        assert_eq!(new.counts.failed, 1);
        assert_eq!(new.counts.orphaned, 2);
        assert_eq!(new.counts.line(), "2 pending, 1 failed");
        assert!(new.live, "entry 22's writer still runs");
        let old = &runs[1];
        assert!(!old.live);
        assert_eq!(old.contexts.iter().map(|c| c.node.name.ts_ns).collect::<Vec<_>>(), [30, 10]);
        assert_eq!(old.counts.line(), "1 pending, 1 executed");
        assert_eq!(old.contexts[0].scenario_type(), "node");
        assert_eq!(old.contexts[0].scenario_file(), Some("scenarios/node.yaml"));
        assert_eq!(new.contexts[0].scenario_type(), "(empty)");
    }

    #[test]
    fn counts_only_the_entries_shown() {
        let context = ctx(
            "r",
            1,
            vec![
                entry("a", 2, EntryState::Pending, None),
                entry("b", 3, EntryState::Executed, None),
            ],
        );
        let shown = vec![(&context, vec![&context.entries[1]])];
        let runs = group(shown);
        assert_eq!(runs[0].counts, Counts { executed: 1, ..Counts::default() });
        assert_eq!(runs[0].contexts[0].entries.len(), 1);
    }
}
