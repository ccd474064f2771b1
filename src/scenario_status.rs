//! Where one scenario file of a run stands, in the words every front end uses: the TUI's
//! Scenarios panel, and the progress a run publishes on its Lease for `chaosdeck attach`.
//!
//! Owns: the states and their names. Must not know how a run reaches them (the engine decides).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioStatus {
    #[default]
    Queued,
    Running,
    Passed,
    Failed,
    RolledBack,
    Stopped,
    Skipped,
}

impl ScenarioStatus {
    /// The word a log line uses.
    pub fn word(self) -> &'static str {
        match self {
            ScenarioStatus::Queued => "queued",
            ScenarioStatus::Running => "running",
            ScenarioStatus::Passed => "passed",
            ScenarioStatus::Failed => "FAILED",
            ScenarioStatus::RolledBack => "rolled back",
            ScenarioStatus::Stopped => "stopped",
            ScenarioStatus::Skipped => "skipped",
        }
    }
}
