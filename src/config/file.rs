//! The config file: Krkn's `kraken:` and `tunings:` sections, chaosdeck's `chaosdeck:` section,
//! Krkn's other sections accepted and reported as ignored, any other key an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;

use super::error::ConfigError;
use super::health_checks::{HealthChecks, RawHealthChecks};
use super::paths::{candidates, expand_tilde};
use super::unknown_keys::{KRKN_KRAKEN_KEYS, KRKN_SECTIONS, Section};

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub kubeconfig_path: Option<PathBuf>,
    pub cluster: ClusterChoice,
    pub chaos_scenarios: Vec<ScenarioGroup>,
    pub auto_rollback: bool,
    pub rollback_versions_directory: Option<PathBuf>,
    pub status_server: StatusServer,
    /// `kraken.metrics_addr`: where `/metrics` is served (`--metrics-addr` overrides).
    pub metrics_addr: Option<String>,
    pub tunings: Tunings,
    /// Krkn's `health_checks:` section (none configured: empty, default interval).
    pub health_checks: HealthChecks,
    pub protected_namespaces: Vec<String>,
    pub allow_protected_namespaces: bool,
    /// `section` or `section.key` names present in the file that chaosdeck does not use.
    pub ignored: Vec<String>,
    /// The file has a `chaosdeck:` section. Without one it is taken for Krkn's own config, and
    /// the journal commands read Krkn's default rollback directory when it names none.
    pub has_chaosdeck_section: bool,
    /// `chaosdeck.dead_man_switch`: off unless the section turns it on.
    pub dead_man_switch: DeadManSwitch,
}

/// The dead man's switch: mirror every entry into the cluster and hold a Lease while running,
/// so a watchdog in the cluster undoes the run's changes when this process dies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadManSwitch {
    pub enabled: bool,
    /// Seconds the watchdog waits, after it last saw the Lease change, before it acts.
    pub lease_duration_secs: u64,
    /// Seconds between renewals.
    pub renew_secs: u64,
    /// Where the Lease and the mirrors live.
    pub namespace: String,
}

impl Default for DeadManSwitch {
    fn default() -> Self {
        DeadManSwitch {
            enabled: false,
            lease_duration_secs: 30,
            renew_secs: 5,
            namespace: DEFAULT_DEAD_MAN_NAMESPACE.to_string(),
        }
    }
}

pub const DEFAULT_DEAD_MAN_NAMESPACE: &str = crate::refs::DEFAULT_SWITCH_NAMESPACE;

/// Which cluster a run targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterChoice {
    /// The embedded sandbox, started in-process with this seed.
    Sandbox { seed: String },
    /// `kraken.kubeconfig_path` (or `--kubeconfig`), with an optional context.
    Kubeconfig { context: Option<String> },
}

#[derive(Debug, Clone)]
pub struct ScenarioGroup {
    pub scenario_type: String,
    pub line: u64,
    pub files: Vec<ScenarioFile>,
}

