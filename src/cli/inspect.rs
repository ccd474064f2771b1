//! `chaosdeck inspect`: the terminal UI on a journal, no engine. `x`/`!` undo entries through
//! the given cluster; without one, the journal can still be browsed and marked.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr, bail};

use super::location::JournalLocation;
use super::target::ClusterArgs;
use crate::config::Config;
use crate::tui::Session;
use crate::tui::app::{App, Header, Mode};
use crate::tui::keys::KeyMap;
use crate::tui::theme::Theme;

#[derive(Args, Debug, Default)]
pub struct InspectArgs {
    #[command(flatten)]
    pub location: JournalLocation,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

pub async fn run(args: InspectArgs) -> Result<ExitCode> {
    // First, so that a bad keys.yaml is reported as such wherever inspect is started.
    let keys = KeyMap::from_config_dir()?;
    // A wrong journal path is the first thing to hear about, terminal or not.
    let dir = args.location.resolve()?;
    if !std::io::stdout().is_terminal() {
        bail!("inspect needs a terminal; use list-rollback / show for scripts");
    }
    let config = args.location.config.as_deref().map(Config::load).transpose()?;
    let mut header = Header::default();
    let ops = match args.cluster.connect_ops(config.as_ref()).await {
        Ok((ops, target)) => {
            header.is_sandbox = super::embedded::is_sandbox(&target);
            header.context = target.context;
            header.server = target.server;
            Some(Arc::new(ops))
        }
        Err(e) => {
            crate::out::err_line(format!("note: no cluster ({e:#}); browsing only"));
            None
        }
    };
    let mut app = App::new(Mode::Inspect, header, Theme::from_env());
    app.keys = keys;
    match &ops {
        None => app.push_log("no cluster connection: x and ! need --kubeconfig"),
        // What a watchdog undid while chaosdeck was gone shows as executed, with who and when.
        Some(ops) => {
            let namespace = config
                .as_ref()
                .map(|c| c.dead_man_switch.namespace.clone())
                .unwrap_or_else(|| crate::config::DEFAULT_DEAD_MAN_NAMESPACE.to_string());
            let store = crate::deadman::MirrorStore::new(ops.client().clone(), &namespace);
            match crate::deadman::reconcile::reconcile(&store, &dir, None).await {
                Ok(done) => {
                    for line in done.lines {
                        app.push_log(format!("reconcile: {line}"));
                    }
                }
                Err(e) => app.push_log(format!("reconcile skipped: {e}")),
            }
        }
    }
    app.has_cluster = ops.is_some();
    let session =
        Session { app, journal: dir, ops, engine: None, feed: None, before_emergency: None };
    crate::tui::run(session).await.wrap_err("the terminal UI failed")?;
    Ok(ExitCode::SUCCESS)
}
