//! What the header line says the engine is doing, in words: from the longest form to a short one
//! that always fits. Pure: reads [`App`], no drawing.

use std::time::Duration;

use crate::engine::EngineState;

use super::app::{App, Mode, RowStatus};

/// The engine's state for the header, longest first; the last one is the shortest.
pub fn engine_texts(app: &App) -> Vec<String> {
    let (short, long) = engine_text(app);
    let running = app.scenarios.iter().position(|r| r.status == RowStatus::Running);
    let mut texts = vec![long];
    if app.engine_state == Some(EngineState::Running)
        && let Some(i) = running
    {
        let attached = if app.header.attached.is_some() { "attached, " } else { "" };
        texts.push(format!("{attached}running {}/{}", i + 1, app.scenarios.len()));
    }
    texts.push(short);
    texts
}

/// The engine's state for the header: `(short, long)`.
fn engine_text(app: &App) -> (String, String) {
    if let Some(attached) = &app.header.attached {
        // The attached run's own state, once its Lease carried its progress.
        if app.engine_state.is_none() {
            return ("attached".into(), format!("attached: {attached}"));
        }
        let (short, long) = state_text(app);
        return (format!("attached, {short}"), format!("attached, {long}: {attached}"));
    }
    if app.mode == Mode::Inspect {
        return ("inspect".into(), "inspect: no engine, the journal only".into());
    }
    state_text(app)
}

/// What the engine state says: `(short, long)`.
fn state_text(app: &App) -> (String, String) {
    let running = app.scenarios.iter().position(|r| r.status == RowStatus::Running);
    let of = |i: usize| format!("{}/{}", i + 1, app.scenarios.len());
    let Some(state) = app.engine_state else { return ("starting".into(), "starting".into()) };
    let short = state.label().to_string();
    let long = match state {
        EngineState::Running => match running {
            Some(i) => {
                let row = &app.scenarios[i];
                format!("running {} {}", of(i), row.scenario_type)
            }
            None => "running".into(),
        },
        EngineState::Pausing => match running.map(|i| &app.scenarios[i]) {
            Some(row) => format!(
                "pausing: the window in progress ends in {} s, then paused",
                secs(row.expected.saturating_sub(row.elapsed))
            ),
            None => "pausing".into(),
        },
        EngineState::Paused => {
            let next = app.scenarios.iter().position(|r| r.status == RowStatus::Queued);
            match next {
                Some(i) => format!("paused before {} (p resumes)", of(i)),
                None => "paused (p resumes)".into(),
            }
        }
        EngineState::Waiting => {
            match app.scenarios.iter().position(|r| r.status == RowStatus::Queued) {
                Some(i) => format!("waiting (tunings.wait_duration) before {}", of(i)),
                None => "waiting (tunings.wait_duration)".into(),
            }
        }
        EngineState::RollingBack => "rolling back".into(),
        EngineState::Stopped | EngineState::Finished => match app.exit_code {
            Some(code) => format!("{short}, exit {code}"),
            None => short.clone(),
        },
    };
    (short, long)
}

/// The game-day clock: `T+04:12`, `T+1:02:03`.
pub fn clock(elapsed: Duration) -> String {
    let s = elapsed.as_secs();
    if s >= 3600 {
        format!("T+{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("T+{:02}:{:02}", s / 60, s % 60)
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_reads_minutes_then_hours() {
        assert_eq!(clock(Duration::from_secs(252)), "T+04:12");
        assert_eq!(clock(Duration::from_secs(3723)), "T+1:02:03");
    }
}
