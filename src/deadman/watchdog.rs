//! The watchdog: watches the runs' Leases and the mirrors, and undoes a run whose Lease it has
//! not seen change for its `lease_duration`.
//!
//! Expiry is judged by this process's own clock, from when it last saw the Lease's
//! resourceVersion change, never from the holder's `renewTime`. Before acting it reads the
//! Lease again and takes it over with a replace at the version it judged stale, so a holder
//! that renewed at the last moment wins (409) and nothing is undone. Each mirror is claimed
//! (a replace at the version read) before its undo and recorded after it; a second watchdog
//! loses the claim, a restarted one resumes its own claims and waits out others'. Undos are the
//! executor's (`journal::executor::apply_entry`), so the guards that make `execute-rollback`
//! safe to repeat make a repeat here harmless too.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Client;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cluster::ClusterOps;
use crate::journal::entry::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_UUID_LABEL};
use crate::journal::executor::apply_entry;
use crate::journal::mirror::{MIRROR_LABEL, MIRROR_LABEL_VALUE};

use super::lease::{TAKEN_OVER_ANNOTATION, lease_name, now_micro};
use super::metrics::WatchdogMetrics;
use super::mirror::{self, MirrorState};
use super::store::{MirrorStore, Recorded, api_error};

/// Annotation of a claimed mirror: `<watchdog id> <time>`.
pub const CLAIM_ANNOTATION: &str = "chaosdeck.io/claimed-by";

#[derive(Debug, Clone)]
pub struct WatchdogOptions {
    pub namespace: String,
    /// Names this watchdog in claims, records and Events; keep it across restarts (the pod
    /// name) so a restarted watchdog resumes its own claims at once.
    pub id: String,
    /// How often the in-memory view is evaluated.
    pub tick: Duration,
    /// How long another watchdog's claim is honoured before it is taken over.
    pub claim_timeout: Duration,
    /// How long before a failed undo is tried again.
    pub retry_failed_after: Duration,
}

impl WatchdogOptions {
    pub fn new(namespace: &str, id: &str) -> WatchdogOptions {
        WatchdogOptions {
            namespace: namespace.to_string(),
            id: id.to_string(),
            tick: Duration::from_millis(500),
            claim_timeout: Duration::from_secs(30),
            retry_failed_after: Duration::from_secs(30),
        }
    }
}

/// A Lease as this watchdog has seen it.
struct Observed {
    resource_version: String,
    since: Instant,
}

/// Test hook (`CHAOSDECK_WATCHDOG_FAILPOINT=hang-after-undo:N`): hang after the Nth undo is
/// applied and before it is recorded, so a test can kill the watchdog right there.
fn failpoint() -> Option<usize> {
    let raw = std::env::var("CHAOSDECK_WATCHDOG_FAILPOINT").ok()?;
    raw.strip_prefix("hang-after-undo:")?.parse().ok()
}

pub struct Watchdog {
    options: WatchdogOptions,
    store: MirrorStore,
    leases: Api<Lease>,
    ops: ClusterOps,
    metrics: Arc<WatchdogMetrics>,
    cluster_uid: Option<String>,
    observed: HashMap<String, Observed>,
    /// Claims of other watchdogs, by mirror and claim text, and when this one first saw them.
    claims_seen: HashMap<(String, String), Instant>,
    /// Bad mirrors already reported (name, resourceVersion): one Event each, not one per tick.
    bad_reported: HashSet<(String, String)>,
    failed_at: HashMap<String, Instant>,
    undos: usize,
    failpoint: Option<usize>,
    log: Box<dyn Fn(String) + Send + Sync>,
}

impl Watchdog {
    pub async fn new(
        client: Client,
        options: WatchdogOptions,
        metrics: Arc<WatchdogMetrics>,
        log: Box<dyn Fn(String) + Send + Sync>,
    ) -> Watchdog {
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let cluster_uid =
            namespaces.get_opt("kube-system").await.ok().flatten().and_then(|n| n.metadata.uid);
        Watchdog {
            store: MirrorStore::new(client.clone(), &options.namespace),
            leases: Api::namespaced(client.clone(), &options.namespace),
            ops: ClusterOps::new(client),
            options,
            metrics,
            cluster_uid,
            observed: HashMap::new(),
            claims_seen: HashMap::new(),
            bad_reported: HashSet::new(),
            failed_at: HashMap::new(),
            undos: 0,
            failpoint: failpoint(),
            log,
        }
    }

