//! `chaosdeck attach [RUN | --job NAME]`: the terminal UI on a run this process did not start
//! — a game day running as a Job in the cluster (`chaosdeck job`) — from the run's mirrors and
//! Lease: the Scenarios and Health panels from the progress the run writes on its Lease
//! (`deadman::progress`), the Journal from its mirrors.
//!
//! The run's mirrored entries are copied into a local journal of their own (by default
//! `~/.local/state/chaosdeck/attached/<run>`) and kept in step once a second; the UI shows
//! that journal as `inspect` shows any, with the Lease in the header. `x` and `!` undo through
//! the rollback service, impersonating the run's author (the identity the API server recorded
//! on its Lease and mirrors), and retire the mirrors, so the watchdog and `reconcile` see them
//! done. `!` first deletes the Job whose pod holds the Lease: its run gets SIGTERM and rolls
//! back what it can, and nothing new is injected while the rest is undone here.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr, bail};

use crate::cluster::{ClusterOps, connect, identify, impersonating};
use crate::config::DEFAULT_DEAD_MAN_NAMESPACE;
use crate::deadman::attached::{Attached, LeasedRun, find_job_run, find_run, job_of};
use crate::exit::BAD_INPUT as EXIT_BAD_INPUT;
use crate::tui::app::{App, Header, Mode};
use crate::tui::keys::KeyMap;
use crate::tui::theme::Theme;
use crate::tui::{EmergencyHook, Feed, Session};