#[derive(Debug, Clone)]
pub struct ScenarioFile {
    /// As written in the config.
    pub raw: String,
    /// The first candidate that exists, else the first candidate.
    pub path: PathBuf,
    pub exists: bool,
    /// Every place looked at, for the error message when it does not exist.
    pub tried: Vec<PathBuf>,
    pub line: u64,
    pub column: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusServer {
    pub publish: bool,
    pub signal_state: String,
    pub address: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunings {
    pub wait_duration_secs: u64,
    pub iterations: u64,
    pub daemon_mode: bool,
}

pub use crate::refs::BUILTIN_PROTECTED;

/// The keys of the structs below, named once more for the unknown-key errors: serde does not
/// say which keys a struct with a flattened rest reads.
const TOP_LEVEL_KEYS: &[&str] = &["kraken", "tunings", "chaosdeck", "health_checks"];
const KRAKEN_KEYS: &[&str] = &[
    "kubeconfig_path",
    "chaos_scenarios",
    "auto_rollback",
    "rollback_versions_directory",
    "publish_kraken_status",
    "signal_state",
    "signal_address",
    "port",
    "metrics_addr",
];
const TUNINGS_KEYS: &[&str] = &["wait_duration", "iterations", "daemon_mode"];

#[derive(Deserialize)]
struct RawConfig {
    kraken: Option<RawKraken>,
    tunings: Option<RawTunings>,
    chaosdeck: Option<RawChaosdeck>,
    health_checks: Option<RawHealthChecks>,
    #[serde(flatten)]
    rest: BTreeMap<String, IgnoredAny>,
}

/// One `- <scenario_type>: [files]` item of `kraken.chaos_scenarios`.
type ScenarioListItem = BTreeMap<String, Option<Vec<Spanned<String>>>>;

#[derive(Deserialize)]
struct RawKraken {
    kubeconfig_path: Option<String>,
    chaos_scenarios: Option<Vec<ScenarioListItem>>,
    auto_rollback: Option<bool>,
    rollback_versions_directory: Option<String>,
    publish_kraken_status: Option<bool>,
    signal_state: Option<String>,
    signal_address: Option<String>,
    port: Option<u16>,
    metrics_addr: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
struct RawTunings {
    #[serde(default, deserialize_with = "crate::config::bounds::seconds_opt")]
    wait_duration: Option<u64>,
    #[serde(default, deserialize_with = "crate::config::bounds::count_u64_opt")]
    iterations: Option<u64>,
    daemon_mode: Option<bool>,
    #[serde(flatten)]
    rest: BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChaosdeck {
    cluster: Option<String>,
    context: Option<String>,
    sandbox_seed: Option<String>,
    #[serde(default)]
    protected_namespaces: Vec<String>,
    #[serde(default)]
    allow_protected_namespaces: bool,
    dead_man_switch: Option<Spanned<RawDeadMan>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeadMan {
    #[serde(default)]
    enabled: bool,
    #[serde(default, deserialize_with = "crate::config::bounds::seconds_opt")]
    lease_duration: Option<u64>,
    #[serde(default, deserialize_with = "crate::config::bounds::seconds_opt")]
    renew: Option<u64>,
    namespace: Option<String>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            serde_saphyr::from_str(text).map_err(|e| ConfigError::yaml(path, &e))?;
        let Some(kraken) = raw.kraken else {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: "no `kraken:` section; this does not look like a Krkn/chaosdeck config"
                    .into(),
            });
        };
        let config_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let config_dir =
            if config_dir.as_os_str().is_empty() { PathBuf::from(".") } else { config_dir };

        let mut ignored = Vec::new();
        let top = Section { name: "", used: TOP_LEVEL_KEYS, krkn: KRKN_SECTIONS };
        top.check(path, text, raw.rest.keys(), &mut ignored)?;
        let section = Section { name: "kraken", used: KRAKEN_KEYS, krkn: KRKN_KRAKEN_KEYS };
        section.check(path, text, kraken.rest.keys(), &mut ignored)?;

        let mut chaos_scenarios = Vec::new();
        for item in kraken.chaos_scenarios.unwrap_or_default() {
            // Each list item is a one-key map `{<scenario_type>: [files]}`.
            for (scenario_type, files) in item {
                let files: Vec<ScenarioFile> = files
                    .unwrap_or_default()
                    .into_iter()
                    .map(|f| {
                        let tried = candidates(&config_dir, &f.value);
                        let found = tried.iter().find(|p| p.is_file()).cloned();
                        ScenarioFile {
                            raw: f.value.clone(),
                            exists: found.is_some(),
                            path: found.unwrap_or_else(|| tried[0].clone()),
                            tried,
                            line: f.referenced.line(),
                            column: f.referenced.column(),
                        }
                    })
                    .collect();
                let line = files.first().map(|f| f.line.saturating_sub(1)).unwrap_or(0);
                chaos_scenarios.push(ScenarioGroup { scenario_type, line, files });
            }
        }

        let tunings = kraken_tunings(path, text, raw.tunings, &mut ignored)?;
        let health_checks = match raw.health_checks {
            Some(h) => h.validate(path, text, &mut ignored)?,
            None => HealthChecks::default(),
        };
        let deck = raw.chaosdeck;
        let cluster = match deck.as_ref().and_then(|d| d.cluster.as_deref()) {
            None | Some("kubeconfig") => {
                ClusterChoice::Kubeconfig { context: deck.as_ref().and_then(|d| d.context.clone()) }
            }
            Some("sandbox") => ClusterChoice::Sandbox {
                seed: deck
                    .as_ref()
                    .and_then(|d| d.sandbox_seed.clone())
                    .unwrap_or_else(|| "demo".into()),
            },
            Some(other) => {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: format!(
                        "chaosdeck.cluster is {other:?}; expected `sandbox` or `kubeconfig`"
                    ),
                });
            }
        };
        let mut protected_namespaces: Vec<String> =
            BUILTIN_PROTECTED.iter().map(|s| s.to_string()).collect();
        protected_namespaces
            .extend(deck.as_ref().map(|d| d.protected_namespaces.clone()).unwrap_or_default());

        let dead_man_switch =
            dead_man_switch(path, deck.as_ref().and_then(|d| d.dead_man_switch.as_ref()))?;
        // Chaos in the namespace of the watchdog's Leases and mirrors would disarm the switch.
        if !protected_namespaces.contains(&dead_man_switch.namespace) {
            protected_namespaces.push(dead_man_switch.namespace.clone());
        }

        let resolve = |raw: &str| {
            let p = expand_tilde(raw);
            if p.is_absolute() { p } else { config_dir.join(p) }
        };
        Ok(Config {
            path: path.to_path_buf(),
            kubeconfig_path: kraken
                .kubeconfig_path
                .filter(|s| !s.trim().is_empty())
                .map(|s| resolve(&s)),
            cluster,
            chaos_scenarios,
            auto_rollback: kraken.auto_rollback.unwrap_or(true),
            rollback_versions_directory: kraken
                .rollback_versions_directory
                .filter(|s| !s.trim().is_empty())
                .map(|s| resolve(&s)),
            status_server: StatusServer {
                publish: kraken.publish_kraken_status.unwrap_or(false),
                signal_state: kraken.signal_state.unwrap_or_else(|| "RUN".into()),
                address: kraken.signal_address.unwrap_or_else(|| "127.0.0.1".into()),
                port: kraken.port.unwrap_or(8081),
            },
            metrics_addr: kraken.metrics_addr.filter(|s| !s.trim().is_empty()),
            tunings,
            health_checks,
            protected_namespaces,
            allow_protected_namespaces: deck.as_ref().is_some_and(|d| d.allow_protected_namespaces),
            ignored,
            has_chaosdeck_section: deck.is_some(),
            dead_man_switch,
        })
    }

