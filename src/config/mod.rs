//! Configuration: Krkn's `config.yaml` shape plus chaosdeck's own `chaosdeck:` section.
//!
//! Owns: reading and validating config files, resolving relative paths, and reporting errors as
//! `file:line:column: message`. Must not talk to a cluster or touch the journal.

pub mod bounds;
mod error;
mod file;
pub mod health_checks;
mod paths;
mod unknown_keys;

pub use error::{ConfigError, did_you_mean};
pub use file::{
    ClusterChoice, Config, DEFAULT_DEAD_MAN_NAMESPACE, DeadManSwitch, ScenarioFile, ScenarioGroup,
    StatusServer, Tunings,
};
pub use health_checks::{CheckUrl, HealthChecks, HttpCheck};
pub use paths::{
    KRKN_LEGACY_DEFAULT_DIR, default_dir, expand_tilde, krkn_default_dir, live_runs_dir,
    sandbox_default_dir,
};
