//! Everything the UI shows, as plain data (no terminal, no I/O): testable without a screen.

use std::collections::VecDeque;
use std::path::PathBuf;

use crate::engine::{EngineCommand, EngineState};
use crate::journal::scan::{ContextNode, EntryNode, JournalTree};
use crate::journal::{runs, transitions};

use super::keys::KeyMap;
use super::theme::Theme;
use super::tree;
use super::tree_view::TreeView;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A run with an engine.
    Run,
    /// `chaosdeck inspect`: a journal, no engine.
    Inspect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Scenarios,
    Journal,
    Inspector,
    Log,
}

impl Focus {
    const ORDER: [Focus; 4] = [Focus::Scenarios, Focus::Journal, Focus::Inspector, Focus::Log];

    pub fn next(self) -> Focus {
        let i = Self::ORDER.iter().position(|f| *f == self).unwrap_or(0);
        Self::ORDER[(i + 1) % Self::ORDER.len()]
    }

    pub fn prev(self) -> Focus {
        let i = Self::ORDER.iter().position(|f| *f == self).unwrap_or(0);
        Self::ORDER[(i + Self::ORDER.len() - 1) % Self::ORDER.len()]
    }
}

/// Something the UI asks the outside world to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Engine(EngineCommand),
    Execute(Vec<PathBuf>),
    MarkExecuted(Vec<PathBuf>),
    /// Inspect mode's `!`: undo every pending entry of the journal, audited.
    EmergencyAll {
        reason: String,
    },
    Rescan,
    Inspect(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Popup {
    Help,
    Confirm {
        title: String,
        lines: Vec<String>,
        effect: Effect,
    },
    /// Typing filters the tree at once; Esc puts `before` back.
    Filter {
        input: String,
        before: String,
    },
    /// `q` while a run is live: stop and roll back, or leave pending.
    QuitLive,
    /// One log line, whole (Enter on the Log panel).
    LogLine {
        at: String,
        text: String,
    },
}

/// A row of the Scenarios panel, and where its scenario file stands.
pub use crate::scenario_status::{ScenarioRow, ScenarioStatus as RowStatus};

/// Header facts for the status bar.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub context: String,
    pub server: String,
    pub is_sandbox: bool,
    pub run_uuid: Option<String>,
    pub auto_rollback: bool,
    pub iterations: u64,
    /// The config file of this run; the journal does not record it, so other runs show none.
    pub config: Option<String>,
    /// A dry run: nothing is changed, and the screen says so everywhere.
    pub dry_run: bool,
    /// Other live runs on this journal or cluster, found when this run started.
    pub other_live_runs: Vec<String>,
    /// `chaosdeck attach`: the attached run and how its Lease stands.
    pub attached: Option<String>,
}

/// The inspector's content for one entry.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub path: PathBuf,
    pub text: String,
}

pub struct App {
    pub mode: Mode,
    pub header: Header,
    pub theme: Theme,
    pub engine_state: Option<EngineState>,
    pub run_finished: bool,
    pub scenarios: Vec<ScenarioRow>,
    pub scenario_selected: usize,
    pub tree: JournalTree,
    /// The Journal panel's items, and what in them is open and selected.
    pub tree_view: TreeView,
    pub filter: String,
    pub inspected: Option<Inspected>,
    pub inspector_scroll: u16,
    pub log: VecDeque<String>,
    /// When each log line arrived (`HH:MM:SS`, local time), beside [`App::log`].
    pub log_at: VecDeque<String>,
    /// How many lines the Log panel is scrolled back; the bottom line in view is the one `Enter`
    /// shows whole.
    pub log_scroll: u16,
    /// The wall clock the log stamps lines with (tests fix it).
    pub clock: fn() -> String,
    pub focus: Focus,
    pub popup: Option<Popup>,
    pub quit: bool,
    /// Quit as soon as the engine reports the run finished (after `q` → stop).
    pub quit_when_finished: bool,
    pub exit_code: Option<u8>,
    /// Entries the last rollback (`x`, `!`, the engine's) could not undo; shown in the status
    /// bar until the next rollback.
    pub not_undone: usize,
    /// The key table in force (defaults plus the operator's keys.yaml).
    pub keys: KeyMap,
    /// Why the run is read-only (its dead man's switch Lease was lost), shown in the status
    /// bar from then on.
    pub read_only: Option<String>,
    /// The rollback under way (the engine's, `x` or `!`), counted as outcomes arrive.
    pub rollback: Option<RollbackProgress>,
    /// The health panel (empty: no checks, and the panel is not drawn).
    pub health: super::health_rows::HealthView,
    /// When this run started: the header's game-day clock counts from here.
    pub run_started: Option<std::time::Instant>,
    /// Whether undoing is possible here (a cluster connection); `x` says so before any dialog.
    pub has_cluster: bool,
    /// The run and contexts unfolded automatically (once each).
    auto_opened: std::collections::HashSet<String>,
}

/// Live counts of a rollback, for the status bar.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackProgress {
    pub total: usize,
    pub executed: usize,
    /// Outcomes that left the entry outstanding (failed, invalid, not attempted, refused).
    pub failed: usize,
    pub started: std::time::Instant,
}

impl RollbackProgress {
    pub fn new(total: usize) -> RollbackProgress {
        RollbackProgress { total, executed: 0, failed: 0, started: std::time::Instant::now() }
    }

