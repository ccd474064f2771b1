//! The health task's reports merged into the run's event stream, and its stop requests turned
//! into the operator's stop.
//!
//! Owns: the order of the merged stream (health first when both are ready: a sample taken
//! before an engine event happened before it) and the end of the health task with the run.
//! Must not drop or reorder the engine's own events.

use tokio::sync::mpsc;

use super::events::{EngineCommand, EngineEvent};
use crate::health::{HealthEvent, Running};

/// The stream to read instead of the engine's `events`: those events unchanged, with the
/// health task's merged in. The health task ends when the run does.
pub fn attach(
    health: Option<Running>,
    events: mpsc::UnboundedReceiver<EngineEvent>,
    commands: mpsc::UnboundedSender<EngineCommand>,
) -> mpsc::UnboundedReceiver<EngineEvent> {
    match health {
        Some(running) => merge(running, events, commands),
        None => events,
    }
}

fn merge(
    mut health: Running,
    mut engine: mpsc::UnboundedReceiver<EngineEvent>,
    commands: mpsc::UnboundedSender<EngineCommand>,
) -> mpsc::UnboundedReceiver<EngineEvent> {
    let (out, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            // Health first: its events queued before an engine event happened before it (the
            // baseline round before the first scenario, above all).
            tokio::select! {
                biased;
                Some(event) = health.events.recv() => {
                    let _ = out.send(EngineEvent::from(event));
                }
                Some(()) = health.stops.recv() => {
                    let _ = commands.send(EngineCommand::Stop);
                }
                event = engine.recv() => {
                    let Some(event) = event else { break };
                    let last = matches!(event, EngineEvent::RunFinished { .. });
                    let _ = out.send(event);
                    if last {
                        break;
                    }
                }
            }
        }
        // The run is over (or the engine is gone): no more samples.
        health.done.cancel();
    });
    rx
}

impl From<HealthEvent> for EngineEvent {
    fn from(event: HealthEvent) -> Self {
        match event {
            HealthEvent::Started { checks, interval } => {
                EngineEvent::HealthStarted { checks, interval }
            }
            HealthEvent::Sample(sample) => EngineEvent::HealthSample(sample),
            HealthEvent::Log(line) => EngineEvent::Log(line),
        }
    }
}
