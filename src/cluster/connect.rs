//! Building a kube `Client` from a kubeconfig file and an optional context name.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::refs::ClusterIdentity;

/// Which cluster a command talks to, for display and for safety checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTarget {
    pub context: String,
    pub server: String,
}

/// Reads the cluster's identity: its kube-system namespace uid, with the context and server.
/// A cluster that does not let us read it (RBAC, no such namespace) is identified by context
/// and server alone.
pub async fn identify(client: &Client, target: &ClusterTarget) -> ClusterIdentity {
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(client.clone());
    let kube_system_uid =
        namespaces.get_opt("kube-system").await.ok().flatten().and_then(|ns| ns.metadata.uid);
    ClusterIdentity {
        context: target.context.clone(),
        server: target.server.clone(),
        kube_system_uid,
    }
}

/// The context name a pod's own ServiceAccount connection is shown under.
pub const IN_CLUSTER_CONTEXT: &str = "in-cluster";

/// Connects as the pod this runs in: its ServiceAccount token and CA at the in-cluster paths,
/// the API server from `KUBERNETES_SERVICE_HOST`/`_PORT`. Never falls back to a kubeconfig: a
/// Job must not pick up credentials baked into an image.
pub async fn connect_in_cluster() -> color_eyre::Result<(Client, ClusterTarget)> {
    use color_eyre::eyre::WrapErr;
    let config = Config::incluster().wrap_err(
        "--in-cluster: not in a pod (no KUBERNETES_SERVICE_HOST/_PORT, or no ServiceAccount \
         token and CA under /var/run/secrets/kubernetes.io/serviceaccount)",
    )?;
    let target = ClusterTarget {
        context: IN_CLUSTER_CONTEXT.to_string(),
        server: config.cluster_url.to_string(),
    };
    let client = Client::try_from(config).wrap_err("cannot build the Kubernetes client")?;
    Ok((client, target))
}

/// Connects with `kubeconfig` (or `$KUBECONFIG` / `~/.kube/config` when `None`) and `context`
/// (or the file's current context).
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> color_eyre::Result<(Client, ClusterTarget)> {
    use color_eyre::eyre::WrapErr;
    let (config, target) = client_config(kubeconfig, context).await?;
    let client = Client::try_from(config).wrap_err("cannot build the Kubernetes client")?;
    Ok((client, target))
}

/// The kube client configuration [`connect`] builds its client from.
pub async fn client_config(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> color_eyre::Result<(Config, ClusterTarget)> {
    use color_eyre::eyre::{WrapErr, eyre};
    let options = KubeConfigOptions { context: context.map(str::to_string), ..Default::default() };
    let (kubeconfig, path) = match kubeconfig {
        // kube's message quotes the path itself and its source repeats the cause: said once.
        Some(path) => (
            Kubeconfig::read_from(path).map_err(|e| {
                eyre!("cannot read kubeconfig {}: {}", path.display(), root_cause(&e))
            })?,
            path.to_path_buf(),
        ),
        None => (
            Kubeconfig::read()
                .wrap_err("cannot read the kubeconfig ($KUBECONFIG or ~/.kube/config)")?,
            PathBuf::from("$KUBECONFIG"),
        ),
    };
    let context_name =
        options.context.clone().or_else(|| kubeconfig.current_context.clone()).unwrap_or_default();
    if context_name.is_empty() {
        color_eyre::eyre::bail!(
            "kubeconfig {} names no current-context: pass --context (or chaosdeck.context in \
             the config)",
            path.display()
        );
    }
    let config =
        Config::from_custom_kubeconfig(kubeconfig, &options).await.wrap_err_with(|| {
            format!("kubeconfig {}: cannot use context {context_name:?}", path.display())
        })?;
    let target = ClusterTarget { context: context_name, server: config.cluster_url.to_string() };
    Ok((config, target))
}

/// The innermost error of `e`'s chain: the one that says what actually went wrong.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}
