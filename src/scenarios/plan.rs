//! The two traits every scenario type implements: loading its file, and running the plan.

use std::path::Path;
use std::time::Duration;

use futures::future::BoxFuture;

use super::ctx::ScenarioCtx;
use super::error::ScenarioError;
use super::needs::Need;
use crate::config::ConfigError;

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
