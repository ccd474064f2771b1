//! `chaosdeck watchdog`: the dead man's switch's other half, meant to run in the cluster
//! (deploy/watchdog.yaml) — or beside the sandbox for the demo.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};
use tokio_util::sync::CancellationToken;

use crate::config::DEFAULT_DEAD_MAN_NAMESPACE;
use crate::deadman::metrics::WatchdogMetrics;
use crate::deadman::watchdog::{Watchdog, WatchdogOptions};

#[derive(Args, Debug)]
pub struct WatchdogArgs {
    /// Kubeconfig file (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Kubeconfig context (default: the file's current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace of the runs' Leases and mirrors.
    #[arg(long, default_value = DEFAULT_DEAD_MAN_NAMESPACE)]
    pub namespace: String,
    /// This watchdog's name in claims, records and Events (default: $POD_NAME, else the host
    /// name). Keep it across restarts so a restarted watchdog resumes its own claims at once.
    #[arg(long)]
    pub id: Option<String>,
    /// Serve chaosdeck_watchdog_* metrics on /metrics at this address (e.g. 0.0.0.0:9464).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    /// Seconds another watchdog's claim on a mirror is honoured before it is taken over.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub claim_timeout: u64,
}

pub fn default_id() -> String {
    std::env::var("POD_NAME").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
        hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "watchdog".into())
    })
}

fn log(line: String) {
    crate::out::err_line(format!(
        "{} watchdog: {}",
        jiff::Timestamp::now(),
        crate::refs::printable(&line)
    ));
}

pub async fn run(args: WatchdogArgs) -> Result<ExitCode> {
    let (client, server) = match &args.kubeconfig {
        Some(path) => {
            let (client, target) =
                crate::cluster::connect(Some(path), args.context.as_deref()).await?;
            (client, target.server)
        }
        None if args.context.is_some() => {
            let (client, target) = crate::cluster::connect(None, args.context.as_deref()).await?;
            (client, target.server)
        }
        None => {
            let config = kube::Config::infer()
                .await
                .wrap_err("cannot find the cluster (in-cluster service account or kubeconfig)")?;
            let server = config.cluster_url.to_string();
            let client =
                kube::Client::try_from(config).wrap_err("cannot build the Kubernetes client")?;
            (client, server)
        }
    };
    let metrics = Arc::new(WatchdogMetrics::new());
    if let Some(addr) = &args.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .wrap_err_with(|| format!("cannot listen on {addr} for /metrics"))?;
        if let Ok(local) = listener.local_addr() {
            log(format!("metrics on http://{local}/metrics"));
        }
        let metrics = metrics.clone();
        crate::observe::metrics::serve_encoded(listener, move || metrics.encode());
    }
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).wrap_err("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).wrap_err("cannot listen for SIGTERM")?;
    let cancel = CancellationToken::new();
    spawn(
        client,
        &server,
        &args.namespace,
        args.id.clone(),
        Duration::from_secs(args.claim_timeout),
        metrics,
        cancel.clone(),
    )
    .await;
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    log("stopping".into());
    cancel.cancel();
    Ok(ExitCode::SUCCESS)
}

/// Starts a watchdog on its own task (also used by `chaosdeck sandbox --watchdog`). `server`
/// names the API server in the entries' cluster check and in messages.
pub async fn spawn(
    client: kube::Client,
    server: &str,
    namespace: &str,
    id: Option<String>,
    claim_timeout: Duration,
    metrics: Arc<WatchdogMetrics>,
    cancel: CancellationToken,
) {
    let mut options = WatchdogOptions::new(namespace, &id.unwrap_or_else(default_id));
    options.claim_timeout = claim_timeout;
    let watchdog = Watchdog::new(client, server, options, metrics, Box::new(log)).await;
    tokio::spawn(watchdog.run(cancel));
}
