//! Where one scenario file of a run stands, in the words every front end uses: the TUI's
//! Scenarios panel, and the progress a run publishes on its Lease for `chaosdeck attach`.
//!
//! Owns: the states and their names, and the row both front ends show. Must not know how a run
//! reaches them: the engine's events move a row (`engine::scenario_rows`).

use std::time::Duration;

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

/// One scenario file of a run: the Scenarios panel's row, and the same row as a run's Lease
/// carries it (durations in milliseconds there, `elapsed_ms`/`expected_ms`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioRow {
    pub scenario_type: String,
    pub file: String,
    pub status: ScenarioStatus,
    #[serde(default)]
    pub iteration: u64,
    #[serde(default)]
    pub step: String,
    #[serde(default, rename = "elapsed_ms", with = "millis")]
    pub elapsed: Duration,
    #[serde(default, rename = "expected_ms", with = "millis")]
    pub expected: Duration,
}

/// A duration as whole milliseconds.
pub fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(super::ms(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_carries_its_durations_as_milliseconds() {
        let row = ScenarioRow {
            file: "f.yaml".into(),
            elapsed: Duration::from_millis(1500),
            expected: Duration::from_secs(20),
            ..ScenarioRow::default()
        };
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(
            (json["elapsed_ms"].as_u64(), json["expected_ms"].as_u64()),
            (Some(1500), Some(20000))
        );
        assert_eq!(serde_json::from_value::<ScenarioRow>(json).unwrap(), row);
        let bare: ScenarioRow =
            serde_json::from_str(r#"{"scenario_type":"t","file":"f","status":"queued"}"#).unwrap();
        assert_eq!(bare.expected, Duration::ZERO);
    }
}
