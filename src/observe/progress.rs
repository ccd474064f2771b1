//! The run's side of its progress record (`deadman::progress`): the engine's events folded
//! into it, as the tee sees them.
//!
//! Owns: that fold. Must not write anywhere: the tee hands [`Progress::encode`]'s text to the
//! Lease keeper, which writes it.

use crate::deadman::progress::{HealthLine, Progress};
use crate::engine::{EngineEvent, scenario_rows};
use crate::scenario_status::ms;

/// Folds one event into `p`; true when what [`Progress::encode`] returns may have changed.
/// The scenario rows move as the TUI's do ([`scenario_rows::fold`]); a run that publishes its
/// progress is never a dry run (a dry run arms no switch).
pub fn fold(p: &mut Progress, event: &EngineEvent) -> bool {
    let rows_changed = scenario_rows::fold(&mut p.scenarios, event, false);
    match event {
        EngineEvent::State(state) => p.state = state.label().into(),
        EngineEvent::HealthStarted { checks, interval } => {
            p.health_interval_ms = ms(*interval);
            p.health = checks
                .iter()
                .map(|c| HealthLine {
                    name: c.name.clone(),
                    kind: c.kind.as_str().into(),
                    ..HealthLine::default()
                })
                .collect();
        }
        EngineEvent::HealthSample(sample) => {
            let Some(row) = p.health.get_mut(sample.check) else { return false };
            row.tick = Some(sample.tick);
            row.ok = sample.ok;
            row.code = sample.code;
            row.latency_ms = ms(sample.latency);
            row.detail = sample.detail.clone();
        }
        EngineEvent::RunFinished { exit_code, .. } => p.exit_code = Some(*exit_code),
        _ => return rows_changed,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    use crate::engine::ScenarioResult;
    use crate::scenario_status::ScenarioStatus;

    fn started(n: usize) -> Progress {
        let mut p = Progress::default();
        let scenarios =
            (0..n).map(|i| (format!("type_{i}"), PathBuf::from(format!("/x/f{i}.yaml")))).collect();
        fold(
            &mut p,
            &EngineEvent::RunStarted {
                run_uuid: "r".into(),
                journal: PathBuf::from("/j"),
                scenarios,
            },
        );
        p
    }

    #[test]
    fn a_scenario_runs_and_passes() {
        let mut p = started(2);
        fold(
            &mut p,
            &EngineEvent::ScenarioStarted {
                index: 0,
                iteration: 1,
                scenario_type: "type_0".into(),
                file: PathBuf::from("/x/f0.yaml"),
                expected: Duration::from_secs(20),
            },
        );
        fold(&mut p, &EngineEvent::ScenarioStep { index: 0, text: "outage in shop".into() });
        fold(
            &mut p,
            &EngineEvent::ScenarioProgress {
                index: 0,
                elapsed: Duration::from_millis(2500),
                expected: Duration::from_secs(20),
            },
        );
        let back = Progress::decode(&p.encode()).unwrap();
        assert_eq!(back.scenarios[0].status, ScenarioStatus::Running);
        assert_eq!(back.scenarios[0].step, "outage in shop");
        let row = &back.scenarios[0];
        assert_eq!(
            (row.elapsed, row.expected),
            (Duration::from_millis(2500), Duration::from_secs(20))
        );
        assert_eq!(back.scenarios[1].file, "f1.yaml");
        fold(
            &mut p,
            &EngineEvent::ScenarioFinished {
                index: 0,
                result: ScenarioResult::Failed { error: "boom".into(), rolled_back: true },
            },
        );
        fold(&mut p, &EngineEvent::RunFinished { outstanding: 0, exit_code: 1 });
        let back = Progress::decode(&p.encode()).unwrap();
        assert_eq!(back.scenarios[0].status, ScenarioStatus::RolledBack);
        assert_eq!(back.scenarios[0].elapsed, Duration::from_secs(20));
        assert_eq!(back.scenarios[1].status, ScenarioStatus::Skipped);
        assert_eq!(back.exit_code, Some(1));
    }
}
