//! Observability of a run: Prometheus metrics (`--metrics-addr`), the Krkn-compatible
//! RUN/PAUSE/STOP status endpoint (`kraken.publish_kraken_status`), the JSON / JUnit run
//! reports (`--report`, `--junit`), and the progress a run under the dead man's switch
//! publishes on its Lease for `chaosdeck attach` (folded here by [`progress`]).
//!
//! Owns: the event tee between the engine and its consumer (TUI or headless printer), the
//! metrics registry and its HTTP server, the status server, the report files, and the
//! encoded progress (handed to the Lease keeper, which writes it).
//! Must not touch: the engine's behaviour (it only reads [`EngineEvent`]s and sends the same
//! [`EngineCommand`]s a key press would), the journal on disk, or the cluster.

pub mod health_report;
pub mod metrics;
pub mod progress;
pub mod report;
pub mod status;
mod xml;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use color_eyre::eyre::{Result, WrapErr};
use tokio::sync::mpsc;

use crate::config::StatusServer;
use crate::engine::{EngineCommand, EngineEvent, RunSummary};

pub use metrics::Metrics;
pub use report::Recorder;
pub use status::{Status, StatusValue};

/// What the command line and config ask to observe.
#[derive(Debug, Clone, Default)]
pub struct ObserveOptions {
    /// `HOST:PORT` for `/metrics`; `None` serves nothing.
    pub metrics_addr: Option<String>,
    pub report: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    /// `None` when `publish_kraken_status` is off.
    pub status: Option<StatusServer>,
    pub config_path: PathBuf,
    /// The cluster, named in the report.
    pub cluster: Option<crate::refs::ClusterIdentity>,
    /// Where the encoded [`crate::deadman::progress::Progress`] goes: the dead man's switch's
    /// Lease keeper.
    pub progress: Option<tokio::sync::watch::Sender<String>>,
}

/// Listeners bound before the engine starts, so a busy port fails the run before any chaos.
pub struct Prepared {
    opts: ObserveOptions,
    metrics_listener: Option<tokio::net::TcpListener>,
    status_listener: Option<tokio::net::TcpListener>,
}

/// A running observer: the servers live as long as the process; `finish` writes the reports.
pub struct Observer {
    opts: ObserveOptions,
    pub metrics: Arc<Metrics>,
    pub recorder: Arc<Mutex<Recorder>>,
    pub status: Status,
    /// Where `/metrics` is served (port 0 resolved), for logs and tests.
    pub metrics_addr: Option<SocketAddr>,
    /// Where the status endpoint listens.
    pub status_addr: Option<SocketAddr>,
}

