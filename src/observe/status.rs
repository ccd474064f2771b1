//! The Krkn-compatible status endpoint: `GET /` answers RUN, PAUSE or STOP; `POST /RUN`,
//! `/PAUSE`, `/STOP` resume, pause or stop the engine (the same commands as the TUI's keys).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tokio::sync::mpsc;

use crate::engine::{EngineCommand, EngineEvent, EngineState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusValue {
    Run,
    Pause,
    Stop,
}

impl StatusValue {
    pub fn parse(text: &str) -> Option<StatusValue> {
        match text.trim().to_ascii_uppercase().as_str() {
            "RUN" => Some(StatusValue::Run),
            "PAUSE" => Some(StatusValue::Pause),
            "STOP" => Some(StatusValue::Stop),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusValue::Run => "RUN",
            StatusValue::Pause => "PAUSE",
            StatusValue::Stop => "STOP",
        }
    }
}

/// The published status, shared by the server and the event tee (the TUI's keys change the
/// engine's state too, and `GET /` must say so).
#[derive(Clone, Debug)]
pub struct Status(Arc<Mutex<StatusValue>>);

impl Status {
    pub fn new(initial: StatusValue) -> Status {
        Status(Arc::new(Mutex::new(initial)))
    }

    pub fn get(&self) -> StatusValue {
        self.0.lock().map(|v| *v).unwrap_or(StatusValue::Stop)
    }

    fn set(&self, value: StatusValue) {
        if let Ok(mut v) = self.0.lock() {
            // STOP is final: a run that stopped cannot be resumed.
            if *v != StatusValue::Stop {
                *v = value;
            }
        }
    }

    pub fn observe(&self, event: &EngineEvent) {
        match event {
            EngineEvent::State(EngineState::Paused | EngineState::Pausing) => {
                self.set(StatusValue::Pause)
            }
            EngineEvent::State(EngineState::Running) => self.set(StatusValue::Run),
            EngineEvent::State(EngineState::Stopped | EngineState::Finished)
            | EngineEvent::RunFinished { .. } => self.set(StatusValue::Stop),
            _ => {}
        }
    }
}

#[derive(Clone)]
struct AppState {
    status: Status,
    commands: mpsc::UnboundedSender<EngineCommand>,
}

async fn current(State(s): State<AppState>) -> String {
    s.status.get().as_str().to_string()
}

fn change(s: &AppState, value: StatusValue) -> (StatusCode, String) {
    let command = match value {
        StatusValue::Run => EngineCommand::Resume,
        StatusValue::Pause => EngineCommand::Pause,
        StatusValue::Stop => EngineCommand::Stop,
    };
    if s.status.get() == StatusValue::Stop {
        return (StatusCode::CONFLICT, "STOP\n".into());
    }
    if s.commands.send(command).is_err() {
        return (StatusCode::GONE, "the run has ended\n".into());
    }
    s.status.set(value);
    (StatusCode::OK, value.as_str().to_string())
}

async fn run(State(s): State<AppState>) -> (StatusCode, String) {
    change(&s, StatusValue::Run)
}

async fn pause(State(s): State<AppState>) -> (StatusCode, String) {
    change(&s, StatusValue::Pause)
}

async fn stop(State(s): State<AppState>) -> (StatusCode, String) {
    change(&s, StatusValue::Stop)
}

/// Serves the status endpoint on `listener` until the process ends.
pub fn serve(
    listener: tokio::net::TcpListener,
    status: Status,
    commands: mpsc::UnboundedSender<EngineCommand>,
) {
    let app = Router::new()
        .route("/", get(current))
        .route("/RUN", post(run))
        .route("/PAUSE", post(pause))
        .route("/STOP", post(stop))
        .with_state(AppState { status, commands });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            crate::out::err_line(format!("warning: the status server stopped: {e}"));
        }
    });
}
