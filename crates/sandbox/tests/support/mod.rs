//! The API server a sandbox test talks to: the sandbox itself, or a real Kubernetes control
//! plane started by `scripts/realcluster` (etcd, kube-apiserver, controller-manager, scheduler,
//! kwok), both seeded from `crates/sandbox/seed/*.yaml`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chaosdeck_sandbox::{Sandbox, SandboxOptions};
use chaosdeck_testbed::{RealCluster, Workloads};
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
    Real { cluster: RealCluster, _turn: tokio::sync::OwnedMutexGuard<()> },
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
                let cluster = tokio::task::spawn_blocking(|| RealCluster::up(Workloads::Demo))
                    .await
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{e}"));
                let kubeconfig = cluster.kubeconfig();
                let client = client_for(&kubeconfig).await;
                TestCluster {
                    target,
                    kubeconfig,
                    client,
                    backend: Backend::Real { cluster, _turn: turn },
                }
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
            Backend::Real { cluster, .. } => Compactor::Etcd(cluster.etcd_url()),
        }
    }

    pub fn sandbox(&self) -> Option<&Sandbox> {
        match &self.backend {
            Backend::Sandbox { sandbox, .. } => Some(sandbox),
            Backend::Real { .. } => None,
        }
    }

    pub async fn shutdown(self) {
        match self.backend {
            Backend::Sandbox { sandbox, .. } => sandbox.shutdown().await,
            Backend::Real { cluster, _turn } => {
                tokio::task::spawn_blocking(move || drop(cluster)).await.unwrap()
            }
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
