//! An attached run's progress (`chaosdeck attach`) folded into the Scenarios and Health panels
//! as if its engine were here: the rows replaced by what the run's Lease says, with a log line
//! for each scenario that starts or ends and each health row that turns.
//!
//! Owns: that fold. Must not read the Lease (the attach loop does) or trust more than
//! `deadman::progress::Progress::decode` left: counts bounded, text printable.

use std::time::Duration;

use super::app::{App, RowStatus};
use crate::deadman::progress::Progress;
use crate::engine::EngineState;
use crate::health::{CheckInfo, CheckKind, Sample};

pub fn apply(app: &mut App, progress: &Progress) {
    app.engine_state = engine_state(&progress.state);
    let rows = progress.scenarios.clone();
    for (i, row) in rows.iter().enumerate() {
        let before = app.scenarios.get(i).map(|r| r.status);
        if before != Some(row.status) && row.status != RowStatus::Queued {
            app.push_log(format!(
                "run: {} {} ({})",
                row.file,
                row.status.word(),
                if row.step.is_empty() { "-" } else { row.step.as_str() }
            ));
        }
    }
    if progress.left_out > 0 {
        app.header.attached = app
            .header
            .attached
            .take()
            .map(|a| format!("{a}; {} rows not on the Lease", progress.left_out));
    }
    app.scenarios = rows;
    app.scenario_selected = app.scenario_selected.min(app.scenarios.len().saturating_sub(1));
    if app.run_started.is_none() && !app.scenarios.is_empty() {
        app.run_started = Some(std::time::Instant::now());
    }
    app.health.chaos_now = app.scenarios.iter().any(|r| r.status == RowStatus::Running);
    apply_health(app, progress);
    if let Some(code) = progress.exit_code
        && app.exit_code != Some(code)
    {
        app.exit_code = Some(code);
        app.push_log(format!("run: finished, exit code {code}"));
    }
}

/// The run no longer renews its Lease (or released it): no engine state, and what it last
/// said was running is shown stopped, with `why` (said once in the log).
pub fn gone(app: &mut App, why: &str) {
    app.engine_state = None;
    app.health.chaos_now = false;
    let mut changed = false;
    for row in app.scenarios.iter_mut().filter(|r| r.status == RowStatus::Running) {
        row.status = RowStatus::Stopped;
        row.step = why.to_string();
        changed = true;
    }
    if changed {
        app.push_log(format!("run: {why}"));
    }
}

fn apply_health(app: &mut App, progress: &Progress) {
    let same_rows = app.health.rows.len() == progress.health.len()
        && app.health.rows.iter().zip(&progress.health).all(|(r, l)| r.info.name == l.name);
    if !same_rows {
        let checks: Vec<CheckInfo> = progress
            .health
            .iter()
            .map(|l| CheckInfo {
                name: l.name.clone(),
                kind: kind(&l.kind),
                exit_on_failure: false,
            })
            .collect();
        app.health.start(&checks, Duration::from_millis(progress.health_interval_ms));
    }
    for (check, line) in progress.health.iter().enumerate() {
        let Some(tick) = line.tick else { continue };
        let seen = app.health.rows.get(check).and_then(|r| r.last.as_ref()).map(|s| s.tick);
        if seen == Some(tick) {
            continue;
        }
        let sample = Sample {
            check,
            tick,
            ok: line.ok,
            code: line.code,
            latency: Duration::from_millis(line.latency_ms),
            detail: line.detail.clone(),
        };
        if let Some(name) = app.health.record(&sample) {
            let word = if sample.ok { "healthy again" } else { "FAILING" };
            app.push_log(format!("run: health: {name} {word} ({})", sample.detail));
        }
    }
}

/// The engine state a progress names by its label, if it names one.
fn engine_state(label: &str) -> Option<EngineState> {
    use EngineState as S;
    [S::Running, S::Pausing, S::Paused, S::Waiting, S::RollingBack, S::Stopped, S::Finished]
        .into_iter()
        .find(|s| s.label() == label)
}

fn kind(text: &str) -> CheckKind {
    match text {
        "workload" => CheckKind::Workload,
        "service" => CheckKind::Service,
        _ => CheckKind::Http,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadman::progress::HealthLine;
    use crate::tui::app::ScenarioRow;
    use crate::tui::app::{Header, Mode};
    use crate::tui::theme::Theme;

    fn line(status: RowStatus, step: &str) -> ScenarioRow {
        ScenarioRow {
            scenario_type: "application_outages_scenarios".into(),
            file: "app_outage.yaml".into(),
            status,
            iteration: 1,
            step: step.into(),
            elapsed: Duration::from_millis(1500),
            expected: Duration::from_secs(20),
        }
    }

    fn health(tick: u64, ok: bool) -> HealthLine {
        HealthLine {
            name: "frontend".into(),
            kind: "workload".into(),
            tick: Some(tick),
            ok,
            code: None,
            latency_ms: 3,
            detail: if ok { "2/2 ready".into() } else { "0/2 ready".into() },
        }
    }

    #[test]
    fn a_run_on_another_machine_fills_the_panels_and_logs_what_turned() {
        let mut app = App::new(Mode::Inspect, Header::default(), Theme { color: false });
        let mut p = Progress {
            state: "running".into(),
            scenarios: vec![line(RowStatus::Running, "outage in shop")],
            health: vec![health(0, true)],
            health_interval_ms: 1000,
            ..Progress::default()
        };
        apply(&mut app, &p);
        assert_eq!(app.scenarios[0].status, RowStatus::Running);
        assert_eq!(app.scenarios[0].elapsed, Duration::from_millis(1500));
        assert_eq!(app.engine_state, Some(crate::engine::EngineState::Running));
        assert!(app.health.chaos_now);
        p.health = vec![health(1, false)];
        apply(&mut app, &p);
        apply(&mut app, &p);
        p.scenarios = vec![line(RowStatus::Passed, "passed")];
        p.exit_code = Some(0);
        apply(&mut app, &p);
        let log: Vec<&String> = app.log.iter().collect();
        assert_eq!(
            log,
            [
                "run: app_outage.yaml running (outage in shop)",
                "run: health: frontend FAILING (0/2 ready)",
                "run: app_outage.yaml passed (passed)",
                "run: finished, exit code 0",
            ]
        );
        assert_eq!(app.health.rows[0].history.len(), 2, "a round seen twice counts once");
        assert!(!app.health.chaos_now);
        p.state = "running\u{fffd}[2J".into();
        apply(&mut app, &p);
        assert_eq!(app.engine_state, None, "a state no engine has");
    }

    #[test]
    fn a_run_that_stopped_renewing_is_not_shown_running() {
        let mut app = App::new(Mode::Inspect, Header::default(), Theme { color: false });
        let p = Progress {
            state: "running".into(),
            scenarios: vec![line(RowStatus::Running, "outage in shop")],
            ..Progress::default()
        };
        apply(&mut app, &p);
        gone(&mut app, "the run ended: its Lease is released");
        gone(&mut app, "the run ended: its Lease is released");
        assert_eq!(app.engine_state, None);
        assert_eq!(app.scenarios[0].status, RowStatus::Stopped);
        assert_eq!(app.scenarios[0].step, "the run ended: its Lease is released");
        let said = app.log.iter().filter(|l| l.contains("Lease is released")).count();
        assert_eq!(said, 1, "{:?}", app.log);
    }
}
