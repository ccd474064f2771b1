//! The API server a sandbox test talks to: the sandbox itself, or a real Kubernetes control
//! plane started by `scripts/realcluster` (etcd, kube-apiserver, controller-manager, scheduler,
//! kwok), both seeded from `crates/sandbox/seed/*.yaml`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chaosdeck_sandbox::{Sandbox, SandboxOptions};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Which API server a test talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Sandbox,
    /// `scripts/realcluster`: needs Go (the binaries are built once into a cache).
    Real,
}

/// One real control plane at a time per test binary: two would share two cores.
static REAL_TURN: LazyLock<Arc<tokio::sync::Mutex<()>>> = LazyLock::new(Default::default);

pub struct TestCluster {
    pub target: Target,
    backend: Backend,
    kubeconfig: PathBuf,
    client: kube::Client,
}

enum Backend {
    Sandbox { sandbox: Sandbox, _kubeconfig: tempfile::NamedTempFile },
    Real(RealCluster),
}

impl TestCluster {
    /// Starts one with the demo workloads (`Seed::Demo`, `scripts/realcluster up`).
    pub async fn start(target: Target) -> TestCluster {
        match target {
            Target::Sandbox => {
                let sandbox = Sandbox::start(SandboxOptions {
                    seed: chaosdeck_sandbox::Seed::Demo,
                    pod_ready_delay: Duration::from_millis(50),
                    ..Default::default()
                })
                .await
                .expect("sandbox starts");
                let file = tempfile::NamedTempFile::new().unwrap();
                sandbox.write_kubeconfig(file.path()).unwrap();
                let client = client_for(file.path()).await;
                TestCluster {
                    target,
                    kubeconfig: file.path().to_path_buf(),
                    client,
                    backend: Backend::Sandbox { sandbox, _kubeconfig: file },
                }
            }
            Target::Real => {
                let turn = REAL_TURN.clone().lock_owned().await;
                let real =
                    tokio::task::spawn_blocking(move || RealCluster::up(turn)).await.unwrap();
                let kubeconfig = real.kubeconfig.clone();
                let client = client_for(&kubeconfig).await;
                TestCluster { target, kubeconfig, client, backend: Backend::Real(real) }
            }
        }
    }

    /// A kube-rs client that does not retry 429s (a refused eviction is an answer here).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Compacts the history of changes now (the sandbox's store, or etcd under the real
    /// control plane): resourceVersions from before answer 410 Gone.
    pub fn compactor(&self) -> Compactor {
        match &self.backend {
            Backend::Sandbox { sandbox, .. } => Compactor::Sandbox(sandbox.store()),
            Backend::Real(real) => Compactor::Etcd(real.etcd_url()),
        }
    }

    pub fn sandbox(&self) -> Option<&Sandbox> {
        match &self.backend {
            Backend::Sandbox { sandbox, .. } => Some(sandbox),
            Backend::Real(_) => None,
        }
    }

    pub async fn shutdown(self) {
        match self.backend {
            Backend::Sandbox { sandbox, .. } => sandbox.shutdown().await,
            Backend::Real(real) => tokio::task::spawn_blocking(move || drop(real)).await.unwrap(),
        }
    }
}

#[derive(Clone)]
pub enum Compactor {
    Sandbox(Arc<chaosdeck_sandbox::Store>),
    /// etcd's client URL (plain HTTP on loopback).
    Etcd(String),
}

impl Compactor {
    /// Compacts everything up to `revision` (a resourceVersion just read).
    pub async fn compact(&self, revision: u64) {
        match self {
            Compactor::Sandbox(store) => store.compact(),
            Compactor::Etcd(url) => {
                let config = kube::Config::new(url.parse().unwrap());
                let client = kube::Client::try_from(config).unwrap();
                let body = serde_json::json!({"revision": revision.to_string(), "physical": true});
                let req = http::Request::post("/v3/kv/compaction")
                    .header("Content-Type", "application/json")
                    .body(kube::client::Body::from(body.to_string().into_bytes()))
                    .unwrap();
                let resp = client.send(req).await.unwrap();
                assert!(resp.status().is_success(), "etcd compaction: {}", resp.status());
            }
        }
    }
}

/// A client from a kubeconfig file as kubectl reads it, without kube-rs's retry of 429s.
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let file = Kubeconfig::read_from(kubeconfig).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await.unwrap();
    config.default_retry = false;
    kube::Client::try_from(config).unwrap()
}

/// A control plane of `scripts/realcluster`, stopped on drop. The script's reaper also stops
/// it when this test process dies, SIGKILL included.
struct RealCluster {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl RealCluster {
    fn up(turn: tokio::sync::OwnedMutexGuard<()>) -> RealCluster {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script())
            .arg("up")
            .arg("--dir")
            .arg(dir.path().join("cluster"))
            .arg("--owner-pid")
            .arg(std::process::id().to_string())
            .output()
            .expect("scripts/realcluster runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let kubeconfig = stdout.lines().find_map(|l| l.strip_prefix("KUBECONFIG="));
        match (out.status.success(), kubeconfig) {
            (true, Some(path)) => RealCluster { kubeconfig: PathBuf::from(path), dir, _turn: turn },
            _ => panic!(
                "scripts/realcluster up failed ({}):\n{stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

impl RealCluster {
    /// etcd's URL, from the running kube-apiserver's `--etcd-servers`.
    fn etcd_url(&self) -> String {
        let pids = self.dir.path().join("cluster/pids");
        for entry in std::fs::read_dir(&pids).unwrap() {
            let pid = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", pid.trim())) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if let Some(i) = args.iter().position(|a| a == "--etcd-servers") {
                return args[i + 1].clone();
            }
        }
        panic!("no kube-apiserver with --etcd-servers under {}", pids.display());
    }
}

impl Drop for RealCluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("down")
            .arg("--dir")
            .arg(self.dir.path().join("cluster"))
            .status();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/realcluster")
}

/// The kubectl built from the same Kubernetes release as the real control plane
/// (`scripts/realcluster build`, cached after the first build), or `$CHAOSDECK_KUBECTL`.
pub fn kubectl_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CHAOSDECK_KUBECTL") {
        return PathBuf::from(path);
    }
    let out = Command::new(script()).arg("build").output().expect("scripts/realcluster runs");
    assert!(
        out.status.success(),
        "scripts/realcluster build failed (set CHAOSDECK_KUBECTL to use another kubectl):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = String::from_utf8_lossy(&out.stdout).trim().to_string();
    PathBuf::from(bin).join("kubectl")
}