    /// Watches until `cancel`. Errors of one pass are logged and the next pass tries again.
    pub async fn run(mut self, client: Client, cancel: CancellationToken) {
        let (leases, lease_writer) = reflector::store::<Lease>();
        let (mirrors, mirror_writer) = reflector::store::<ConfigMap>();
        let lease_api: Api<Lease> = Api::namespaced(client.clone(), &self.options.namespace);
        let mirror_api: Api<ConfigMap> = Api::namespaced(client, &self.options.namespace);
        let lease_stream = reflector(
            lease_writer,
            watcher(
                lease_api,
                watcher::Config::default()
                    .labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}")),
            ),
        )
        .default_backoff()
        .for_each(|_| async {});
        let mirror_stream = reflector(
            mirror_writer,
            watcher(
                mirror_api,
                watcher::Config::default().labels(&format!("{MIRROR_LABEL}={MIRROR_LABEL_VALUE}")),
            ),
        )
        .default_backoff()
        .for_each(|_| async {});
        let streams = tokio::spawn(async move {
            tokio::join!(lease_stream, mirror_stream);
        });
        tokio::select! {
            _ = cancel.cancelled() => { streams.abort(); return; }
            _ = async { let _ = leases.wait_until_ready().await; let _ = mirrors.wait_until_ready().await; } => {}
        }
        (self.log)(format!(
            "watching Leases and mirrors in namespace {} as {}",
            self.options.namespace, self.options.id
        ));
        loop {
            let lease_list: Vec<Lease> = leases.state().iter().map(|l| (**l).clone()).collect();
            let mirror_list: Vec<ConfigMap> =
                mirrors.state().iter().map(|m| (**m).clone()).collect();
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.pass(&lease_list, &mirror_list) => {}
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(self.options.tick) => {}
            }
        }
        streams.abort();
    }

    /// One evaluation of the current view.
    pub async fn pass(&mut self, leases: &[Lease], mirrors: &[ConfigMap]) {
        let now = Instant::now();
        let mut seen = HashSet::new();
        for lease in leases {
            let name = lease.metadata.name.clone().unwrap_or_default();
            let rv = lease.metadata.resource_version.clone().unwrap_or_default();
            seen.insert(name.clone());
            let observed = self
                .observed
                .entry(name)
                .or_insert_with(|| Observed { resource_version: rv.clone(), since: now });
            if observed.resource_version != rv {
                *observed = Observed { resource_version: rv, since: now };
            }
        }
        self.observed.retain(|name, _| seen.contains(name));
        self.metrics.leases.set(i64::try_from(leases.len()).unwrap_or(i64::MAX));

        // Runs that still have any mirror (whatever its state): their Lease is kept.
        let mirrored: HashSet<String> = mirrors
            .iter()
            .filter_map(|cm| cm.metadata.labels.as_ref()?.get(RUN_UUID_LABEL).cloned())
            .collect();
        let mut runs: BTreeMap<String, Vec<&ConfigMap>> = BTreeMap::new();
        let mut counts: HashMap<&'static str, i64> = HashMap::new();
        let mut bad = 0;
        for cm in mirrors {
            match mirror::read(cm) {
                Ok(m) => {
                    *counts.entry(m.state.as_str()).or_default() += 1;
                    if m.state != MirrorState::Executed {
                        runs.entry(m.run_uuid.clone()).or_default().push(cm);
                    }
                }
                Err(why) => {
                    bad += 1;
                    self.report_bad(cm, &why).await;
                }
            }
        }
        for state in ["pending", "executed", "failed"] {
            self.metrics.mirrors.get_or_create(&state.into()).set(*counts.get(state).unwrap_or(&0));
        }
        self.metrics.bad_mirrors.set(bad);

        let by_name: HashMap<String, &Lease> =
            leases.iter().map(|l| (l.metadata.name.clone().unwrap_or_default(), l)).collect();
        let mut unowned = 0;
        for (run_uuid, run_mirrors) in runs {
            let Some(lease) = by_name.get(&lease_name(&run_uuid)) else {
                // No Lease: the run released it (ended on its own terms) or never made one.
                unowned += run_mirrors.len();
                continue;
            };
            let taken_over = lease
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(TAKEN_OVER_ANNOTATION));
            if !taken_over && !self.expired(lease, now) {
                continue;
            }
            if !taken_over && !self.take_over(lease, &run_uuid).await {
                continue;
            }
            self.undo_run(&run_uuid, run_mirrors).await;
        }
        self.metrics.unowned_mirrors.set(i64::try_from(unowned).unwrap_or(i64::MAX));
        for lease in leases {
            self.forget_if_done(lease, &mirrored, now).await;
        }
        self.metrics.passes.inc();
    }

    /// Deletes the Lease of a run that is over and has no mirror left (reconciled, or it never
    /// mirrored anything): taken over, or expired. A holder that is still alive finds its Lease
    /// gone at the next renewal and goes read-only — and it had nothing outstanding.
    async fn forget_if_done(&mut self, lease: &Lease, mirrored: &HashSet<String>, now: Instant) {
        let Some(run) = lease.metadata.labels.as_ref().and_then(|l| l.get(RUN_UUID_LABEL)) else {
            return;
        };
        let taken_over = lease
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(TAKEN_OVER_ANNOTATION));
        if mirrored.contains(run) || !(taken_over || self.expired(lease, now)) {
            return;
        }
        let name = lease.metadata.name.clone().unwrap_or_default();
        let params = kube::api::DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: lease.metadata.uid.clone(),
                resource_version: lease.metadata.resource_version.clone(),
            }),
            ..Default::default()
        };
        if self.leases.delete(&name, &params).await.is_ok() {
            self.observed.remove(&name);
        }
    }

    fn expired(&self, lease: &Lease, now: Instant) -> bool {
        let name = lease.metadata.name.clone().unwrap_or_default();
        let duration = lease
            .spec
            .as_ref()
            .and_then(|s| s.lease_duration_seconds)
            .and_then(|d| u64::try_from(d).ok())
            .unwrap_or(30);
        self.observed
            .get(&name)
            .is_some_and(|o| now.duration_since(o.since) >= Duration::from_secs(duration))
    }

    /// Takes the Lease over at the version judged stale; false when the holder renewed after
    /// all (or the Lease is gone, or the cluster did not answer).
    async fn take_over(&mut self, lease: &Lease, run_uuid: &str) -> bool {
        let name = lease.metadata.name.clone().unwrap_or_default();
        let current = match self.leases.get_opt(&name).await {
            Ok(Some(current)) => current,
            Ok(None) => return false,
            Err(e) => {
                (self.log)(format!("cannot read the Lease {name}: {}", api_error(&e)));
                return false;
            }
        };
        let observed_rv = self.observed.get(&name).map(|o| o.resource_version.clone());
        if current.metadata.resource_version != observed_rv {
            // The watch is behind: the holder renewed. Start the clock again from now.
            if let Some(rv) = current.metadata.resource_version.clone() {
                self.observed
                    .insert(name, Observed { resource_version: rv, since: Instant::now() });
            }
            return false;
        }
        let mut taken = current.clone();
        let stamp = format!("{} {}", self.options.id, jiff::Timestamp::now());
        taken
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(TAKEN_OVER_ANNOTATION.to_string(), stamp);
        if let Some(spec) = taken.spec.as_mut() {
            spec.holder_identity = Some(format!("chaosdeck watchdog {}", self.options.id));
            spec.renew_time = Some(now_micro());
        }
        match self.leases.replace(&name, &PostParams::default(), &taken).await {
            Ok(_) => {
                self.metrics.expired_runs.inc();
                (self.log)(format!(
                    "run {run_uuid}: Lease {name} unchanged for its lease_duration; undoing the \
                     run's mirrored changes"
                ));
                true
            }
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => false,
            Err(e) => {
                (self.log)(format!("cannot take the Lease {name} over: {}", api_error(&e)));
                false
            }
        }
    }

    async fn report_bad(&mut self, cm: &ConfigMap, why: &str) {
        let key = (
            cm.metadata.name.clone().unwrap_or_default(),
            cm.metadata.resource_version.clone().unwrap_or_default(),
        );
        if !self.bad_reported.insert(key.clone()) {
            return;
        }
        self.metrics.bad_mirrors_total.inc();
        let message = format!("skipped, never executed: {why}");
        (self.log)(format!("mirror {}: {message}", key.0));
        self.store.event(cm, true, "BadMirror", &message).await;
    }

    /// The run's outstanding mirrors, newest first, one at a time.
    async fn undo_run(&mut self, run_uuid: &str, run_mirrors: Vec<&ConfigMap>) {
        let mut ordered: Vec<(u64, String)> = run_mirrors
            .iter()
            .filter_map(|cm| mirror::read(cm).ok().map(|m| (m.order, m.name)))
            .collect();
        ordered.sort_by(|a, b| b.cmp(a));
        for (_, name) in ordered {
            if let Err(e) = self.undo_one(&name).await {
                (self.log)(format!("run {run_uuid}: mirror {name}: {e}"));
            }
        }
    }

    async fn undo_one(&mut self, name: &str) -> Result<(), String> {
        // Fresh: the watch may lag behind another watchdog's record.
        let Some(cm) = self.store.get(name).await? else { return Ok(()) };
        let m = match mirror::read(&cm) {
            Ok(m) => m,
            Err(why) => {
                self.report_bad(&cm, &why).await;
                return Ok(());
            }
        };
        match m.state {
            MirrorState::Executed => return Ok(()),
            MirrorState::Failed => {
                let due = self
                    .failed_at
                    .get(name)
                    .is_none_or(|at| at.elapsed() >= self.options.retry_failed_after);
                if !due {
                    return Ok(());
                }
            }
            MirrorState::Pending => {}
        }
        if let (Some(here), Some(there)) =
            (&self.cluster_uid, m.entry.cluster.as_ref().and_then(|c| c.kube_system_uid.as_ref()))
            && here != there
        {
            let why = format!(
                "the entry was made on another cluster (kube-system uid {there}, this is {here})"
            );
            self.report_bad(&cm, &why).await;
            return Ok(());
        }
        let Some(claimed) = self.claim(&cm).await? else { return Ok(()) };
        let result = apply_entry(&self.ops, &m.entry).await;
        self.undos += 1;
        if self.failpoint == Some(self.undos) {
            (self.log)(format!("failpoint: hanging after undo {}", self.undos));
            std::future::pending::<()>().await;
        }
        let (state, outcome) = match &result {
            Ok(notes) if notes.is_empty() => (MirrorState::Executed, "undone".to_string()),
            Ok(notes) => (MirrorState::Executed, notes.join("; ")),
            Err(e) => (MirrorState::Failed, e.clone()),
        };
        let recorded = self.store.record(&claimed, state, &self.options.id, &outcome).await?;
        let label = match (&recorded, state) {
            (Recorded::Superseded, _) => "superseded",
            (Recorded::Recorded, MirrorState::Executed) => "executed",
            (Recorded::Recorded, _) => "failed",
        };
        self.metrics.undos.get_or_create(&label.into()).inc();
        if recorded == Recorded::Superseded {
            return Ok(());
        }
        let summary = m.entry.undo_summary();
        if state == MirrorState::Executed {
            self.failed_at.remove(name);
            (self.log)(format!("undone {} ({summary}): {outcome}", m.file));
            self.store.event(&claimed, false, "Undone", &format!("{summary}: {outcome}")).await;
        } else {
            self.failed_at.insert(name.to_string(), Instant::now());
            (self.log)(format!("undo FAILED {} ({summary}): {outcome}", m.file));
            self.store.event(&claimed, true, "UndoFailed", &format!("{summary}: {outcome}")).await;
        }
        Ok(())
    }

    /// Claims a mirror for this watchdog (a replace at the version read). `None` when another
    /// watchdog holds a fresh claim or changed the mirror first.
    async fn claim(&mut self, cm: &ConfigMap) -> Result<Option<ConfigMap>, String> {
        let name = cm.metadata.name.clone().unwrap_or_default();
        let existing = cm.metadata.annotations.as_ref().and_then(|a| a.get(CLAIM_ANNOTATION));
        if let Some(claim) = existing
            && claim.split(' ').next() != Some(self.options.id.as_str())
        {
            let first_seen =
                *self.claims_seen.entry((name.clone(), claim.clone())).or_insert_with(Instant::now);
            if first_seen.elapsed() < self.options.claim_timeout {
                return Ok(None);
            }
        }
        let mut claimed = cm.clone();
        claimed.metadata.annotations.get_or_insert_with(BTreeMap::new).insert(
            CLAIM_ANNOTATION.to_string(),
            format!("{} {}", self.options.id, jiff::Timestamp::now()),
        );
        let api: Api<ConfigMap> = Api::namespaced(self.ops_client(), &self.options.namespace);
        match api.replace(&name, &PostParams::default(), &claimed).await {
            Ok(stored) => Ok(Some(stored)),
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(None),
            Err(e) => Err(format!("cannot claim the mirror: {}", api_error(&e))),
        }
    }

    fn ops_client(&self) -> Client {
        self.ops.client().clone()
    }
}

/// The label selector of one run's mirrors (for humans: `kubectl get cm -l ...`).
pub fn run_selector(run_uuid: &str) -> String {
    format!("{MIRROR_LABEL}={MIRROR_LABEL_VALUE},{RUN_UUID_LABEL}={run_uuid}")
}