    /// What changes and undos of this config stay out of.
    pub fn protected(&self) -> crate::refs::ProtectedNamespaces {
        crate::refs::ProtectedNamespaces {
            namespaces: self.protected_namespaces.clone(),
            allowed: self.allow_protected_namespaces,
        }
    }

    /// The journal directory: the config's, else the per-user default.
    pub fn journal_dir(&self) -> PathBuf {
        match (&self.rollback_versions_directory, &self.cluster) {
            (Some(dir), _) => dir.clone(),
            (None, ClusterChoice::Sandbox { .. }) => super::paths::sandbox_default_dir(),
            (None, ClusterChoice::Kubeconfig { .. }) => super::paths::default_dir(),
        }
    }

    /// The directory the journal commands (`list-rollback`, `inspect`, `execute-rollback`,
    /// `check`) read for this config: the one it names; else, for a Krkn config (no
    /// `chaosdeck:` section), Krkn's own default, where Krkn wrote its files; else chaosdeck's.
    pub fn rollback_dir_to_read(&self) -> PathBuf {
        match (&self.rollback_versions_directory, self.has_chaosdeck_section) {
            (Some(dir), _) => dir.clone(),
            (None, false) => super::paths::krkn_default_dir(),
            (None, true) => self.journal_dir(),
        }
    }

    /// One sentence listing what the file has that chaosdeck does not use (empty when none).
    pub fn ignored_note(&self) -> Option<String> {
        (!self.ignored.is_empty()).then(|| {
            format!(
                "{}: not used by chaosdeck, ignored: {}",
                self.path.display(),
                self.ignored.join(", ")
            )
        })
    }
}

fn kraken_tunings(
    path: &Path,
    text: &str,
    raw: Option<RawTunings>,
    ignored: &mut Vec<String>,
) -> Result<Tunings, ConfigError> {
    let raw = raw.unwrap_or(RawTunings {
        wait_duration: None,
        iterations: None,
        daemon_mode: None,
        rest: BTreeMap::new(),
    });
    let section = Section { name: "tunings", used: TUNINGS_KEYS, krkn: &[] };
    section.check(path, text, raw.rest.keys(), ignored)?;
    Ok(Tunings {
        wait_duration_secs: raw.wait_duration.unwrap_or(60),
        iterations: raw.iterations.unwrap_or(1),
        daemon_mode: raw.daemon_mode.unwrap_or(false),
    })
}

