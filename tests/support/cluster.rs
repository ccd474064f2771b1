//! The cluster a test runs against: the embedded sandbox, or a real Kubernetes control plane
//! started by `scripts/realcluster` (etcd, kube-apiserver, controller-manager, scheduler, kwok).
//! The same test code runs on both; [`on_both_targets!`](crate::on_both_targets) makes one
//! test of each.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chaosdeck::cluster::ClusterTarget;
use chaosdeck::sandbox::{SANDBOX_CONTEXT, Sandbox, SandboxOptions};
use chaosdeck_testbed::{RealCluster, Workloads};
use kube::config::{KubeConfigOptions, Kubeconfig};

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
                        Seed::Demo => chaosdeck::sandbox::Seed::Demo,
                        Seed::Empty => chaosdeck::sandbox::Seed::Empty,
                    },
                    pod_ready_delay: Duration::from_millis(50),
                    ..Default::default()
                })
                .await
                .expect("sandbox starts");
                let file = tempfile::NamedTempFile::new().unwrap();
                sandbox.write_kubeconfig(file.path()).unwrap();
                let client = sandbox.client().unwrap();
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
                    .unwrap()
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

    /// A kube-rs client on this test's runtime.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn context(&self) -> &'static str {
        match self.target {
            Target::Sandbox => SANDBOX_CONTEXT,
            Target::Real => REAL_CONTEXT,
        }
    }

    pub fn cluster_target(&self) -> ClusterTarget {
        ClusterTarget { context: self.context().into(), server: self.server.clone() }
    }

    /// The sandbox itself, for tests that look inside it (recorded requests, its store).
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

/// A client from a kubeconfig file, as kubectl would read it (TLS and client certificates for
/// the real control plane, plain HTTP for the sandbox).
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let file = Kubeconfig::read_from(kubeconfig).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Makes `name::sandbox` and `name::real` from one async test body that takes a [`Target`];
/// the real one is ignored unless asked for (it needs Go to build the control plane). Doc
/// comments before the body are kept; use it as `crate::on_both_targets! { ... }`.
#[macro_export]
macro_rules! on_both_targets {
    () => {};
    // One test pair; the bracket holds attributes for the sandbox test only.
    (@pair [$($sandbox_attr:tt)*] $(#[$meta:meta])* async fn $name:ident($target:ident) $body:block $($rest:tt)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn body($target: $crate::support::cluster::Target) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $($sandbox_attr)*
            async fn sandbox() {
                body($crate::support::cluster::Target::Sandbox).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs the real control plane (Go; scripts/realcluster)"]
            async fn real() {
                body($crate::support::cluster::Target::Real).await
            }
        }
        $crate::on_both_targets!($($rest)*);
    };
    // `#[ignore = "needs tmux"]` first: the sandbox test needs that program too.
    (#[ignore = $why:literal] $($rest:tt)*) => {
        $crate::on_both_targets!(@pair [#[ignore = $why]] $($rest)*);
    };
    ($($rest:tt)+) => {
        $crate::on_both_targets!(@pair [] $($rest)*);
    };
}
