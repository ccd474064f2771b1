//! The `chaosdeck_*` Prometheus metrics, fed from engine events, served as OpenMetrics text on
//! `/metrics` (Prometheus and promtool both read it).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::engine::{EngineEvent, EngineState, ScenarioResult};
use crate::journal::executor::Outcome;

/// Every metric name starts with this.
pub const PREFIX: &str = "chaosdeck";

/// The engine states, as the `state` label of `chaosdeck_engine_state`.
pub const STATES: [(EngineState, &str); 7] = [
    (EngineState::Running, "running"),
    (EngineState::Pausing, "pausing"),
    (EngineState::Paused, "paused"),
    (EngineState::Waiting, "waiting"),
    (EngineState::RollingBack, "rolling_back"),
    (EngineState::Stopped, "stopped"),
    (EngineState::Finished, "finished"),
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    scenario_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabel {
    check: String,
    kind: String,
}

type HistogramFamily = Family<TypeLabel, Histogram, fn() -> Histogram>;

fn scenario_histogram() -> Histogram {
    // 1 s .. ~68 min: scenarios run from seconds to an hour.
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

/// Timing and bookkeeping between events (starts waiting for their ends).
#[derive(Default)]
struct Pending {
    scenarios: HashMap<usize, (String, Instant)>,
    rollback: Option<Instant>,
    entries: HashSet<PathBuf>,
    /// Labels of the health rows, by position.
    health: Vec<CheckLabel>,
}

pub struct Metrics {
    registry: Registry,
    scenarios_run: Family<TypeLabel, Counter>,
    scenarios_passed: Family<TypeLabel, Counter>,
    scenarios_failed: Family<TypeLabel, Counter>,
    scenario_duration: HistogramFamily,
    cluster_changes: Counter,
    entries_written: Counter,
    entries_retired: Counter,
    entries_executed: Counter,
    entries_failed: Counter,
    entries_pending: Gauge,
    rollback_duration: Histogram,
    emergency_rollbacks: Counter,
    engine_state: Family<StateLabel, Gauge>,
    health_up: Family<CheckLabel, Gauge>,
    health_probes: Family<CheckLabel, Counter>,
    health_failures: Family<CheckLabel, Counter>,
    health_latency: Family<CheckLabel, Histogram, fn() -> Histogram>,
    pending: Mutex<Pending>,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~16 s: a probe answers in milliseconds or times out after a few seconds.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let scenarios_run = Family::<TypeLabel, Counter>::default();
        let scenarios_passed = Family::<TypeLabel, Counter>::default();
        let scenarios_failed = Family::<TypeLabel, Counter>::default();
        let scenario_duration: HistogramFamily =
            Family::new_with_constructor(scenario_histogram as fn() -> Histogram);
        let cluster_changes = Counter::default();
        let entries_written = Counter::default();
        let entries_retired = Counter::default();
        let entries_executed = Counter::default();
        let entries_failed = Counter::default();
        let entries_pending = Gauge::default();
        // 10 ms .. ~80 s: an undo is a few API calls, a large rollback a minute.
        let rollback_duration = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let emergency_rollbacks = Counter::default();
        let engine_state = Family::<StateLabel, Gauge>::default();
        let health_up = Family::<CheckLabel, Gauge>::default();
        let health_probes = Family::<CheckLabel, Counter>::default();
        let health_failures = Family::<CheckLabel, Counter>::default();
        let health_latency: Family<CheckLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "health_up",
            "1 when the health check's last probe passed, 0 when it failed, by check and kind",
            health_up.clone(),
        );
        registry.register(
            "health_probes",
            "Health check probes made, by check and kind",
            health_probes.clone(),
        );
        registry.register(
            "health_failures",
            "Health check probes that failed (not 200, not ready, no answer), by check and kind",
            health_failures.clone(),
        );
        registry.register_with_unit(
            "health_latency",
            "Time one health check probe took, by check and kind",
            Unit::Seconds,
            health_latency.clone(),
        );
        // Counters get `_total` appended by the encoder.
        registry.register(
            "scenarios_run",
            "Scenario file executions started, by scenario_type",
            scenarios_run.clone(),
        );
        registry.register(
            "scenarios_passed",
            "Scenario file executions that passed, by scenario_type",
            scenarios_passed.clone(),
        );
        registry.register(
            "scenarios_failed",
            "Scenario file executions that failed, by scenario_type",
            scenarios_failed.clone(),
        );
        registry.register_with_unit(
            "scenario_duration",
            "Wall time of one scenario file execution, by scenario_type",
            Unit::Seconds,
            scenario_duration.clone(),
        );
        registry.register(
            "cluster_changes",
            "Changes made to the cluster (one per journal entry written ahead of a change)",
            cluster_changes.clone(),
        );
        registry.register(
            "journal_entries_written",
            "Rollback journal entries written",
            entries_written.clone(),
        );
        registry.register(
            "journal_entries_retired",
            "Journal entries retired (the scenario reverted its change itself)",
            entries_retired.clone(),
        );
        registry.register(
            "journal_entries_executed",
            "Journal entries whose undo was executed by a rollback",
            entries_executed.clone(),
        );
        registry.register(
            "journal_entries_failed",
            "Journal entries a rollback could not undo (undo failed, entry invalid or cluster unreachable; left pending)",
            entries_failed.clone(),
        );
        registry.register(
            "journal_entries_pending",
            "Journal entries of this run written and neither retired nor executed",
            entries_pending.clone(),
        );
        registry.register_with_unit(
            "rollback_duration",
            "Wall time of one rollback, from its start to its last undo",
            Unit::Seconds,
            rollback_duration.clone(),
        );
        registry.register(
            "emergency_rollbacks",
            "Emergency rollbacks requested (every pending entry of the journal undone)",
            emergency_rollbacks.clone(),
        );
        registry.register(
            "engine_state",
            "The engine's current state: 1 for the state it is in, 0 for the others",
            engine_state.clone(),
        );
        // Every state series exists from the start, so queries see 0 rather than nothing.
        for (_, name) in STATES {
            engine_state.get_or_create(&StateLabel { state: name.into() }).set(0);
        }
        Metrics {
            registry,
            scenarios_run,
            scenarios_passed,
            scenarios_failed,
            scenario_duration,
            cluster_changes,
            entries_written,
            entries_retired,
            entries_executed,
            entries_failed,
            entries_pending,
            rollback_duration,
            emergency_rollbacks,
            engine_state,
            health_up,
            health_probes,
            health_failures,
            health_latency,
            pending: Mutex::new(Pending::default()),
        }
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    pub fn observe(&self, event: &EngineEvent) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        match event {
            EngineEvent::ScenarioStarted { index, scenario_type, .. } => {
                let label = TypeLabel { scenario_type: scenario_type.clone() };
                self.scenarios_run.get_or_create(&label).inc();
                // Pre-create the outcome series so a rate() over them starts at 0.
                self.scenarios_passed.get_or_create(&label).inc_by(0);
                self.scenarios_failed.get_or_create(&label).inc_by(0);
                pending.scenarios.insert(*index, (scenario_type.clone(), Instant::now()));
            }
            EngineEvent::ScenarioFinished { index, result } => {
                if let Some((scenario_type, started)) = pending.scenarios.remove(index) {
                    let label = TypeLabel { scenario_type };
                    self.scenario_duration
                        .get_or_create(&label)
                        .observe(started.elapsed().as_secs_f64());
                    match result {
                        ScenarioResult::Passed => {
                            self.scenarios_passed.get_or_create(&label).inc();
                        }
                        ScenarioResult::Failed { .. } => {
                            self.scenarios_failed.get_or_create(&label).inc();
                        }
                        ScenarioResult::Stopped { .. } | ScenarioResult::Skipped { .. } => {}
                    }
                }
            }
            EngineEvent::EntryWritten { path, .. } => {
                self.cluster_changes.inc();
                self.entries_written.inc();
                pending.entries.insert(path.clone());
            }
            EngineEvent::EntryRetired { path } => {
                self.entries_retired.inc();
                pending.entries.remove(path);
            }
            EngineEvent::Rollback(event) => {
                use crate::journal::rollback::Event;
                match event {
                    Event::Entry(out) if matches!(out.outcome, Outcome::Executed { .. }) => {
                        self.entries_executed.inc();
                        pending.entries.remove(&out.path);
                    }
                    Event::Entry(out) if out.outcome.left_outstanding() => {
                        self.entries_failed.inc();
                    }
                    Event::Started { .. } => pending.rollback = Some(Instant::now()),
                    Event::Finished(_) => {
                        if let Some(started) = pending.rollback.take() {
                            self.rollback_duration.observe(started.elapsed().as_secs_f64());
                        }
                    }
                    _ => {}
                }
            }
            EngineEvent::State(state) => {
                for (s, name) in STATES {
                    self.engine_state
                        .get_or_create(&StateLabel { state: name.into() })
                        .set(i64::from(s == *state));
                }
            }
            EngineEvent::Emergency { .. } => {
                self.emergency_rollbacks.inc();
            }
            EngineEvent::HealthStarted { checks, .. } => {
                pending.health = checks
                    .iter()
                    .map(|c| CheckLabel { check: c.name.clone(), kind: c.kind.as_str().into() })
                    .collect();
                // Every series exists from the start, so a rate() over them starts at 0.
                for label in &pending.health {
                    self.health_probes.get_or_create(label).inc_by(0);
                    self.health_failures.get_or_create(label).inc_by(0);
                }
            }
            EngineEvent::HealthSample(sample) => {
                if let Some(label) = pending.health.get(sample.check) {
                    self.health_probes.get_or_create(label).inc();
                    if !sample.ok {
                        self.health_failures.get_or_create(label).inc();
                    }
                    self.health_up.get_or_create(label).set(i64::from(sample.ok));
                    self.health_latency.get_or_create(label).observe(sample.latency.as_secs_f64());
                }
            }
            _ => {}
        }
        let count = i64::try_from(pending.entries.len()).unwrap_or(i64::MAX);
        self.entries_pending.set(count);
    }
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The classic Prometheus text format (0.0.4) from the OpenMetrics text prometheus-client
/// writes. Prometheus asks for OpenMetrics, but promtool and plain `curl` read the classic
/// format, where a counter's HELP and TYPE carry the `_total` name of its sample and there is
/// no `# UNIT` or `# EOF`.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "].into_iter().find_map(|p| {
            let rest = line.strip_prefix(p)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{p}{name}_total {tail}"))
        });
        out.push_str(meta.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Serves `/metrics` on `listener` until the process ends: OpenMetrics when the scraper
/// accepts it (Prometheus does), the classic text format otherwise.
pub fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    serve_encoded(listener, move || metrics.encode());
}

