//! The cluster a test runs against: the embedded sandbox, or the real control plane of
//! `scripts/realcluster`. The same test code runs on both; the root crate's and the sandbox
//! crate's tests use this one type.
//!
//! Owns: starting either with the same workloads, a kubectl-like client for it, and stopping
//! it. Must not know chaosdeck itself (the root crate adapts it to its own types).

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chaosdeck_sandbox::{Sandbox, SandboxOptions};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::{RealCluster, Workloads};

/// Which API server a test talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Sandbox,
    /// `scripts/realcluster`: needs Go (the binaries are built once into a cache).
    Real,
}

/// What the cluster holds when the test starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seed {
    /// Three zoned workers and a control plane, the shop and payments workloads
    /// (`crates/sandbox/seed/*.yaml`).
    Demo,
    /// The system namespaces only (a real control plane has its nodes too).
    Empty,
}

/// The context name `scripts/realcluster` writes into its kubeconfig.
pub const REAL_CONTEXT: &str = "chaosdeck-realcluster";

/// One real control plane at a time per test binary: two would share two cores.
static REAL_TURN: LazyLock<Arc<tokio::sync::Mutex<()>>> = LazyLock::new(Default::default);

pub struct TestCluster {
    pub target: Target,
    backend: Backend,
    kubeconfig: PathBuf,
    client: kube::Client,
    server: String,
}

enum Backend {
    Sandbox { sandbox: Sandbox, _kubeconfig: tempfile::NamedTempFile },
    Real { cluster: RealCluster, _turn: tokio::sync::OwnedMutexGuard<()> },
}

impl TestCluster {
    pub async fn start(target: Target, seed: Seed) -> TestCluster {
        match target {
            Target::Sandbox => {
                let sandbox = Sandbox::start(SandboxOptions {
                    seed: match seed {
                        Seed::Demo => chaosdeck_sandbox::Seed::Demo,
                        Seed::Empty => chaosdeck_sandbox::Seed::Empty,
                    },
                    pod_ready_delay: Duration::from_millis(50),
                    ..Default::default()
                })
                .await
                .expect("sandbox starts");
                let file = tempfile::NamedTempFile::new().expect("a temporary kubeconfig");
                sandbox.write_kubeconfig(file.path()).expect("the sandbox's kubeconfig");
                let client = client_for(file.path()).await;
                TestCluster {
                    target,
                    kubeconfig: file.path().to_path_buf(),
                    server: sandbox.url(),
                    client,
                    backend: Backend::Sandbox { sandbox, _kubeconfig: file },
                }
            }
            Target::Real => {
                let turn = REAL_TURN.clone().lock_owned().await;
                let workloads = match seed {
                    Seed::Demo => Workloads::Demo,
                    Seed::Empty => Workloads::Empty,
                };
                let cluster = tokio::task::spawn_blocking(move || RealCluster::up(workloads))
                    .await
                    .expect("the start-up task")
                    .unwrap_or_else(|e| panic!("{e}"));
                let kubeconfig = cluster.kubeconfig();
                let client = client_for(&kubeconfig).await;
                let server = cluster.server();
                TestCluster {
                    target,
                    kubeconfig,
                    client,
                    server,
                    backend: Backend::Real { cluster, _turn: turn },
                }
            }
        }
    }

    /// A kube-rs client as kubectl reads the kubeconfig, that does not retry 429s (a refused
    /// eviction or a throttled request is an answer here).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn context(&self) -> &'static str {
        match self.target {
            Target::Sandbox => chaosdeck_sandbox::SANDBOX_CONTEXT,
            Target::Real => REAL_CONTEXT,
        }
    }

    /// On the test bed, where kwok's exec stand-ins keep pods' and claims' files; the sandbox
    /// models them itself.
    pub fn exec_root(&self) -> Option<PathBuf> {
        match &self.backend {
            Backend::Sandbox { .. } => None,
            Backend::Real { cluster, .. } => Some(cluster.exec_root()),
        }
    }

    /// The sandbox itself, for tests that look inside it (recorded requests, its store).
    pub fn sandbox(&self) -> Option<&Sandbox> {
        match &self.backend {
            Backend::Sandbox { sandbox, .. } => Some(sandbox),
            Backend::Real { .. } => None,
        }
    }

    /// Compacts the history of changes now (the sandbox's store, or etcd under the real
    /// control plane): resourceVersions from before answer 410 Gone.
    pub fn compactor(&self) -> Compactor {
        match &self.backend {
            Backend::Sandbox { sandbox, .. } => Compactor::Sandbox(sandbox.store()),
            Backend::Real { cluster, .. } => Compactor::Etcd(cluster.etcd_url()),
        }
    }

    pub async fn shutdown(self) {
        match self.backend {
            Backend::Sandbox { sandbox, .. } => sandbox.shutdown().await,
            Backend::Real { cluster, _turn } => {
                let _ = tokio::task::spawn_blocking(move || drop(cluster)).await;
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
                let config = kube::Config::new(url.parse().expect("etcd's URL"));
                let client = kube::Client::try_from(config).expect("an etcd client");
                let body = serde_json::json!({"revision": revision.to_string(), "physical": true});
                let req = http::Request::post("/v3/kv/compaction")
                    .header("Content-Type", "application/json")
                    .body(kube::client::Body::from(body.to_string().into_bytes()))
                    .expect("a compaction request");
                let resp = client.send(req).await.expect("etcd answers");
                assert!(resp.status().is_success(), "etcd compaction: {}", resp.status());
            }
        }
    }
}

/// A client from a kubeconfig file as kubectl reads it (TLS and client certificates for the
/// real control plane, plain HTTP for the sandbox), without kube-rs's retry of 429s.
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let file = Kubeconfig::read_from(kubeconfig).expect("a kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .expect("a client configuration");
    config.default_retry = false;
    kube::Client::try_from(config).expect("a client")
}
