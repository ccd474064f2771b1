//! The watchdog's `chaosdeck_watchdog_*` metrics (served on `/metrics` like the run's).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

impl From<&str> for StateLabel {
    fn from(state: &str) -> Self {
        StateLabel { state: state.to_string() }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

impl From<&str> for OutcomeLabel {
    fn from(outcome: &str) -> Self {
        OutcomeLabel { outcome: outcome.to_string() }
    }
}

pub struct WatchdogMetrics {
    registry: Registry,
    pub leases: Gauge,
    pub mirrors: Family<StateLabel, Gauge>,
    pub bad_mirrors: Gauge,
    pub bad_mirrors_total: Counter,
    pub unowned_mirrors: Gauge,
    pub expired_runs: Counter,
    pub undos: Family<OutcomeLabel, Counter>,
    pub passes: Counter,
    /// 1 while the cluster enforces deploy/watchdog.yaml's policies (the watchdog acts only then).
    pub policy_enforced: Gauge,
    /// Mirrors whose undo was refused: not the inverse of a chaos change, another author than
    /// the run's, another cluster.
    pub refused_mirrors: Counter,
}

impl Default for WatchdogMetrics {
    fn default() -> Self {
        WatchdogMetrics::new()
    }
}

impl WatchdogMetrics {
    pub fn new() -> WatchdogMetrics {
        let mut root = Registry::default();
        let registry = root.sub_registry_with_prefix("chaosdeck_watchdog");
        let leases = Gauge::default();
        registry.register("leases", "Run Leases being watched", leases.clone());
        let mirrors = Family::<StateLabel, Gauge>::default();
        registry.register("mirrors", "Mirrored entries by state", mirrors.clone());
        let bad_mirrors = Gauge::default();
        registry.register(
            "bad_mirrors",
            "Labelled mirrors that cannot be trusted (skipped, never executed)",
            bad_mirrors.clone(),
        );
        let bad_mirrors_total = Counter::default();
        registry.register(
            "bad_mirrors_reported",
            "Bad mirrors reported (one Event each)",
            bad_mirrors_total.clone(),
        );
        let unowned_mirrors = Gauge::default();
        registry.register(
            "unowned_mirrors",
            "Outstanding mirrors whose run holds no Lease (released: left to the operator)",
            unowned_mirrors.clone(),
        );
        let expired_runs = Counter::default();
        registry.register("expired_runs", "Runs whose Lease expired", expired_runs.clone());
        let undos = Family::<OutcomeLabel, Counter>::default();
        registry.register("undos", "Undos attempted, by outcome", undos.clone());
        let passes = Counter::default();
        registry.register("passes", "Evaluations of the watched state", passes.clone());
        let policy_enforced = Gauge::default();
        registry.register(
            "policy_enforced",
            "1 while the API server enforces the dead man's switch policies (no undo without them)",
            policy_enforced.clone(),
        );
        let refused_mirrors = Counter::default();
        registry.register(
            "refused_mirrors",
            "Mirrors whose undo was refused before anything was sent",
            refused_mirrors.clone(),
        );
        WatchdogMetrics {
            registry: root,
            leases,
            mirrors,
            bad_mirrors,
            bad_mirrors_total,
            unowned_mirrors,
            expired_runs,
            undos,
            passes,
            policy_enforced,
            refused_mirrors,
        }
    }

    /// OpenMetrics text.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
