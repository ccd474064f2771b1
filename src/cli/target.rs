//! Choosing the cluster for commands that act on one (`execute-rollback`).

use std::path::PathBuf;

use clap::Args;
use color_eyre::eyre::{Result, bail};

use crate::cluster::{ClusterOps, ClusterTarget, connect, identify};
use crate::config::{ClusterChoice, Config};

/// `--cluster-mismatch-ok` named another context than the one connected: bad input.
#[derive(Debug, thiserror::Error)]
#[error(
    "--cluster-mismatch-ok {named:?} does not name the cluster connected to (context {context:?} at {server}); nothing was executed"
)]
pub struct NotTheNamedCluster {
    named: String,
    context: String,
    server: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ClusterArgs {
    /// Kubeconfig file (default: the config's kraken.kubeconfig_path, else $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the file's current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Execute entries made on another cluster (or not saying which, as Krkn's) on this one.
    /// Must repeat the target's context name: the operator names the cluster explicitly.
    #[arg(long, value_name = "CONTEXT")]
    pub cluster_mismatch_ok: Option<String>,
}

impl ClusterArgs {
    pub async fn connect(&self, config: Option<&Config>) -> Result<(kube::Client, ClusterTarget)> {
        let mut kubeconfig = self.kubeconfig.clone();
        let mut context = self.context.clone();
        if kubeconfig.is_none()
            && let Some(config) = config
        {
            match &config.cluster {
                ClusterChoice::Sandbox { .. } => bail!(
                    "{} targets the embedded sandbox, which lives only inside a running chaosdeck; \
                     pass --kubeconfig (e.g. the one `chaosdeck sandbox` writes)",
                    config.path.display()
                ),
                ClusterChoice::Kubeconfig { context: cfg_context } => {
                    kubeconfig = config.kubeconfig_path.clone();
                    context = context.or_else(|| cfg_context.clone());
                }
            }
        }
        connect(kubeconfig.as_deref(), context.as_deref()).await
    }

    /// Connects and identifies the cluster; the operations refuse entries of other clusters
    /// unless `--cluster-mismatch-ok` names this one.
    pub async fn connect_ops(
        &self,
        config: Option<&Config>,
    ) -> Result<(ClusterOps, ClusterTarget)> {
        let (client, target) = self.connect(config).await?;
        let foreign_ok = match &self.cluster_mismatch_ok {
            None => false,
            Some(named) if *named == target.context => true,
            Some(named) => {
                return Err(NotTheNamedCluster {
                    named: named.clone(),
                    context: target.context.clone(),
                    server: target.server.clone(),
                }
                .into());
            }
        };
        let identity = identify(&client, &target).await;
        // Undos stay out of the config's protected namespaces (the built-in ones without one).
        let protected = config.map(Config::protected).unwrap_or_default();
        let ops = ClusterOps::identified(client, identity, foreign_ok).with_protected(protected);
        Ok((ops, target))
    }
}
