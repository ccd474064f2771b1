//! Builds the run's health checks ([`crate::health`]) from the config, the loaded scenarios and
//! the cluster the run talks to.
//!
//! Owns: choosing the probe client (the same cluster and credentials as the run, kube's retries
//! off). Must not start anything: `run` attaches the result to the engine's event stream.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use color_eyre::eyre::{Result, WrapErr};

use super::embedded::is_sandbox;
use crate::cluster::{ClusterOps, ClusterTarget};
use crate::config::{ClusterChoice, Config};
use crate::engine::PlannedFile;
use crate::health::{Setup, Target};

pub async fn setup(
    config: &Config,
    plan: &[PlannedFile],
    ops: Arc<ClusterOps>,
    target: &ClusterTarget,
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    in_cluster: bool,
) -> Result<Setup> {
    let targets = targets(plan);
    let probe = probe_client(config, target, kubeconfig, context, in_cluster).await?;
    Ok(Setup { config: config.health_checks.clone(), targets, ops, probe })
}

/// The readiness targets of the run's scenarios, deduplicated.
pub fn targets(plan: &[PlannedFile]) -> Vec<Target> {
    let mut targets: Vec<Target> = plan.iter().flat_map(|f| f.plan.health_targets()).collect();
    targets.sort();
    targets.dedup();
    targets
}

/// The same cluster as the run's client, found the same way (`cli::embedded::cluster_of`).
async fn probe_client(
    config: &Config,
    target: &ClusterTarget,
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    in_cluster: bool,
) -> Result<kube::Client> {
    let mut client_config = if in_cluster {
        // `run --in-cluster`: the pod's ServiceAccount, never the config's kubeconfig_path.
        kube::Config::incluster().wrap_err("the health checks' in-cluster client")?
    } else if is_sandbox(target) && kubeconfig.is_none() {
        // The embedded sandbox: no credentials, just its loopback URL.
        let url = target.server.parse().wrap_err("the sandbox's URL")?;
        kube::Config::new(url)
    } else {
        let context = context.map(str::to_string).or_else(|| match &config.cluster {
            ClusterChoice::Kubeconfig { context } => context.clone(),
            ClusterChoice::Sandbox { .. } => None,
        });
        let path = kubeconfig.map(Path::to_path_buf).or_else(|| config.kubeconfig_path.clone());
        crate::cluster::client_config(path.as_deref(), context.as_deref()).await?.0
    };
    client_config.default_retry = false;
    kube::Client::try_from(client_config).wrap_err("cannot build the health checks' client")
}

/// Headless output prints a health row's first sample and each change between passing and
/// failing, not every round.
#[derive(Default)]
pub struct Transitions(HashMap<usize, bool>);

impl Transitions {
    /// Whether `event` is a health sample that says nothing new.
    pub fn is_repeat(&mut self, event: &crate::engine::EngineEvent) -> bool {
        match event {
            crate::engine::EngineEvent::HealthSample(s) => {
                self.0.insert(s.check, s.ok) == Some(s.ok)
            }
            _ => false,
        }
    }
}
