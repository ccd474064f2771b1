//! Health checks during a run: Krkn's `health_checks` HTTP probes plus built-in readiness
//! checks of the workloads each scenario targets, sampled every `interval` on their own task.
//!
//! Owns: resolving what to check, probing, and publishing [`EngineEvent::HealthStarted`] and
//! [`EngineEvent::HealthSample`] into the run's event stream (so the TUI, the headless
//! printer, the report and the metrics see them like any engine event). A failed check with
//! `exit_on_failure` sends [`EngineCommand::Stop`], exactly what the operator's `s` key sends:
//! the engine then rolls the current scenario back and the run exits 1.
//!
//! Must not touch: the engine's loop (it only adds events to the stream and sends commands),
//! the journal, or anything mutating: every request it makes is a GET.

mod http;
mod permissions;
mod readiness;
mod runner;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::cluster::ClusterOps;
use crate::config::{CheckUrl, HealthChecks};
use crate::engine::{EngineCommand, EngineEvent};

pub use permissions::permissions;
pub use readiness::Target;
pub use runner::Running;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// A `health_checks.config` URL.
    Http,
    /// Built in: ready/desired replicas of a Deployment a scenario targets.
    Workload,
    /// Built in: the ready endpoints of a Service a scenario hijacks.
    Service,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Http => "http",
            CheckKind::Workload => "workload",
            CheckKind::Service => "service",
        }
    }
}

/// One row of the health panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInfo {
    pub name: String,
    pub kind: CheckKind,
    pub exit_on_failure: bool,
}

/// One probe of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Position in the `checks` of [`EngineEvent::HealthStarted`].
    pub check: usize,
    /// Which round of probes (0 first): samples of one round share a column of the timeline.
    pub tick: u64,
    pub ok: bool,
    /// The HTTP status, for URL checks that got an answer.
    pub code: Option<u16>,
    pub latency: Duration,
    /// `200`, `3/3 ready`, or what went wrong.
    pub detail: String,
}

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

/// Starts the health task (`None` when there is nothing to check) and waits for its first
/// round: call it before the engine starts, so that round is a baseline without chaos.
pub async fn start(setup: Setup) -> Option<runner::Running> {
    if setup.is_empty() {
        return None;
    }
    Some(runner::start(setup).await)
}

/// Returns the stream to read instead of the engine's `events`: those events unchanged, with
/// the health events merged in. The health task ends when the run does.
pub fn attach(
    health: Option<runner::Running>,
    events: mpsc::UnboundedReceiver<EngineEvent>,
    commands: mpsc::UnboundedSender<EngineCommand>,
) -> mpsc::UnboundedReceiver<EngineEvent> {
    match health {
        Some(running) => runner::attach(running, events, commands),
        None => events,
    }
}

/// The row name of a URL check: `svc NS/NAME:PORT` for a service proxy path, else the URL.
pub fn url_name(url: &CheckUrl) -> String {
    // Shown in logs, the TUI, /metrics labels and reports: never with credentials.
    let text = &url.shown();
    if let CheckUrl::Cluster(_) = url
        && let Some(rest) = text.strip_prefix("/api/v1/namespaces/")
        && let Some((ns, rest)) = rest.split_once("/services/")
        && let Some((svc, tail)) = rest.split_once("/proxy")
    {
        let tail = tail.trim_start_matches('/');
        return if tail.is_empty() {
            format!("svc {ns}/{svc}")
        } else {
            format!("svc {ns}/{svc} /{tail}")
        };
    }
    text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")).unwrap_or(text).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_proxy_paths_get_short_names() {
        let u = CheckUrl::Cluster("/api/v1/namespaces/shop/services/frontend:80/proxy/".into());
        assert_eq!(url_name(&u), "svc shop/frontend:80");
        let u = CheckUrl::Cluster("/api/v1/namespaces/shop/services/web/proxy/healthz".into());
        assert_eq!(url_name(&u), "svc shop/web /healthz");
        assert_eq!(url_name(&CheckUrl::Cluster("/readyz".into())), "/readyz");
        assert_eq!(url_name(&CheckUrl::Absolute("https://a.example/h".into())), "a.example/h");
        let secret = CheckUrl::Absolute("https://u:pw@a.example/h?token=t".into());
        assert_eq!(url_name(&secret), "***@a.example/h?token=***");
        let proxied =
            CheckUrl::Cluster("/api/v1/namespaces/shop/services/web/proxy/h?key=k".into());
        assert_eq!(url_name(&proxied), "svc shop/web /h?key=***");
    }
}
