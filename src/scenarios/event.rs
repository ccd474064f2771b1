//! What a scenario reports while it runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What a scenario reports while it runs; the engine turns these into its own events (this
/// module knows nothing of the engine).
#[derive(Debug, Clone, PartialEq)]
pub enum ScenarioEvent {
    Step { index: usize, text: String },
    Progress { index: usize, elapsed: Duration, expected: Duration },
    Log(String),
    EntryWritten { path: PathBuf, summary: String },
    EntryRetired { path: PathBuf },
}

/// Where a scenario's events go.
pub type EventSink = Arc<dyn Fn(ScenarioEvent) + Send + Sync>;
