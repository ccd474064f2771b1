//! Health checks during a run: Krkn's `health_checks` HTTP probes plus built-in readiness
//! checks of the workloads each scenario targets, sampled every `interval` on their own task.
//!
//! Owns: resolving what to check, probing, and reporting [`HealthEvent`]s (its rows, then
//! samples) and one stop request per `exit_on_failure` failure. The engine merges both into
//! the run's stream (`engine::health_feed`): the TUI, the headless printer, the report and the
//! metrics see them like any engine event, and a stop request is what the operator's `s` key
//! sends.
//!
//! Must not touch: the engine (it speaks only its own vocabulary, in [`rows`]), the journal,
//! or anything mutating: every request it makes is a GET.

mod http;
mod permissions;
mod readiness;
pub mod rows;
mod runner;
mod setup;

pub use permissions::permissions;
pub use readiness::Target;
pub use rows::{CheckInfo, CheckKind, HealthEvent, Sample, url_name};
pub use runner::Running;
pub use setup::Setup;

/// Starts the health task (`None` when there is nothing to check) and waits for its first
/// round: call it before the engine starts, so that round is a baseline without chaos.
pub async fn start(setup: Setup) -> Option<Running> {
    if setup.is_empty() {
        return None;
    }
    Some(runner::start(setup).await)
}
