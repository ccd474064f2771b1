//! The run's Lease: held while the engine runs, renewed every `renew` seconds. When it cannot
//! be renewed in time the fence drops and the process is read-only from then on.
//!
//! Timing: the watchdog acts only after it has seen the Lease unchanged for `lease_duration`
//! (by its own clock), and it can only have seen the last renewal after that request was sent.
//! So the keeper drops the fence `lease_duration - renew` after sending the last renewal that
//! succeeded, whether or not a renewal is still in flight: the process stops changing things
//! at least `renew` seconds before the watchdog may start undoing them.
//!
//! A renewal also carries the run's progress ([`super::progress`], for `chaosdeck attach`):
//! when it changes the next renewal comes early, at most once a second. An early renewal is a
//! renewal like any other, so the timing above holds.
//!
//! By the same timing, a renewal refused with 409 or 404 before that moment cannot be the
//! watchdog's doing: someone else changed or deleted the Lease, and the run is no longer
//! protected. The fence stays up (the watchdog will not act, so the run must) and the keeper
//! reports [`LeaseNews::Tampered`]: the run says so and rolls itself back.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Client;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams, Preconditions};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::progress::PROGRESS_ANNOTATION;
use crate::cluster::{Caller, Fence};
use crate::config::DeadManSwitch;
use crate::journal::entry::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_UUID_LABEL, Writer};
use crate::journal::mirror_link::{AUTHOR_ANNOTATION, AUTHOR_GROUPS_ANNOTATION};

use super::store::api_error;

/// Annotation a watchdog sets when it takes a run's Lease over.
pub const TAKEN_OVER_ANNOTATION: &str = "chaosdeck.io/taken-over";
/// Annotation with the renew interval, for humans reading the Lease.
pub const RENEW_ANNOTATION: &str = "chaosdeck.io/renew-seconds";
/// The least time between two renewals sent because the progress changed.
const PROGRESS_SPACING: Duration = Duration::from_secs(1);

/// What the keeper tells the run about its Lease, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseNews {
    /// Not renewed in time: the fence is down and the watchdog owns the run's undos.
    Lost(String),
    /// Changed or deleted by someone other than this run and the watchdog, while it was being
    /// renewed on time: the switch no longer protects the run, which must roll itself back.
    Tampered(String),
}

pub fn lease_name(run_uuid: &str) -> String {
    format!("chaosdeck-run-{run_uuid}")
}

pub(crate) fn now_micro() -> MicroTime {
    let now = jiff::Timestamp::now();
    MicroTime(
        k8s_openapi::jiff::Timestamp::from_nanosecond(now.as_nanosecond())
            .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    )
}

/// Holds the run's Lease until released; drops `fence` when it cannot.
pub struct LeaseKeeper {
    api: Api<Lease>,
    name: String,
    cancel: CancellationToken,
    task: JoinHandle<Option<Lease>>,
    fence: Fence,
}

