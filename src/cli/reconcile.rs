//! `chaosdeck reconcile`: retire the local entries the watchdog undid, with who and when.

use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::{Result, eyre};

use super::location::JournalLocation;
use super::target::ClusterArgs;
use crate::config::{Config, DEFAULT_DEAD_MAN_NAMESPACE};
use crate::deadman::MirrorStore;
use crate::deadman::reconcile::reconcile;

#[derive(Args, Debug)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub location: JournalLocation,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Namespace of the mirrors (default: the config's dead_man_switch.namespace, else
    /// chaosdeck-system).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Only this run.
    #[arg(short = 'r', long = "run_uuid", alias = "run-uuid")]
    pub run_uuid: Option<String>,
}

pub async fn run(args: ReconcileArgs) -> Result<ExitCode> {
    let dir = args.location.resolve()?;
    let config = args.location.config.as_deref().map(Config::load).transpose()?;
    let namespace = args
        .namespace
        .clone()
        .or_else(|| config.as_ref().map(|c| c.dead_man_switch.namespace.clone()))
        .unwrap_or_else(|| DEFAULT_DEAD_MAN_NAMESPACE.to_string());
    let (client, target) = args.cluster.connect(config.as_ref()).await?;
    let store = MirrorStore::new(client, &namespace);
    let done = reconcile(&store, &dir, args.run_uuid.as_deref())
        .await
        .map_err(|e| eyre!("{e} (cluster: context {} at {})", target.context, target.server))?;
    for line in &done.lines {
        crate::out::line(line);
    }
    crate::out::line(format!(
        "{} retired (undone by the watchdog), {} the watchdog could not undo, {} waiting for \
         it, {} not trusted, {} error(s)",
        done.retired, done.failed, done.waiting, done.unverified, done.errors
    ));
    Ok(ExitCode::from(if done.failed + done.errors + done.unverified > 0 {
        crate::exit::FAILED
    } else {
        crate::exit::OK
    }))
}