impl Prepared {
    pub async fn bind(opts: ObserveOptions) -> Result<Prepared> {
        let metrics_listener = match &opts.metrics_addr {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr.as_str())
                    .await
                    .wrap_err_with(|| format!("cannot listen for /metrics on {addr}"))?,
            ),
            None => None,
        };
        let status_listener =
            match &opts.status {
                Some(s) => {
                    let addr = format!("{}:{}", s.address, s.port);
                    Some(tokio::net::TcpListener::bind(addr.as_str()).await.wrap_err_with(
                        || format!("cannot listen for the status server on {addr}"),
                    )?)
                }
                None => None,
            };
        Ok(Prepared { opts, metrics_listener, status_listener })
    }

    /// Starts the servers and the tee; returns the receiver the TUI or headless loop reads
    /// instead of the engine's (every event arrives there unchanged, after it was observed).
    pub fn attach(
        self,
        run_uuid: &str,
        events: mpsc::UnboundedReceiver<EngineEvent>,
        commands: mpsc::UnboundedSender<EngineCommand>,
    ) -> Result<(mpsc::UnboundedReceiver<EngineEvent>, Observer)> {
        let metrics = Arc::new(Metrics::new());
        let mut recorder = Recorder::new(run_uuid, &self.opts.config_path);
        if let Some(cluster) = self.opts.cluster.clone() {
            recorder.set_cluster(cluster);
        }
        let recorder = Arc::new(Mutex::new(recorder));
        let initial = match &self.opts.status {
            Some(s) => StatusValue::parse(&s.signal_state).unwrap_or_else(|| {
                crate::out::err_line(format!(
                    "warning: kraken.signal_state {:?} is not RUN, PAUSE or STOP; starting with RUN",
                    s.signal_state
                ));
                StatusValue::Run
            }),
            None => StatusValue::Run,
        };
        let status = Status::new(initial);
        // Sent at once so the engine is paused as early as it can be (it honours pause before
        // each scenario file and between steps).
        match initial {
            StatusValue::Pause => {
                let _ = commands.send(EngineCommand::Pause);
            }
            StatusValue::Stop => {
                let _ = commands.send(EngineCommand::Stop);
            }
            StatusValue::Run => {}
        }

        let mut metrics_addr = None;
        if let Some(listener) = self.metrics_listener {
            let addr = listener.local_addr().wrap_err("the /metrics listener's address")?;
            metrics::serve(listener, metrics.clone());
            crate::out::err_line(format!("metrics: serving http://{addr}/metrics"));
            metrics_addr = Some(addr);
        }
        let mut status_addr = None;
        if let Some(listener) = self.status_listener {
            let addr = listener.local_addr().wrap_err("the status listener's address")?;
            status::serve(listener, status.clone(), commands);
            crate::out::err_line(format!(
                "status: serving http://{addr}/ (GET for RUN|PAUSE|STOP, POST /RUN|/PAUSE|/STOP)"
            ));
            status_addr = Some(addr);
        }

        let progress = self.opts.progress.clone();
        let out = tee(events, metrics.clone(), recorder.clone(), status.clone(), progress);
        let observer =
            Observer { opts: self.opts, metrics, recorder, status, metrics_addr, status_addr };
        Ok((out, observer))
    }
}

/// Reads the engine's events, feeds every observer, forwards each unchanged.
fn tee(
    mut input: mpsc::UnboundedReceiver<EngineEvent>,
    metrics: Arc<Metrics>,
    recorder: Arc<Mutex<Recorder>>,
    status: Status,
    publish: Option<tokio::sync::watch::Sender<String>>,
) -> mpsc::UnboundedReceiver<EngineEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut progress = crate::deadman::progress::Progress::default();
        while let Some(event) = input.recv().await {
            metrics.observe(&event);
            if let Ok(mut r) = recorder.lock() {
                r.observe(&event);
            }
            status.observe(&event);
            if let Some(publish) =
                publish.as_ref().filter(|_| progress::fold(&mut progress, &event))
            {
                let text = progress.encode();
                publish.send_if_modified(|now| {
                    let changed = *now != text;
                    *now = text;
                    changed
                });
            }
            // The consumer may be gone (TUI closed); observing continues until the engine ends.
            let _ = tx.send(event);
        }
    });
    rx
}

/// Writes a report readable by its owner only (mode 0600, like the journal): it names the
/// cluster, what changed and why, which is not everyone's business on a shared machine. A file
/// that exists already gets that mode too.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl Observer {
    /// Writes the requested reports from what was observed plus the engine's summary.
    pub fn finish(&self, summary: &RunSummary) -> Result<()> {
        let report = match self.recorder.lock() {
            Ok(r) => r.report(summary),
            Err(poisoned) => poisoned.into_inner().report(summary),
        };
        if let Some(path) = &self.opts.report {
            let text = serde_json::to_string_pretty(&report).wrap_err("encoding the run report")?;
            write_private(path, (text + "\n").as_bytes())
                .wrap_err_with(|| format!("writing the run report {}", path.display()))?;
            crate::out::err_line(format!("report: wrote {}", path.display()));
        }
        if let Some(path) = &self.opts.junit {
            write_private(path, report::junit(&report).as_bytes())
                .wrap_err_with(|| format!("writing the JUnit report {}", path.display()))?;
            crate::out::err_line(format!("junit: wrote {}", path.display()));
        }
        Ok(())
    }
}
