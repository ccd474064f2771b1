//! What the health task is given before the engine starts.

use std::sync::Arc;

use crate::cluster::ClusterOps;
use crate::config::HealthChecks;

use super::readiness::Target;

/// Everything the health task needs; built before the engine starts.
pub struct Setup {
    pub config: HealthChecks,
    /// Readiness targets of the run's scenarios, deduplicated.
    pub targets: Vec<Target>,
    pub ops: Arc<ClusterOps>,
    /// A client of the same cluster with kube's retries off: a 503 is an answer to record at
    /// once, not a reason to retry for minutes.
    pub probe: kube::Client,
}

impl Setup {
    /// Whether there is anything to check at all.
    pub fn is_empty(&self) -> bool {
        self.config.checks.is_empty() && self.targets.is_empty()
    }
}
