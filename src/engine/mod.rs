//! The engine: runs the config's scenarios on a background task, journal first, and owns the
//! rollback lifecycle (revert on success, undo LIFO on error/timeout/stop/signal).
//!
//! Owns: iteration and scenario order, pause/stop/emergency handling, signal escalation, and
//! the events it publishes. Must not render anything or read keys: the TUI and headless mode
//! talk to it only through [`events`].

mod board;
mod disarm;
pub mod events;
pub mod health_feed;
mod panics;
mod plan;
mod rollback;
mod run;
pub mod scenario_rows;
pub mod signals;

pub use events::{EngineCommand, EngineEvent, EngineState, ScenarioResult};
pub use plan::{PlannedFile, load_plan, load_plan_skipping};
pub use run::{EngineHandle, EngineSetup, RunSummary, spawn};
