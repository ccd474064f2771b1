//! `chaosdeck sandbox`: serve the sandbox on loopback until Ctrl-C.
//!
//! Owns: the subcommand's flags, where the kubeconfig goes by default, and what it prints.
//! Must not touch the user's own kubeconfig.

use std::path::PathBuf;

use color_eyre::eyre::{WrapErr, eyre};

use super::{Sandbox, SandboxOptions, Seed};

#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Where to write the kubeconfig for kubectl and chaosdeck
    /// [default: $XDG_STATE_HOME/chaosdeck/sandbox.kubeconfig].
    #[arg(long)]
    pub kubeconfig_out: Option<PathBuf>,
    /// What the cluster starts with: demo, empty or scale:NODES:PODS.
    #[arg(long, default_value = "demo")]
    pub seed: String,
    /// Delay every response, like a cluster in another region: e.g. 20ms or 20ms±5ms.
    #[arg(long, value_name = "DELAY")]
    pub latency: Option<super::throttle::Latency>,
    /// Answer 429 with Retry-After past N requests in flight (watches not counted).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_inflight: Option<u32>,
}

/// `$XDG_STATE_HOME/chaosdeck/sandbox.kubeconfig`, else `~/.local/state/chaosdeck/...`.
pub fn default_kubeconfig_path() -> color_eyre::Result<PathBuf> {
    let state = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").filter(|v| !v.is_empty()).ok_or_else(|| {
                eyre!("neither XDG_STATE_HOME nor HOME is set; pass --kubeconfig-out")
            })?;
            PathBuf::from(home).join(".local").join("state")
        }
    };
    Ok(state.join("chaosdeck").join("sandbox.kubeconfig"))
}

/// Started once the sandbox listens, before the banner (the root crate's `--watchdog`), with
/// a client acting as the dead man's switch watchdog's ServiceAccount and the sandbox's URL.
pub type AfterStart = Box<
    dyn FnOnce(
            kube::Client,
            String,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send,
>;

pub async fn run(args: SandboxArgs, after_start: Option<AfterStart>) -> color_eyre::Result<()> {
    let seed: Seed = args.seed.parse()?;
    let path = match args.kubeconfig_out {
        Some(p) => p,
        None => default_kubeconfig_path()?,
    };
    let sandbox = Sandbox::start(SandboxOptions {
        port: args.port,
        seed,
        latency: args.latency,
        max_inflight: args.max_inflight.map(|n| n as usize),
        ..Default::default()
    })
    .await
    .wrap_err("cannot start the sandbox")?;
    // Listening for Ctrl-C before saying "Press Ctrl-C": a signal right after the banner must
    // stop the sandbox cleanly, not kill it.
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).wrap_err("cannot listen for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).wrap_err("cannot listen for SIGTERM")?;
    sandbox
        .write_kubeconfig(&path)
        .wrap_err_with(|| format!("cannot write the kubeconfig to {}", path.display()))?;
    if let Some(start) = after_start {
        let client = sandbox
            .client_as(super::switch_policy::WATCHDOG)
            .wrap_err("cannot make a client of the sandbox")?;
        start(client, sandbox.url()).await;
    }
    println!("chaosdeck sandbox listening on {}", sandbox.url());
    println!(
        "  loopback only, plain HTTP, no authentication: for demos and tests, not for real workloads"
    );
    println!("  kubeconfig (context {}): {}", super::SANDBOX_CONTEXT, path.display());
    println!("  try: kubectl --kubeconfig {} get pods -A", path.display());
    println!("  (a minimal OpenAPI: kubectl apply -f works, kubectl explain does not)");
    println!("Press Ctrl-C to stop.");
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    println!("stopping the sandbox");
    sandbox.shutdown().await;
    Ok(())
}