/// [`serve`] for any registry: `encode` returns its OpenMetrics text.
pub fn serve_encoded(
    listener: tokio::net::TcpListener,
    encode: impl Fn() -> Result<String, std::fmt::Error> + Clone + Send + Sync + 'static,
) {
    let app = Router::new().route(
        "/metrics",
        get(move |headers: axum::http::HeaderMap| {
            let encode = encode.clone();
            async move {
                let openmetrics = headers
                    .get_all(header::ACCEPT)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .any(|v| v.contains("application/openmetrics-text"));
                match encode() {
                    Ok(text) if openmetrics => {
                        ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response()
                    }
                    Ok(text) => {
                        ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], to_prometheus_text(&text))
                            .into_response()
                    }
                    Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the metrics\n")
                        .into_response(),
                }
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            crate::out::err_line(format!("warning: the /metrics server stopped: {e}"));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_text_names_counters_by_their_samples_and_drops_openmetrics_lines() {
        let m = Metrics::new();
        m.observe(&EngineEvent::EntryWritten { path: "a".into(), summary: "delete".into() });
        let text = to_prometheus_text(&m.encode().unwrap_or_default());
        assert!(text.contains("# HELP chaosdeck_journal_entries_written_total "), "{text}");
        assert!(text.contains("# TYPE chaosdeck_journal_entries_written_total counter"), "{text}");
        assert!(text.contains("chaosdeck_journal_entries_written_total 1"), "{text}");
        assert!(text.contains("chaosdeck_journal_entries_pending 1"), "{text}");
        assert!(text.contains("# TYPE chaosdeck_rollback_duration_seconds histogram"), "{text}");
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
    }

    #[test]
    fn health_samples_feed_the_health_series_by_check() {
        use crate::health::{CheckInfo, CheckKind, Sample};
        let m = Metrics::new();
        m.observe(&EngineEvent::HealthStarted {
            checks: vec![CheckInfo {
                name: "svc shop/frontend:80".into(),
                kind: CheckKind::Http,
                exit_on_failure: false,
            }],
            interval: std::time::Duration::from_secs(2),
        });
        let labels = r#"{check="svc shop/frontend:80",kind="http"}"#;
        let text = to_prometheus_text(&m.encode().unwrap_or_default());
        assert!(text.contains(&format!("chaosdeck_health_failures_total{labels} 0")), "{text}");
        for (tick, ok) in [(0, true), (1, false), (2, false)] {
            m.observe(&EngineEvent::HealthSample(Sample {
                check: 0,
                tick,
                ok,
                code: Some(if ok { 200 } else { 503 }),
                latency: std::time::Duration::from_millis(3),
                detail: String::new(),
            }));
        }
        let text = to_prometheus_text(&m.encode().unwrap_or_default());
        assert!(text.contains(&format!("chaosdeck_health_probes_total{labels} 3")), "{text}");
        assert!(text.contains(&format!("chaosdeck_health_failures_total{labels} 2")), "{text}");
        assert!(text.contains(&format!("chaosdeck_health_up{labels} 0")), "{text}");
        assert!(
            text.contains(&format!("chaosdeck_health_latency_seconds_count{labels} 3")),
            "{text}"
        );
    }
}
