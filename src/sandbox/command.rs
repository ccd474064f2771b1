//! `chaosdeck sandbox`: serve the sandbox on loopback until Ctrl-C.

use std::path::PathBuf;

use super::{Sandbox, SandboxOptions, Seed};

#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Where to write the kubeconfig for kubectl and chaosdeck.
    #[arg(long)]
    pub kubeconfig_out: Option<PathBuf>,
    /// What the cluster starts with: demo, empty or scale:NODES:PODS.
    #[arg(long, default_value = "demo")]
    pub seed: String,
}

pub async fn run(args: SandboxArgs) -> color_eyre::Result<()> {
    let seed: Seed = args.seed.parse()?;
    let sandbox =
        Sandbox::start(SandboxOptions { port: args.port, seed, ..Default::default() }).await?;
    sandbox.shutdown().await;
    Ok(())
}
