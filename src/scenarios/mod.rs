//! Chaos scenarios, one module per Krkn `scenario_type`, behind one small trait.
//!
//! Owns: reading each type's scenario file (Krkn's format) and performing its changes through
//! [`ScenarioCtx`], which journals every change before making it. Must not write journal files
//! or know the engine (it reports through [`ScenarioEvent`]); must not undo other scenarios'
//! changes. Each plan declares what it needs ([`needs`]); its context enforces that.

pub mod ctx;
mod file;
mod names;
pub mod needs;

mod app_outage;
mod attackers;
mod hog;
mod node;
mod pod_disruption;
mod service_hijacking;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::cluster::OpError;
use crate::config::ConfigError;
use crate::journal::JournalError;

pub use ctx::{Change, ScenarioCtx};
pub use needs::{Need, Op};

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("stopped")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("cluster: {0}")]
    Cluster(Box<OpError>),
    #[error("kubernetes API: {0}")]
    Kube(Box<kube::Error>),
    #[error("internal: {0}")]
    Internal(String),
    /// A bug: the scenario panicked. The engine rolls back like any failure and ends the run.
    #[error("internal error (a bug in chaosdeck): panicked: {0}")]
    Panicked(String),
}

impl From<kube::Error> for ScenarioError {
    fn from(e: kube::Error) -> Self {
        ScenarioError::Kube(Box::new(e))
    }
}

impl From<OpError> for ScenarioError {
    fn from(e: OpError) -> Self {
        ScenarioError::Cluster(Box::new(e))
    }
}

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

/// One scenario type, as named in Krkn's `chaos_scenarios`.
pub trait ScenarioType: Send + Sync {
    fn name(&self) -> &'static str;
    /// Reads and validates one scenario file; errors name the file and line.
    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError>;
}

/// A loaded scenario file, ready to run (possibly several times).
pub trait ScenarioPlan: Send + Sync {
    /// One line for the plan and the TUI.
    fn describe(&self) -> String;
    /// How long the chaos lasts, for progress gauges.
    fn expected(&self) -> Duration;
    /// The run is failed (and rolled back) when it takes longer than this.
    fn timeout(&self) -> Duration {
        self.expected() * 2 + Duration::from_secs(120)
    }
    /// Every operation `run` may ask of its [`ScenarioCtx`], with kinds and namespaces: the
    /// preflight checks the permissions these take, and the context refuses anything else.
    fn needs(&self) -> Vec<Need>;
    /// The workloads whose readiness the health panel follows while the run lasts (none by
    /// default: node and hog scenarios target nodes).
    fn health_targets(&self) -> Vec<crate::health::Target> {
        Vec::new()
    }
    /// Keys of Krkn's format in the file that chaosdeck does not use (named once, not an error).
    fn ignored_keys(&self) -> Vec<String> {
        Vec::new()
    }
    /// Performs the chaos and, on normal completion, reverts its own changes.
    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>>;
}

/// How a run ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Skipped(String),
}

static REGISTRY: [&dyn ScenarioType; 7] = [
    &app_outage::Type,
    &hog::Type,
    &service_hijacking::Type,
    &attackers::SynFlood,
    &attackers::HttpLoad,
    &pod_disruption::Type,
    &node::Type,
];

pub fn registry() -> &'static [&'static dyn ScenarioType] {
    &REGISTRY
}

pub fn find(name: &str) -> Option<&'static dyn ScenarioType> {
    REGISTRY.iter().copied().find(|t| t.name() == name)
}

pub fn supported_names() -> Vec<&'static str> {
    REGISTRY.iter().map(|t| t.name()).collect()
}
