//! The operator's terminal UI (ratatui + crossterm).
//!
//! Owns: UI state, the key table (which also renders the help screen), rendering, and the event
//! loop that multiplexes keys, engine events, journal changes and executor progress. Must not
//! talk to the cluster itself: it sends commands to the engine or starts the journal executor,
//! and renders what comes back.

pub mod app;
pub mod headline;
pub mod health_rows;
pub mod inspect;
pub mod keys;
pub mod progress_view;
pub mod render;
mod runtime;
mod terminal;
pub mod theme;
pub mod tree;
pub mod tree_view;
pub mod update;

pub use runtime::{EmergencyHook, Feed, Session, run};
