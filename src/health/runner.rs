//! The health task: resolves the rows, then probes every row once per `interval` (all rows
//! of a round concurrently) until the run finishes.
//!
//! Owns: the task's lifetime (baseline round before the engine, end with the run) and the
//! `exit_on_failure` decision.

use std::time::Duration;

use futures::future::join_all;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::http;
use super::readiness::{self, Watched};
use super::rows::{CheckInfo, CheckKind, HealthEvent, Sample, url_name};
use super::setup::Setup;
use crate::config::CheckUrl;

/// The health task, started ahead of the engine, which merges it into the run's stream.
pub struct Running {
    /// What the task reports, in order.
    pub events: mpsc::UnboundedReceiver<HealthEvent>,
    /// One message per `exit_on_failure` failure: a request to stop the run.
    pub stops: mpsc::UnboundedReceiver<()>,
    /// Cancel when the run is over: no more samples.
    pub done: CancellationToken,
}

/// Starts the task and returns once its first round is done (bounded), so that round is a
/// baseline taken before any chaos.
pub async fn start(setup: Setup) -> Running {
    let (tx, events) = mpsc::unbounded_channel();
    let (stop_tx, stops) = mpsc::unbounded_channel();
    let (first_tx, first_rx) = oneshot::channel();
    let done = CancellationToken::new();
    let cancelled = done.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = cancelled.cancelled() => {}
            _ = run(setup, tx, stop_tx, first_tx) => {}
        }
    });
    // Probes time out after at most 5 s; this only guards against a stuck resolution.
    let _ = tokio::time::timeout(Duration::from_secs(15), first_rx).await;
    Running { events, stops, done }
}

async fn run(
    setup: Setup,
    events: mpsc::UnboundedSender<HealthEvent>,
    stops: mpsc::UnboundedSender<()>,
    first_round: oneshot::Sender<()>,
) {
    let mut first_round = Some(first_round);
    let Setup { config, targets, ops, probe } = setup;
    let watched = readiness::resolve(&ops, &targets).await;
    let mut checks: Vec<CheckInfo> = config
        .checks
        .iter()
        .map(|c| CheckInfo {
            name: url_name(&c.url),
            kind: CheckKind::Http,
            exit_on_failure: c.exit_on_failure,
        })
        .collect();
    checks.extend(watched.iter().map(|w| CheckInfo {
        name: w.name(),
        kind: match w {
            Watched::Deployment { .. } => CheckKind::Workload,
            Watched::Service { .. } => CheckKind::Service,
        },
        exit_on_failure: false,
    }));
    for c in config.checks.iter().filter(|c| matches!(c.url, CheckUrl::Cluster(_))) {
        if c.bearer_token.is_some() || c.auth.is_some() {
            let _ = events.send(HealthEvent::Log(format!(
                "health check {} (config line {}): a cluster path is requested with the kubeconfig's credentials; its bearer_token/auth are not sent",
                c.url.shown(),
                c.line
            )));
        }
    }
    let _ = events.send(HealthEvent::Started { checks: checks.clone(), interval: config.interval });
    let direct = if config.checks.iter().any(|c| matches!(c.url, CheckUrl::Absolute(_))) {
        http::direct_client()
    } else {
        Err("unused".into())
    };
    // A probe never outlives its round by much, whatever the interval.
    let timeout = config.interval.clamp(Duration::from_secs(1), Duration::from_secs(5));
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut passed_once = vec![false; checks.len()];
    let mut stop_sent = false;
    for tick in 0u64.. {
        ticker.tick().await;
        let http_rounds = config.checks.iter().map(|c| async {
            let (ok, code, latency, detail) = http::probe(c, &probe, &direct, timeout).await;
            (ok, code, latency, detail)
        });
        let ready_rounds = watched.iter().map(|w| async {
            let (ok, latency, detail) = readiness::probe(&ops, w).await;
            (ok, None, latency, detail)
        });
        let (http_results, ready_results) =
            futures::join!(join_all(http_rounds), join_all(ready_rounds));
        for (check, (ok, code, latency, detail)) in
            http_results.into_iter().chain(ready_results).enumerate()
        {
            let info = &checks[check];
            // A check that never passed since the run started (the application still coming
            // up, a fresh sandbox) is shown but not acted on: exit_on_failure is about chaos
            // breaking something that worked.
            if !ok && info.exit_on_failure && passed_once[check] && !stop_sent {
                stop_sent = true;
                let _ = events.send(HealthEvent::Log(format!(
                    "health check {} failed ({detail}) and has exit_on_failure: stopping the run and rolling back",
                    info.name
                )));
                let _ = stops.send(());
            }
            passed_once[check] |= ok;
            let sample = Sample { check, tick, ok, code, latency, detail };
            if events.send(HealthEvent::Sample(sample)).is_err() {
                return;
            }
        }
        if let Some(first) = first_round.take() {
            let _ = first.send(());
        }
    }
}
