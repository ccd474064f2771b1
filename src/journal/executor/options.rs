//! How a batch of undos runs: in parallel or not, how long to wait for a lock, dry or not.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct ExecuteOptions {
    pub dry_run: bool,
    /// How long to wait for another process that holds a context's lock.
    pub lock_patience: Duration,
    /// How many undos may be in flight at once (entries that conflict never overlap).
    pub parallel: usize,
    /// Undo entries in files or directories another user owns or may write (refused by
    /// default: [`trust`](crate::journal::trust)).
    pub foreign_ok: bool,
}

/// Undos in flight by default: enough to hide a far-away cluster's round trips, few enough to
/// stay under an API server's per-client fairness limits.
pub const DEFAULT_PARALLEL: usize = 16;

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            dry_run: false,
            lock_patience: crate::journal::lock::DEFAULT_PATIENCE,
            parallel: DEFAULT_PARALLEL,
            foreign_ok: false,
        }
    }
}
