//! The real Kubernetes control plane of `scripts/realcluster` (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, kwok), for tests and benchmarks.
//!
//! Owns: starting one in a temporary directory, reading what it wrote (admin kubeconfig, API
//! server and etcd addresses, daemon pids) and stopping it on drop. The script's reaper stops it
//! too when the process that started it dies, SIGKILL included, so no control plane outlives
//! its test; and [`cluster::TestCluster`], either target behind one type. Must not touch:
//! anything outside that directory; how the binaries are built is the script's business.

pub mod cluster;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running control plane; stopped (and its directory removed) on drop.
pub struct RealCluster {
    dir: tempfile::TempDir,
}

/// What `up` starts with besides the four kwok nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workloads {
    /// The demo namespaces and Deployments (`crates/sandbox/seed/demo.yaml`).
    Demo,
    /// None.
    Empty,
}

impl RealCluster {
    /// Runs `scripts/realcluster up` (building the binaries first when they are not cached);
    /// blocks for the start-up, about 10 s (`Empty`) to 20 s (`Demo`). The error carries the
    /// script's output.
    pub fn up(workloads: Workloads) -> Result<RealCluster, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let mut cmd = Command::new(script());
        cmd.arg("up")
            .arg("--dir")
            .arg(dir.path().join("cluster"))
            .arg("--owner-pid")
            .arg(std::process::id().to_string());
        if workloads == Workloads::Empty {
            cmd.arg("--empty");
        }
        let out = cmd.output().map_err(|e| format!("{}: {e}", script().display()))?;
        let cluster = RealCluster { dir };
        if out.status.success() && cluster.kubeconfig().exists() {
            Ok(cluster)
        } else {
            Err(format!(
                "scripts/realcluster up failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Where the script keeps its state, certificates, logs and pid files.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("cluster")
    }

    /// Where the exec stand-ins keep each pod's and each claim's files (`scripts/exec-standin`).
    pub fn exec_root(&self) -> PathBuf {
        self.state_dir().join("exec-root")
    }

    /// The admin kubeconfig (client certificate of `system:masters`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.state_dir().join("admin.kubeconfig")
    }

    /// The API server's URL.
    pub fn server(&self) -> String {
        self.read("server")
    }

    /// etcd's client URL (plain HTTP on loopback).
    pub fn etcd_url(&self) -> String {
        self.read("etcd-url")
    }

    /// The daemons' pids (each pid file holds `<pid> <start time>`).
    pub fn pids(&self) -> Vec<u32> {
        let Ok(files) = std::fs::read_dir(self.state_dir().join("pids")) else {
            return Vec::new();
        };
        files
            .flatten()
            .filter_map(|f| {
                std::fs::read_to_string(f.path()).ok()?.split_whitespace().next()?.parse().ok()
            })
            .collect()
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.state_dir().join(file)).unwrap_or_default().trim().to_string()
    }
}

impl Drop for RealCluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("down").arg("--dir").arg(self.state_dir()).status();
    }
}

/// `scripts/realcluster` of this repository.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/realcluster")
}

/// The directory of the built binaries (kubectl of the server's own version among them), as
/// `scripts/realcluster build` prints it; builds them when they are not cached.
pub fn binaries() -> PathBuf {
    let out = Command::new(script()).arg("build").output();
    let out = match out {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            panic!("scripts/realcluster build failed: {}", String::from_utf8_lossy(&out.stderr))
        }
        Err(e) => panic!("{}: {e}", script().display()),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
}
