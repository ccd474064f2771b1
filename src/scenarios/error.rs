//! How a scenario fails.

use crate::cluster::OpError;
use crate::journal::JournalError;

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
