//! The one place the engine's state is published: what the run loop is doing and whether the
//! operator paused it, combined, so the screen never says `running` while nothing runs and
//! never says `paused` while a chaos window is still open.
//!
//! Must not decide anything: the run loop and the control loop tell it what happened.

use std::sync::Mutex;

use tokio::sync::mpsc;

use super::events::{EngineEvent, EngineState};

/// Where the run loop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// A scenario file is executing.
    InScenario,
    /// Between two scenario files, about to start the next one.
    Between,
    /// Sitting out `tunings.wait_duration`.
    Waiting,
    RollingBack,
    Stopped,
    Finished,
}

struct Inner {
    phase: Phase,
    paused: bool,
    shown: Option<EngineState>,
}

pub(super) struct Board {
    inner: Mutex<Inner>,
    events: mpsc::UnboundedSender<EngineEvent>,
}

impl Board {
    pub(super) fn new(paused: bool, events: mpsc::UnboundedSender<EngineEvent>) -> Board {
        Board { inner: Mutex::new(Inner { phase: Phase::Between, paused, shown: None }), events }
    }

    pub(super) fn phase(&self, phase: Phase) {
        self.update(|i| i.phase = phase);
    }

    /// Records a pause or resume; false when it changes nothing (already so).
    pub(super) fn set_paused(&self, paused: bool) -> bool {
        let mut changed = false;
        self.update(|i| {
            changed = i.paused != paused;
            i.paused = paused;
        });
        changed
    }

    /// Whether a scenario is executing now.
    pub(super) fn in_scenario(&self) -> bool {
        self.inner.lock().is_ok_and(|i| i.phase == Phase::InScenario)
    }

    fn update(&self, change: impl FnOnce(&mut Inner)) {
        let Ok(mut inner) = self.inner.lock() else { return };
        change(&mut inner);
        let state = shown(inner.phase, inner.paused);
        if inner.shown != Some(state) {
            inner.shown = Some(state);
            let _ = self.events.send(EngineEvent::State(state));
        }
    }
}

fn shown(phase: Phase, paused: bool) -> EngineState {
    match (phase, paused) {
        (Phase::InScenario, true) => EngineState::Pausing,
        (Phase::InScenario, false) | (Phase::Between, false) => EngineState::Running,
        (Phase::Between | Phase::Waiting, true) => EngineState::Paused,
        (Phase::Waiting, false) => EngineState::Waiting,
        (Phase::RollingBack, _) => EngineState::RollingBack,
        (Phase::Stopped, _) => EngineState::Stopped,
        (Phase::Finished, _) => EngineState::Finished,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(rx: &mut mpsc::UnboundedReceiver<EngineEvent>) -> Vec<EngineState> {
        std::iter::from_fn(|| match rx.try_recv() {
            Ok(EngineEvent::State(s)) => Some(s),
            _ => None,
        })
        .collect()
    }

    /// `p` during an outage, the outage ending, the wait, `p` again: each press changes the
    /// state once and the state always says what runs.
    #[test]
    fn a_pause_during_a_window_says_pausing_then_paused_and_one_press_resumes() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let board = Board::new(false, tx);
        board.phase(Phase::InScenario);
        assert!(board.set_paused(true));
        assert!(!board.set_paused(true), "a second pause changes nothing");
        board.phase(Phase::RollingBack);
        board.phase(Phase::Waiting);
        board.phase(Phase::Between);
        assert!(board.set_paused(false));
        board.phase(Phase::InScenario);
        use EngineState::*;
        assert_eq!(states(&mut rx), [Running, Pausing, RollingBack, Paused, Running]);
    }
}