/// Checks the `dead_man_switch` section; errors name its line.
fn dead_man_switch(
    path: &Path,
    raw: Option<&Spanned<RawDeadMan>>,
) -> Result<DeadManSwitch, ConfigError> {
    let defaults = DeadManSwitch::default();
    let Some(raw) = raw else { return Ok(defaults) };
    let at = |message: String| ConfigError::at(path, raw.referenced, message);
    let lease = raw.value.lease_duration.unwrap_or(defaults.lease_duration_secs);
    let renew = raw.value.renew.unwrap_or(defaults.renew_secs);
    if !(2..=3600).contains(&lease) {
        return Err(at(format!(
            "chaosdeck.dead_man_switch.lease_duration is {lease} s; expected 2 to 3600"
        )));
    }
    // Two renewals must fit in one lease, or a single slow request would expire it.
    if renew == 0 || renew.saturating_mul(2) > lease {
        return Err(at(format!(
            "chaosdeck.dead_man_switch.renew is {renew} s; expected at least 1 and at most half \
             the lease_duration ({lease} s)"
        )));
    }
    let namespace = raw.value.namespace.clone().unwrap_or(defaults.namespace);
    if !crate::refs::is_dns_label(&namespace) {
        return Err(at(format!(
            "chaosdeck.dead_man_switch.namespace {namespace:?} is not a valid namespace name"
        )));
    }
    Ok(DeadManSwitch {
        enabled: raw.value.enabled,
        lease_duration_secs: lease,
        renew_secs: renew,
        namespace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/chaos/config.yaml"), text)
    }

    /// What a Krkn config file must load into: (hog files, scenario types, wait, iterations).
    fn check_krkn_config(path: &Path, hog_files: usize, types: usize, tunings: Tunings) {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
        let config = Config::parse(path, &text).unwrap();
        assert!(config.auto_rollback);
        assert_eq!(config.tunings, tunings);
        assert_eq!(config.chaos_scenarios[0].scenario_type, "hog_scenarios");
        assert_eq!(config.chaos_scenarios[0].files.len(), hog_files);
        assert_eq!(config.chaos_scenarios.len(), types);
        assert!(config.rollback_versions_directory.is_none());
        for section in ["cerberus", "elastic", "telemetry", "kraken.exit_on_failure"] {
            assert!(
                config.ignored.iter().any(|i| i == section),
                "{section} in {:?}",
                config.ignored
            );
        }
        assert_eq!(config.cluster, ClusterChoice::Kubeconfig { context: None });
    }

    #[test]
    fn dead_man_switch_is_off_unless_the_section_turns_it_on() {
        let krkn = parse("kraken:\n  chaos_scenarios: []\n").unwrap();
        assert!(!krkn.dead_man_switch.enabled);
        let on = parse(
            "kraken: {}\nchaosdeck:\n  dead_man_switch: {enabled: true, lease_duration: 10, renew: 2}\n",
        )
        .unwrap();
        assert_eq!(
            on.dead_man_switch,
            DeadManSwitch {
                enabled: true,
                lease_duration_secs: 10,
                renew_secs: 2,
                namespace: "chaosdeck-system".into()
            }
        );
    }

    #[test]
    fn a_bad_dead_man_switch_names_its_line() {
        let cases = [
            ("lease_duration: 1", "lease_duration is 1 s; expected 2 to 3600"),
            ("lease_duration: 10, renew: 6", "renew is 6 s; expected at least 1"),
            ("renew: 0", "renew is 0 s"),
            ("namespace: Bad_NS", "not a valid namespace name"),
        ];
        for (body, wanted) in cases {
            let text =
                format!("kraken: {{}}\nchaosdeck:\n  dead_man_switch: {{enabled: true, {body}}}\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.starts_with("/etc/chaos/config.yaml:3:"), "{body}: {err}");
            assert!(err.contains(wanted), "{body}: {err}");
        }
        let unknown =
            "kraken: {}\nchaosdeck:\n  dead_man_switch:\n    enabled: true\n    lease: 3\n";
        let err = parse(unknown).unwrap_err().to_string();
        assert!(err.contains(":5:") && err.contains("lease"), "{err}");
    }

    #[test]
    fn krkn_format_config_loads_and_reports_ignored_sections() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/krkn/config.yaml");
        let tunings = Tunings { wait_duration_secs: 15, iterations: 2, daemon_mode: false };
        check_krkn_config(&path, 3, 10, tunings);
    }

    #[test]
    #[ignore = "needs ../shared/fixtures"]
    fn krkn_shipped_config_loads_and_reports_ignored_sections() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/krkn-scenarios/config_config.yaml");
        let tunings = Tunings { wait_duration_secs: 1, iterations: 1, daemon_mode: false };
        check_krkn_config(&path, 3, 18, tunings);
    }

    #[test]
    fn defaults_and_relative_paths() {
        let c = parse("kraken:\n  chaos_scenarios:\n    - pod_disruption_scenarios:\n        - scenarios/pod.yml\n").unwrap();
        assert!(c.auto_rollback, "auto_rollback defaults to true");
        assert_eq!(c.tunings.iterations, 1);
        let f = &c.chaos_scenarios[0].files[0];
        assert_eq!(f.tried[0], Path::new("/etc/chaos/scenarios/pod.yml"));
        assert_eq!(f.tried[1], Path::new("/etc/scenarios/pod.yml"));
        assert_eq!((f.line, f.column), (4, 11));
    }

    #[test]
    fn type_errors_name_line_and_column() {
        let err =
            parse("kraken:\n  auto_rollback: True\ntunings:\n  iterations: many\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/chaos/config.yaml:4:"), "{msg}");
    }

    #[test]
    fn missing_kraken_section_is_refused() {
        let err = parse("tunings:\n  iterations: 2\n").unwrap_err();
        assert!(err.to_string().contains("no `kraken:` section"), "{err}");
    }

    #[test]
    fn chaosdeck_section_selects_the_sandbox_and_rejects_typos() {
        let c = parse(
            "kraken: {}\nchaosdeck:\n  cluster: sandbox\n  protected_namespaces: [payments]\n",
        )
        .unwrap();
        assert_eq!(c.cluster, ClusterChoice::Sandbox { seed: "demo".into() });
        assert!(c.protected_namespaces.contains(&"payments".to_string()));
        assert!(c.protected_namespaces.contains(&"kube-system".to_string()));
        assert!(c.protected_namespaces.contains(&"chaosdeck-system".to_string()));
        let err = parse("kraken: {}\nchaosdeck:\n  clustr: sandbox\n").unwrap_err();
        assert!(err.to_string().contains(":3:"), "{err}");
    }

    #[test]
    fn a_key_neither_chaosdeck_nor_krkn_reads_is_an_error_at_its_line() {
        let cases = [
            (
                "kraken: {}\ntunings:\n  wait_duraton: 5\n",
                3,
                "`tunings.wait_duraton` (did you mean `wait_duration`?)",
            ),
            (
                "kraken:\n  auto_rolback: false\n",
                2,
                "`kraken.auto_rolback` (did you mean `auto_rollback`?)",
            ),
            (
                "kraken: {}\nchaosdek:\n  protected_namespaces: [payments]\n",
                2,
                "`chaosdek` (did you mean `chaosdeck`?)",
            ),
            (
                "kraken: {}\nhealth_checks:\n  config:\n    - url: /healthz\n      exit_on_falure: true\n",
                5,
                "(did you mean `exit_on_failure`?)",
            ),
            ("kraken: {}\nmonitoring: {}\n", 2, "unknown key `monitoring`; the top level reads:"),
        ];
        for (text, line, wanted) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with(&format!("/etc/chaos/config.yaml:{line}:")), "{text}: {err}");
            assert!(err.contains(wanted), "{text}: {err}");
        }
        let krkn = parse("kraken:\n  exit_on_failure: true\nhealth_checks:\n  config:\n    - url: /healthz\n      verify_url: false\ncerberus: {}\n").unwrap();
        assert_eq!(
            krkn.ignored,
            ["cerberus", "kraken.exit_on_failure", "health_checks.verify_url"]
        );
    }

    #[test]
    fn metrics_addr_and_status_server_keys_are_read() {
        let c = parse(
            "kraken:\n  metrics_addr: 127.0.0.1:9464\n  publish_kraken_status: True\n  signal_state: PAUSE\n  port: 0\n",
        )
        .unwrap();
        assert_eq!(c.metrics_addr.as_deref(), Some("127.0.0.1:9464"));
        assert!(c.ignored.is_empty(), "{:?}", c.ignored);
        assert_eq!(
            c.status_server,
            StatusServer {
                publish: true,
                signal_state: "PAUSE".into(),
                address: "127.0.0.1".into(),
                port: 0
            }
        );
        assert_eq!(parse("kraken: {}\n").unwrap().metrics_addr, None);
    }
}
