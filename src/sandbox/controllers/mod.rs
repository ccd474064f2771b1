//! Mini-controllers that make the store behave like a cluster.
//!
//! Owns: reconciling desired state (deployments, replicasets, jobs, PDB status) and the pod
//! lifecycle (scheduling, Pending → Running/Ready, graceful termination). They act only
//! through the store's public API, as a client would. Must not touch HTTP.

pub mod disruption;

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::SandboxOptions;
use super::store::Store;

/// Starts every controller; they stop when `stop` is cancelled.
pub fn spawn(
    _store: Arc<Store>,
    _opts: &SandboxOptions,
    _stop: CancellationToken,
) -> Vec<JoinHandle<()>> {
    Vec::new()
}