/// The label `chaosdeck job` puts on a game day's Job and pod.
const GAME_DAY_COMPONENT: &str = "app.kubernetes.io/component=game-day";

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// The run's uuid or a unique prefix (default: the only run holding a Lease).
    pub run: Option<String>,
    /// The run of this game day's Job (`chaosdeck job`'s name; namespace `chaosdeck` unless
    /// given), waiting for its pod to start the run.
    #[arg(long, value_name = "[NAMESPACE/]NAME", conflicts_with = "run")]
    pub job: Option<String>,
    /// With --job: how long to wait for its run to take its Lease, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120, requires = "job")]
    pub wait: u64,
    /// Kubeconfig file (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace of the runs' Leases and mirrors.
    #[arg(long, default_value = DEFAULT_DEAD_MAN_NAMESPACE)]
    pub namespace: String,
    /// Where the run's entries are copied (default: attached/<run> beside the default journal).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub async fn run(args: AttachArgs) -> Result<ExitCode> {
    let keys = KeyMap::from_config_dir()?;
    if !std::io::stdout().is_terminal() {
        bail!("attach needs a terminal; `kubectl logs` follows a Job's run in scripts");
    }
    let (client, target) = match connect(args.kubeconfig.as_deref(), args.context.as_deref()).await
    {
        Ok(found) => found,
        Err(e) => {
            crate::out::err_line(format!("error: {e:#}"));
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let found = match &args.job {
        Some(job) => job_run(&client, &args.namespace, job, Duration::from_secs(args.wait)).await,
        None => find_run(&client, &args.namespace, args.run.as_deref()).await,
    };
    let run = match found {
        Ok(run) => run,
        Err(e) => {
            crate::out::err_line(format!("error: {e}"));
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let dir = args.dir.clone().unwrap_or_else(|| {
        crate::config::default_dir().with_file_name("attached").join(&run.run_uuid)
    });
    // Undos act with the rights of the identity that made the changes, never the operator's.
    let as_author = impersonating(client.clone(), &run.author)
        .map_err(|e| color_eyre::eyre::eyre!("cannot act as {}: {e}", run.author.username))?;
    let identity = identify(&client, &target).await;
    let ops = Arc::new(ClusterOps::identified(as_author, identity, false));
    let mut attached = Attached::new(run.clone(), client.clone(), &args.namespace, dir.clone())
        .map_err(|e| color_eyre::eyre::eyre!(e))?;
    let first = attached.sync().await.map_err(|e| color_eyre::eyre::eyre!(e))?;

    let header = Header {
        context: target.context.clone(),
        server: target.server.clone(),
        run_uuid: Some(run.run_uuid.clone()),
        attached: Some(lease_text(&run.run_uuid, Some(&run))),
        ..Header::default()
    };
    let mut app = App::new(Mode::Inspect, header, Theme::from_env());
    app.keys = keys;
    app.has_cluster = true;
    // The game-day clock counts from when the run took its Lease, by the cluster's clock.
    app.run_started = run.lease.spec.as_ref().and_then(|s| s.acquire_time.as_ref()).and_then(|t| {
        let ago = jiff::Timestamp::now().duration_since(t.0).as_secs_f64();
        let ago = std::time::Duration::try_from_secs_f64(ago).ok()?;
        std::time::Instant::now().checked_sub(ago)
    });
    app.push_log(format!(
        "attached to run {} ({}); entries copied to {}; x and ! act as {}",
        run.run_uuid,
        run.describe(),
        dir.display(),
        crate::refs::printable(&run.author.username)
    ));
    for line in first {
        app.push_log(line);
    }
    let (feed_tx, feed_rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = tokio_util::sync::CancellationToken::new();
    tokio::spawn(follow(attached, feed_tx, cancel.clone()));
    let session = Session {
        app,
        journal: dir,
        ops: Some(ops),
        engine: None,
        feed: Some(feed_rx),
        before_emergency: Some(stop_job_hook(client, run)),
    };
    let result = crate::tui::run(session).await;
    cancel.cancel();
    result.wrap_err("the terminal UI failed")?;
    Ok(ExitCode::SUCCESS)
}

/// The default namespace of `chaosdeck job`.
const GAME_DAY_NAMESPACE: &str = "chaosdeck";

/// The run of Job `job` (`[NAMESPACE/]NAME`), once its pod has started it: asked once a
/// second for up to `wait`. A Job that does not exist, or has finished with no run holding a
/// Lease, is said at once.
async fn job_run(
    client: &kube::Client,
    namespace: &str,
    job: &str,
    wait: Duration,
) -> Result<LeasedRun, String> {
    use k8s_openapi::api::batch::v1::Job;
    let (job_ns, name) = job.split_once('/').unwrap_or((GAME_DAY_NAMESPACE, job));
    if job_ns.is_empty() || name.is_empty() || name.contains('/') {
        return Err(format!("--job takes NAME or NAMESPACE/NAME, not {job:?}"));
    }
    let jobs: kube::Api<Job> = kube::Api::namespaced(client.clone(), job_ns);
    let deadline = tokio::time::Instant::now() + wait;
    let mut said = false;
    loop {
        if let Some(run) =
            find_job_run(client, namespace, (job_ns, name), GAME_DAY_COMPONENT).await?
        {
            return Ok(run);
        }
        let found = jobs.get_opt(name).await.map_err(|e| {
            format!("cannot read Job {job_ns}/{name}: {}", crate::deadman::store::api_error(&e))
        })?;
        let Some(found) = found else {
            return Err(format!("no Job {job_ns}/{name}"));
        };
        let status = found.status.unwrap_or_default();
        if status.succeeded.unwrap_or(0) > 0 || status.failed.unwrap_or(0) > 0 {
            return Err(format!(
                "Job {job_ns}/{name} has finished and no run of it holds a Lease; what it left \
                 is in its mirrors (chaosdeck reconcile)"
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "no run of Job {job_ns}/{name} took a Lease within {} s (kubectl describe -n \
                 {job_ns} job/{name} says why its pod has not started it)",
                wait.as_secs()
            ));
        }
        if !said {
            crate::out::err_line(format!("waiting for Job {job_ns}/{name} to start its run"));
            said = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Keeps the copy in step with the mirrors and the header with the Lease, once a second.
async fn follow(
    mut attached: Attached,
    feed: tokio::sync::mpsc::UnboundedSender<Feed>,
    cancel: tokio_util::sync::CancellationToken,
) {
    let mut last_error = None;
    let mut last_progress_error = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        // The run as its Lease stands now (`None` once released).
        let now = attached
            .lease()
            .await
            .map(|lease| lease.map(|lease| LeasedRun { lease, ..attached.run.clone() }));
        let text = match &now {
            Ok(now) => lease_text(&attached.run.run_uuid, now.as_ref()),
            Err(e) => format!("run {}: {e}", short(&attached.run.run_uuid)),
        };
        let lines = attached.sync().await;
        let mut out = vec![Feed::Attached(text)];
        // What the Lease says of the run: released or silent (its last progress is stale), or
        // live. Its progress is read only after the sync found the policies in force: then the
        // author or the watchdog wrote it, and nobody else.
        let gone = match &now {
            Ok(None) => Some("the run ended: its Lease is released".to_string()),
            Ok(Some(now)) => now.stopped_renewing().map(str::to_string),
            Err(_) => None,
        };
        if let Some(why) = gone {
            out.push(Feed::RunGone(why));
        } else if lines.is_ok()
            && let Ok(Some(now)) = &now
        {
            match attached.progress(&now.lease) {
                Some(Ok(progress)) => out.push(Feed::Progress(progress)),
                Some(Err(e)) if last_progress_error.as_ref() != Some(&e) => {
                    out.push(Feed::Log(e.clone()));
                    last_progress_error = Some(e);
                }
                _ => {}
            }
        }
        match lines {
            Ok(lines) => {
                last_error = None;
                out.extend(lines.into_iter().map(Feed::Log));
            }
            // Said once until it changes: a cluster that is away for a minute is one line.
            Err(e) if last_error.as_ref() != Some(&e) => {
                out.push(Feed::Log(format!("cannot read the mirrors: {e}")));
                last_error = Some(e);
            }
            Err(_) => {}
        }
        for f in out {
            if feed.send(f).is_err() {
                return;
            }
        }
    }
}

fn short(run: &str) -> String {
    run.chars().take(8).collect()
}

fn lease_text(run_uuid: &str, now: Option<&LeasedRun>) -> String {
    match now {
        Some(now) => format!("run {}, Lease {}", short(run_uuid), now.describe()),
        None => format!("run {}, Lease released: the run has ended", short(run_uuid)),
    }
}

/// `!`'s first step: delete the Job whose pod holds the run's Lease ([`job_of`]). A run that
/// is not a Job's is said so: its process keeps running where it is.
fn stop_job_hook(client: kube::Client, run: LeasedRun) -> EmergencyHook {
    Arc::new(move || {
        let (client, run) = (client.clone(), run.clone());
        Box::pin(async move { vec![stop_job(&client, &run).await] })
    })
}

async fn stop_job(client: &kube::Client, run: &LeasedRun) -> String {
    use k8s_openapi::api::batch::v1::Job;
    use kube::Api;
    use kube::api::DeleteParams;
    let (ns, name) = match job_of(client, run, GAME_DAY_COMPONENT).await {
        Ok(job) => job,
        Err(e) => return format!("no Job stopped: {e}; stop the run where it runs"),
    };
    let host = run.host().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    match jobs.delete(&name, &DeleteParams::background()).await {
        Ok(_) => format!(
            "stopped Job {ns}/{name}: its pod {host} gets SIGTERM and rolls back what it can; \
             the rest is undone here"
        ),
        Err(e) => format!(
            "cannot delete Job {ns}/{name} ({}); its run may go on making changes",
            crate::deadman::store::api_error(&e)
        ),
    }
}
