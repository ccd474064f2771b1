//! The Scenarios rows as the engine's events move them: one fold that every front end calls —
//! the TUI for its panel, the run for the progress it publishes on its Lease — so a row reads
//! the same wherever it is shown.
//!
//! Owns: how each event changes a row. Must not log, draw or keep anything beyond the rows:
//! what a front end adds (log lines, the health window's chaos marker) stays with it.

use crate::scenario_status::{ScenarioRow, ScenarioStatus};

use super::EngineEvent;

/// Folds one event into `rows`; true when a row may have changed. `dry_run` words a finished
/// file as a dry run's ([`super::ScenarioResult::shown`]).
pub fn fold(rows: &mut Vec<ScenarioRow>, event: &EngineEvent, dry_run: bool) -> bool {
    match event {
        EngineEvent::RunStarted { scenarios, .. } => {
            *rows = scenarios
                .iter()
                .map(|(t, f)| ScenarioRow {
                    scenario_type: t.clone(),
                    file: f
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    ..ScenarioRow::default()
                })
                .collect();
        }
        EngineEvent::ScenarioStarted { index, iteration, expected, .. } => {
            let Some(row) = rows.get_mut(*index) else { return false };
            row.status = ScenarioStatus::Running;
            row.iteration = *iteration;
            row.expected = *expected;
            row.elapsed = Default::default();
            row.step = "starting".into();
        }
        EngineEvent::ScenarioStep { index, text } => {
            let Some(row) = rows.get_mut(*index) else { return false };
            row.step = text.clone();
        }
        EngineEvent::ScenarioProgress { index, elapsed, expected } => {
            let Some(row) = rows.get_mut(*index) else { return false };
            row.elapsed = *elapsed;
            row.expected = *expected;
        }
        EngineEvent::ScenarioFinished { index, result } => {
            let Some(row) = rows.get_mut(*index) else { return false };
            (row.status, row.step) = result.shown(dry_run);
            row.elapsed = row.elapsed.max(row.expected);
        }
        EngineEvent::RunFinished { .. } => {
            for row in rows.iter_mut().filter(|r| r.status == ScenarioStatus::Queued) {
                row.status = ScenarioStatus::Skipped;
                row.step = "not run".into();
            }
        }
        _ => return false,
    }
    true
}