impl LeaseKeeper {
    /// Creates the run's Lease, naming `author` (the identity `client` authenticates as), and
    /// starts renewing it. `news` hears once when the Lease is lost or tampered with;
    /// `progress` is what each renewal writes into [`PROGRESS_ANNOTATION`]. The client must not
    /// be fenced (renewals are writes).
    pub async fn acquire(
        client: Client,
        switch: &DeadManSwitch,
        run_uuid: &str,
        author: &Caller,
        fence: Fence,
        news: mpsc::UnboundedSender<LeaseNews>,
        progress: watch::Receiver<String>,
    ) -> Result<LeaseKeeper, String> {
        let api: Api<Lease> = Api::namespaced(client, &switch.namespace);
        let name = lease_name(run_uuid);
        let writer = Writer::current();
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(switch.namespace.clone()),
                labels: Some(BTreeMap::from([
                    (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
                    (RUN_UUID_LABEL.to_string(), run_uuid.to_string()),
                ])),
                annotations: Some(BTreeMap::from([
                    (RENEW_ANNOTATION.to_string(), switch.renew_secs.to_string()),
                    (AUTHOR_ANNOTATION.to_string(), author.username.clone()),
                    (AUTHOR_GROUPS_ANNOTATION.to_string(), author.encoded_groups()),
                ])),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(format!("chaosdeck pid {} on {}", writer.pid, writer.host)),
                lease_duration_seconds: i32::try_from(switch.lease_duration_secs).ok(),
                acquire_time: Some(now_micro()),
                renew_time: Some(now_micro()),
                ..LeaseSpec::default()
            }),
        };
        let sent = Instant::now();
        let created = api.create(&PostParams::default(), &lease).await.map_err(|e| {
            let hint = match &e {
                kube::Error::Api(s) if s.code == 404 => format!(
                    "; the namespace {} does not exist: apply deploy/watchdog.yaml, or set \
                     chaosdeck.dead_man_switch.enabled: false",
                    switch.namespace
                ),
                _ => String::new(),
            };
            format!(
                "dead man's switch: cannot create the Lease {}/{name}: {}{hint}",
                switch.namespace,
                api_error(&e)
            )
        })?;
        let cancel = CancellationToken::new();
        let task = tokio::spawn(renew_loop(
            api.clone(),
            created,
            sent,
            Duration::from_secs(switch.lease_duration_secs),
            Duration::from_secs(switch.renew_secs),
            fence.clone(),
            news,
            progress,
            cancel.clone(),
        ));
        Ok(LeaseKeeper { api, name, cancel, task, fence })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops renewing. While the fence is up the Lease is deleted (the run ended on its own
    /// terms: nothing for the watchdog to do); after it dropped, the Lease is the watchdog's
    /// and is left alone.
    pub async fn release(self) -> Result<(), String> {
        self.cancel.cancel();
        let last = self.task.await.ok().flatten();
        if self.fence.dropped().is_some() {
            return Ok(());
        }
        let Some(last) = last else { return Ok(()) };
        // Only the version we wrote: one a watchdog changed meanwhile is not ours to delete.
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: last.metadata.uid.clone(),
                resource_version: last.metadata.resource_version.clone(),
            }),
            ..DeleteParams::default()
        };
        match self.api.delete(&self.name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(format!("cannot delete the Lease {}: {}", self.name, api_error(&e))),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn renew_loop(
    api: Api<Lease>,
    mut lease: Lease,
    mut last_ok_sent: Instant,
    duration: Duration,
    renew: Duration,
    fence: Fence,
    news: mpsc::UnboundedSender<LeaseNews>,
    mut progress: watch::Receiver<String>,
    cancel: CancellationToken,
) -> Option<Lease> {
    let name = lease.metadata.name.clone().unwrap_or_default();
    let grace = duration.saturating_sub(renew);
    let drop_fence = |reason: String| {
        fence.drop_with(reason.clone());
        let _ = news.send(LeaseNews::Lost(reason));
    };
    let mut next = Instant::now() + renew;
    let mut last_sent = Instant::now();
    let mut progress_open = true;
    loop {
        let deadline = last_ok_sent + grace;
        tokio::select! {
            _ = cancel.cancelled() => return Some(lease),
            _ = tokio::time::sleep_until(deadline) => {
                drop_fence(format!(
                    "the Lease {name} could not be renewed for {} s (lease_duration {} s): \
                     the watchdog will undo this run's changes",
                    grace.as_secs(),
                    duration.as_secs()
                ));
                return None;
            }
            _ = tokio::time::sleep_until(next) => {}
            changed = progress.changed(), if progress_open => {
                match changed {
                    Ok(()) => next = next.min(last_sent + PROGRESS_SPACING),
                    Err(_) => progress_open = false,
                }
                continue;
            }
        }
        let sent = Instant::now();
        last_sent = sent;
        next = sent + renew;
        let mut renewed = lease.clone();
        if let Some(spec) = renewed.spec.as_mut() {
            spec.renew_time = Some(now_micro());
        }
        let now = progress.borrow_and_update().clone();
        if !now.is_empty() {
            renewed
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(PROGRESS_ANNOTATION.to_string(), now);
        }
        let params = PostParams::default();
        let attempt = api.replace(&name, &params, &renewed);
        let result = tokio::select! {
            _ = cancel.cancelled() => return Some(lease),
            _ = tokio::time::sleep_until(deadline) => {
                drop_fence(format!(
                    "the Lease {name} could not be renewed for {} s (a renewal is still \
                     unanswered): the watchdog will undo this run's changes",
                    grace.as_secs()
                ));
                return None;
            }
            r = tokio::time::timeout(renew, attempt) => r,
        };
        match result {
            Ok(Ok(updated)) => {
                lease = updated;
                last_ok_sent = sent;
            }
            // Before the deadline no watchdog may have judged the Lease expired (module doc).
            Ok(Err(kube::Error::Api(s))) if s.code == 409 || s.code == 404 => {
                let _ = news.send(LeaseNews::Tampered(tampered(&api, &name, s.code).await));
                return None;
            }
            // Anything else (timeout, connection, 5xx): try again until the deadline.
            Ok(Err(_)) | Err(_) => {}
        }
    }
}

/// What happened to a Lease this run was renewing on time, in words for the operator.
async fn tampered(api: &Api<Lease>, name: &str, code: u16) -> String {
    let who = match api.get_opt(name).await {
        Ok(None) => "deleted".to_string(),
        Ok(Some(current)) => {
            let annotations = current.metadata.annotations.unwrap_or_default();
            match annotations.get(TAKEN_OVER_ANNOTATION) {
                Some(mark) => format!(
                    "marked taken over ({})",
                    crate::refs::printable(mark).chars().take(200).collect::<String>()
                ),
                None => "changed".to_string(),
            }
        }
        Err(e) if code == 404 => format!("deleted (and cannot be read: {})", api_error(&e)),
        Err(e) => format!("changed (and cannot be read: {})", api_error(&e)),
    };
    format!(
        "the Lease {name} was {who} by someone other than this run and the watchdog while \
         this run renewed it on time: the dead man's switch no longer protects this run"
    )
}
