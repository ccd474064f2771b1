//! The API server a sandbox test talks to: the sandbox itself, or a real Kubernetes control
//! plane started by `scripts/realcluster` (etcd, kube-apiserver, controller-manager, scheduler,
//! kwok), both seeded from `crates/sandbox/seed/*.yaml`.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::process::Command;

pub use chaosdeck_testbed::cluster::{Compactor, Seed, Target, TestCluster, client_for};

/// The kubectl built from the same Kubernetes release as the real control plane
/// (`scripts/realcluster build`, cached after the first build), or `$CHAOSDECK_KUBECTL`.
pub fn kubectl_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CHAOSDECK_KUBECTL") {
        return PathBuf::from(path);
    }
    let out = Command::new(chaosdeck_testbed::script())
        .arg("build")
        .output()
        .expect("scripts/realcluster runs");
    assert!(
        out.status.success(),
        "scripts/realcluster build failed (set CHAOSDECK_KUBECTL to use another kubectl):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = String::from_utf8_lossy(&out.stdout).trim().to_string();
    PathBuf::from(bin).join("kubectl")
}
