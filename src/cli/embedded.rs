//! The embedded sandbox as `chaosdeck run` and `chaosdeck sandbox` use it, and what a build
//! without the `sandbox` feature says instead.
//!
//! Owns: starting and stopping the in-process emulator for one run, and naming it. Must not
//! touch: the journal or any real cluster.

#[cfg(feature = "sandbox")]
mod with_sandbox {
    use std::path::PathBuf;

    use color_eyre::eyre::{Result, WrapErr};

    use crate::cluster::ClusterTarget;
    use crate::sandbox::{SANDBOX_CONTEXT, Sandbox, SandboxOptions};

    /// The sandbox of one run; it lives until [`Embedded::stop`].
    pub struct Embedded {
        sandbox: Sandbox,
        kubeconfig: Option<PathBuf>,
    }

    impl Embedded {
        pub async fn start(seed: &str) -> Result<(Embedded, kube::Client, ClusterTarget)> {
            let seed = seed.parse().wrap_err("chaosdeck.sandbox_seed")?;
            let sandbox = Sandbox::start(SandboxOptions { seed, ..Default::default() }).await?;
            // A few hundred milliseconds: the seeded pods become Ready before any chaos, as in
            // a cluster someone runs a game day on. Not settling is no reason to refuse.
            if !sandbox.wait_settled(std::time::Duration::from_secs(10)).await {
                crate::out::err_line(
                    "sandbox: the seeded workloads are not all Ready yet; starting anyway",
                );
            }
            let client = sandbox.client()?;
            let target = ClusterTarget { context: SANDBOX_CONTEXT.into(), server: sandbox.url() };
            let path = crate::config::default_dir()
                .with_file_name(format!("sandbox-{}.kubeconfig", std::process::id()));
            // The kubeconfig is a convenience for a second terminal; a run goes on without it.
            let kubeconfig = sandbox.write_kubeconfig(&path).is_ok().then_some(path);
            if let Some(path) = &kubeconfig {
                crate::out::err_line(format!(
                    "sandbox: {} (kubectl --kubeconfig {} get pods -A, while this run lasts)",
                    sandbox.url(),
                    path.display()
                ));
            }
            Ok((Embedded { sandbox, kubeconfig }, client, target))
        }

        pub async fn stop(self) {
            self.sandbox.shutdown().await;
            if let Some(path) = self.kubeconfig {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    pub fn is_sandbox(target: &ClusterTarget) -> bool {
        target.context == SANDBOX_CONTEXT
            && (target.server.contains("://127.0.0.1:") || target.server.contains("://localhost:"))
    }

    pub async fn serve(
        args: crate::sandbox::command::SandboxArgs,
        after_start: Option<crate::cli::embedded::AfterStart>,
    ) -> Result<()> {
        crate::sandbox::command::run(args, after_start).await
    }

    /// Whether a failure was the sandbox's own (the machine), not the user's input.
    pub fn is_environment_error(cause: &(dyn std::error::Error + 'static)) -> bool {
        cause
            .downcast_ref::<crate::sandbox::SandboxError>()
            .is_some_and(|e| !matches!(e, crate::sandbox::SandboxError::BadSeed(_)))
    }

    pub use crate::sandbox::command::SandboxArgs;
}

#[cfg(not(feature = "sandbox"))]
mod without_sandbox {
    use color_eyre::eyre::{Result, bail};

    use crate::cluster::ClusterTarget;

    const MISSING: &str = "this chaosdeck was built without the embedded sandbox (cargo feature \
                           `sandbox`); set `chaosdeck: cluster: kubeconfig` or pass --kubeconfig";

    pub enum Embedded {}

    impl Embedded {
        pub async fn start(_seed: &str) -> Result<(Embedded, kube::Client, ClusterTarget)> {
            bail!(MISSING)
        }

        pub async fn stop(self) {}
    }

    /// No sandbox exists in this build: every cluster is treated as a real one.
    pub fn is_sandbox(_target: &ClusterTarget) -> bool {
        false
    }

    pub async fn serve(
        _args: SandboxArgs,
        _after_start: Option<crate::cli::embedded::AfterStart>,
    ) -> Result<()> {
        bail!(MISSING)
    }

    pub fn is_environment_error(_cause: &(dyn std::error::Error + 'static)) -> bool {
        false
    }

    /// `chaosdeck sandbox` stays in the command list so its error can say why it is missing.
    #[derive(clap::Args, Debug)]
    pub struct SandboxArgs {}
}

#[cfg(feature = "sandbox")]
pub use with_sandbox::*;
#[cfg(not(feature = "sandbox"))]
pub use without_sandbox::*;

/// Started once the sandbox listens (`chaosdeck sandbox --watchdog`), with a client acting as
/// the watchdog's ServiceAccount and the sandbox's URL.
#[cfg(feature = "sandbox")]
pub type AfterStart = crate::sandbox::command::AfterStart;
#[cfg(not(feature = "sandbox"))]
pub type AfterStart = Box<
    dyn FnOnce(
            kube::Client,
            String,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send,
>;

/// Why the cluster a config names could not be had: the embedded sandbox failed to start (the
/// machine), or the kubeconfig and context led nowhere (the user's input).
pub enum ClusterError {
    Sandbox(color_eyre::Report),
    Connect(color_eyre::Report),
}

/// The cluster a config names: the embedded sandbox (kept alive in the returned [`Embedded`]
/// until stopped), or a kubeconfig and context, the command line's first.
pub async fn cluster_of(
    config: &crate::config::Config,
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<(Option<Embedded>, kube::Client, crate::cluster::ClusterTarget), ClusterError> {
    use crate::config::ClusterChoice;
    match (&config.cluster, kubeconfig) {
        (ClusterChoice::Sandbox { seed }, None) => {
            let (embedded, client, target) =
                Embedded::start(seed).await.map_err(ClusterError::Sandbox)?;
            Ok((Some(embedded), client, target))
        }
        (choice, kubeconfig) => {
            let context = context.map(str::to_string).or_else(|| match choice {
                ClusterChoice::Kubeconfig { context } => context.clone(),
                ClusterChoice::Sandbox { .. } => None,
            });
            let path = kubeconfig
                .map(std::path::Path::to_path_buf)
                .or_else(|| config.kubeconfig_path.clone());
            let (client, target) = crate::cluster::connect(path.as_deref(), context.as_deref())
                .await
                .map_err(ClusterError::Connect)?;
            Ok((None, client, target))
        }
    }
}