    /// `undoing 40/100: 38 executed, 2 failed, 60 remaining, 35/s, ETA 2 s`.
    pub fn line(&self) -> String {
        let done = self.executed + self.failed;
        let remaining = self.total.saturating_sub(done);
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let eta = if rate > 0.0 && remaining > 0 {
            format!(", ETA {:.0} s", remaining as f64 / rate)
        } else {
            String::new()
        };
        format!(
            "undoing {done}/{}: {} executed, {} failed, {remaining} remaining, {rate:.0}/s{eta}",
            self.total, self.executed, self.failed
        )
    }
}

pub const LOG_CAPACITY: usize = 500;

/// `HH:MM:SS` now, in the local time zone.
fn local_time() -> String {
    jiff::Zoned::now().strftime("%H:%M:%S").to_string()
}

impl App {
    pub fn new(mode: Mode, header: Header, theme: Theme) -> App {
        App {
            mode,
            header,
            theme,
            engine_state: None,
            run_finished: mode == Mode::Inspect,
            scenarios: Vec::new(),
            scenario_selected: 0,
            tree: JournalTree::default(),
            tree_view: TreeView::default(),
            filter: String::new(),
            inspected: None,
            inspector_scroll: 0,
            log: VecDeque::new(),
            log_at: VecDeque::new(),
            log_scroll: 0,
            clock: local_time,
            focus: Focus::Journal,
            popup: None,
            quit: false,
            quit_when_finished: false,
            exit_code: None,
            not_undone: 0,
            keys: KeyMap::default(),
            read_only: None,
            rollback: None,
            health: Default::default(),
            run_started: None,
            has_cluster: true,
            auto_opened: Default::default(),
        }
    }

    pub fn push_log(&mut self, line: impl Into<String>) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
            self.log_at.pop_front();
        }
        self.log.push_back(line.into());
        self.log_at.push_back((self.clock)());
    }

    /// The index in [`App::log`] of the selected line (the newest, `log_scroll` lines back):
    /// the one `Enter` shows whole.
    pub fn log_selected(&self) -> Option<usize> {
        let back = usize::from(self.log_scroll).min(self.log.len().saturating_sub(1));
        self.log.len().checked_sub(back + 1)
    }

    pub fn run_is_live(&self) -> bool {
        self.mode == Mode::Run && !self.run_finished
    }

    pub fn outstanding(&self) -> usize {
        self.tree.outstanding()
    }

    /// Replaces the journal view; the cached tree items are rebuilt here, not per frame.
    pub fn set_tree(&mut self, tree: JournalTree) {
        self.tree = tree;
        self.rebuild_items();
        self.keep_selection_valid();
        // The current run and its contexts start open, so its entries are visible at once;
        // once only, so that a rescan never unfolds what the operator folded.
        if let Some(run) = &self.header.run_uuid {
            if self.auto_opened.insert(run.clone()) {
                self.tree_view.open(&[run]);
            }
            for ctx in self.tree.contexts.iter().filter(|c| &c.name.run_uuid == run) {
                if self.auto_opened.insert(ctx.dir_name.clone()) {
                    self.tree_view.open(&[run, &ctx.dir_name]);
                }
            }
        }
    }

    pub fn rebuild_items(&mut self) {
        let filter = self.filter.to_lowercase();
        let runs = runs::group(tree::shown(&self.tree, &filter));
        let current = self
            .header
            .run_uuid
            .as_deref()
            .map(|run| tree::Current { run, config: self.header.config.as_deref() });
        let theme = self.theme;
        self.tree_view.set_items(|names| tree::items(&runs, current, theme, names));
    }

    /// See [`TreeView::keep_selection_valid`].
    pub fn keep_selection_valid(&mut self) {
        self.tree_view.keep_selection_valid();
    }

    /// The selected entry, when an entry (not a run or context) is selected.
    pub fn selected_entry(&self) -> Option<&EntryNode> {
        let [_, ctx, file] = self.tree_view.selected()[..] else { return None };
        self.tree
            .contexts
            .iter()
            .find(|c| c.dir_name == ctx)?
            .entries
            .iter()
            .find(|e| e.file_name == file)
    }

    /// The selected context, or the context of the selected entry.
    pub fn selected_context(&self) -> Option<&ContextNode> {
        let [_, ctx, ..] = self.tree_view.selected()[..] else { return None };
        self.tree.contexts.iter().find(|c| c.dir_name == ctx)
    }

    /// The uuid of the selected run (or of the run the selected context or entry is in).
    pub fn selected_run(&self) -> Option<&str> {
        self.tree_view.selected().first().copied()
    }

    /// The entry the inspector shows, found again in the current tree (under its new name once
    /// retired): the rescan tells the inspector to read it again, so a state change made by the
    /// engine or another process shows there as it does in the tree.
    pub fn follow_inspected(&self) -> Option<Effect> {
        let shown = &self.inspected.as_ref()?.path;
        let executed = transitions::executed_path(shown);
        self.tree
            .entries()
            .find(|(_, e)| &e.path == shown || e.path == executed)
            .map(|(_, e)| Effect::Inspect(e.path.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_progress_counts_what_is_left_and_says_when_it_will_be_done() {
        let mut p = RollbackProgress::new(100);
        assert!(
            p.line().starts_with("undoing 0/100: 0 executed, 0 failed, 100 remaining"),
            "{}",
            p.line()
        );
        p.started -= std::time::Duration::from_secs(2);
        p.executed = 38;
        p.failed = 2;
        let line = p.line();
        assert!(
            line.starts_with("undoing 40/100: 38 executed, 2 failed, 60 remaining, 20/s"),
            "{line}"
        );
        assert!(line.ends_with("ETA 3 s"), "{line}");
        p.executed = 98;
        assert!(!p.line().contains("ETA"), "{}", p.line());
    }
}
