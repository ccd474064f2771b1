//! The cluster a test runs against: the embedded sandbox, or a real Kubernetes control plane
//! started by `scripts/realcluster` (etcd, kube-apiserver, controller-manager, scheduler, kwok).
//! The same test code runs on both ([`chaosdeck_testbed::cluster`]);
//! [`on_both_targets!`](crate::on_both_targets) makes one test of each.

use chaosdeck::cluster::ClusterTarget;
pub use chaosdeck_testbed::cluster::{REAL_CONTEXT, Seed, Target, TestCluster, client_for};

/// The cluster as chaosdeck names it in its entries and messages.
pub fn cluster_target(cluster: &TestCluster) -> ClusterTarget {
    ClusterTarget { context: cluster.context().into(), server: cluster.server().into() }
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
