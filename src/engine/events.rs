//! The engine's interface: events out, commands in. The TUI and headless mode consume exactly
//! this and nothing else.

use std::path::PathBuf;

use crate::scenario_status::ScenarioStatus;
use std::time::Duration;

/// How one scenario-file execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScenarioResult {
    Passed,
    /// Failed; its entries were undone (auto_rollback) or left pending.
    Failed {
        error: String,
        rolled_back: bool,
    },
    /// Stopped by the operator or a signal before it finished.
    Stopped {
        rolled_back: bool,
    },
    Skipped {
        reason: String,
    },
}

impl ScenarioResult {
    pub fn is_failure(&self) -> bool {
        matches!(self, ScenarioResult::Failed { .. })
    }

    /// The row's status and the text beside it once the file ended (`dry_run`: nothing was
    /// changed, so nothing was rolled back either).
    pub fn shown(&self, dry_run: bool) -> (ScenarioStatus, String) {
        use ScenarioStatus as S;
        match self {
            ScenarioResult::Passed if dry_run => {
                (S::Passed, "dry run: would run, nothing changed".into())
            }
            ScenarioResult::Failed { error, .. } if dry_run => {
                (S::Failed, format!("dry run: would fail: {error}"))
            }
            ScenarioResult::Passed => (S::Passed, "passed".into()),
            ScenarioResult::Failed { error, rolled_back: true } => {
                (S::RolledBack, format!("rolled back: {error}"))
            }
            ScenarioResult::Failed { error, .. } => (S::Failed, error.clone()),
            ScenarioResult::Stopped { rolled_back: true } => {
                (S::RolledBack, "stopped, rolled back".into())
            }
            ScenarioResult::Stopped { .. } => (S::Stopped, "stopped".into()),
            ScenarioResult::Skipped { reason } => (S::Skipped, reason.clone()),
        }
    }
}

/// What the engine is doing, as the operator should read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineState {
    Running,
    /// Paused while a scenario is in flight: nothing new starts, and the chaos window already
    /// open runs to its scheduled end and is undone (a pause never lengthens an outage).
    Pausing,
    /// Paused between scenarios: nothing runs until resumed.
    Paused,
    /// Between scenario files, sitting out `tunings.wait_duration`.
    Waiting,
    RollingBack,
    Stopped,
    Finished,
}

impl EngineState {
    /// The word the status bar and headless lines use.
    pub fn label(self) -> &'static str {
        match self {
            EngineState::Running => "running",
            EngineState::Pausing => "pausing",
            EngineState::Paused => "paused",
            EngineState::Waiting => "waiting",
            EngineState::RollingBack => "rolling back",
            EngineState::Stopped => "stopped",
            EngineState::Finished => "finished",
        }
    }

    /// Whether the operator has the engine paused (`p` resumes it).
    pub fn is_paused(self) -> bool {
        matches!(self, EngineState::Pausing | EngineState::Paused)
    }
}

#[derive(Debug, Clone)]
pub enum EngineEvent {
    RunStarted {
        run_uuid: String,
        journal: PathBuf,
        scenarios: Vec<(String, PathBuf)>,
    },
    ScenarioStarted {
        index: usize,
        iteration: u64,
        scenario_type: String,
        file: PathBuf,
        expected: Duration,
    },
    ScenarioStep {
        index: usize,
        text: String,
    },
    ScenarioProgress {
        index: usize,
        elapsed: Duration,
        expected: Duration,
    },
    ScenarioFinished {
        index: usize,
        result: ScenarioResult,
    },
    EntryWritten {
        path: PathBuf,
        summary: String,
    },
    EntryRetired {
        path: PathBuf,
    },
    /// The run lost its dead man's switch Lease: it changes nothing from now on, and the
    /// watchdog undoes its entries.
    ReadOnly {
        reason: String,
    },
    /// The emergency rollback was requested (audited; every pending entry will be undone).
    Emergency {
        reason: String,
    },
    /// A rollback's events, as the rollback service reports them (started, each entry's
    /// outcome, notes, the tally).
    Rollback(crate::journal::rollback::Event),
    State(EngineState),
    Log(String),
    /// The health task's rows (`crate::health`), sent once before their first samples.
    HealthStarted {
        checks: Vec<crate::health::CheckInfo>,
        interval: Duration,
    },
    /// One probe of one health row.
    HealthSample(crate::health::Sample),
    RunFinished {
        outstanding: usize,
        exit_code: u8,
    },
}

/// What the operator (TUI keys, status endpoint, signals) asks of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineCommand {
    Pause,
    Resume,
    /// Stop the run; the in-flight context is rolled back when auto_rollback is on.
    Stop,
    /// Stop, refuse new chaos, undo every pending entry of the journal, audit with `reason`.
    Emergency {
        reason: String,
    },
    /// A termination signal (its number); counts toward the forced-exit rule.
    Signal(i32),
}

impl From<crate::scenarios::ScenarioEvent> for EngineEvent {
    fn from(event: crate::scenarios::ScenarioEvent) -> Self {
        use crate::scenarios::ScenarioEvent as S;
        match event {
            S::Step { index, text } => EngineEvent::ScenarioStep { index, text },
            S::Progress { index, elapsed, expected } => {
                EngineEvent::ScenarioProgress { index, elapsed, expected }
            }
            S::Log(text) => EngineEvent::Log(text),
            S::EntryWritten { path, summary } => EngineEvent::EntryWritten { path, summary },
            S::EntryRetired { path } => EngineEvent::EntryRetired { path },
        }
    }
}
