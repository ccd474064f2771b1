//! chaosdeck: Kubernetes chaos game days from the terminal, with a durable, human-readable
//! write-ahead rollback journal.
//!
//! Pieces (one folder each): `config` (Krkn-compatible config and scenario files), `journal`
//! (the rollback journal on disk and its executor), `health` (health checks during a run), `cluster` (kube clients and generic object
//! operations), `sandbox` (the embedded Kubernetes API emulator), `cli` (the command line).

pub mod cli;
pub mod cluster;
pub mod config;
pub mod deadman;
pub mod engine;
pub mod exit;
pub mod health;
pub mod helper;
pub mod journal;
pub mod observe;
pub mod out;
pub mod refs;
pub mod scenario_status;
#[cfg(feature = "sandbox")]
pub use chaosdeck_sandbox as sandbox;
pub mod scenarios;
pub mod tui;
