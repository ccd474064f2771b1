//! The watchdog: watches the runs' Leases and the mirrors, and undoes a run whose Lease it has
//! not seen change for its `lease_duration`.
//!
//! Expiry is judged by this process's own clock, from when it last saw the Lease's
//! resourceVersion change, never from the holder's `renewTime` nor from a `taken-over` mark
//! someone else wrote. Before acting it reads the Lease again and takes it over with a replace
//! at the version it judged stale, so a holder that renewed at the last moment wins (409) and
//! nothing is undone. Each mirror is claimed (a replace at the version read) before its undo
//! and recorded after it; a second watchdog loses the claim, a restarted one resumes its own
//! claims and waits out others'.
//!
//! Whose rights: the watchdog's own reach only its namespace. Every request an undo sends
//! (reads included) impersonates the identity that armed the run — the author the API server
//! recorded on the run's Lease and on each mirror (deploy/watchdog.yaml's policies) — so a
//! mirror can make it do nothing its writer could not do itself. It acts only while the API
//! server enforces those policies, and only on mirrors whose author is the Lease's. What it
//! applies is the executor's (`journal::executor::apply_entry`): the same admission checks
//! (only the inverse of a chaos change, never in a protected namespace) and the same guards
//! that make `execute-rollback` safe to repeat.
//!
//! Memory: mirrors are watched as metadata only; an entry is fetched when its run is undone,
//! one at a time, so ConfigMaps someone labels as mirrors cost their metadata, not their data.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cluster::{Caller, ClusterOps, impersonating};
use crate::journal::entry::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_UUID_LABEL};
use crate::journal::executor::{Unapplied, admissible_entry, apply_entry};
use crate::journal::mirror_link::{
    AUTHOR_ANNOTATION, AUTHOR_GROUPS_ANNOTATION, MIRROR_LABEL, MIRROR_LABEL_VALUE, policy_enforced,
};
use crate::refs::{ClusterIdentity, ProtectedNamespaces};

use super::lease::{TAKEN_OVER_ANNOTATION, lease_name, now_micro};
use super::metrics::WatchdogMetrics;
use super::mirror::{self, FORMAT_ANNOTATION, MIRROR_FORMAT, MirrorState};
use super::store::{MirrorStore, Recorded, api_error};

/// Annotation of a claimed mirror: `<watchdog id> <time>`.
pub const CLAIM_ANNOTATION: &str = "chaosdeck.io/claimed-by";

/// How often the policy check is repeated (a policy removed later stops the watchdog).
const POLICY_RECHECK: Duration = Duration::from_secs(60);

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
    /// What undos stay out of (`--protected-namespace` adds to the built-in ones).
    pub protected: ProtectedNamespaces,
}

impl WatchdogOptions {
    pub fn new(namespace: &str, id: &str) -> WatchdogOptions {
        let mut protected = ProtectedNamespaces::default();
        if !protected.namespaces.iter().any(|n| n == namespace) {
            protected.namespaces.push(namespace.to_string());
        }
        WatchdogOptions {
            namespace: namespace.to_string(),
            id: id.to_string(),
            tick: Duration::from_millis(500),
            claim_timeout: Duration::from_secs(30),
            retry_failed_after: Duration::from_secs(30),
            protected,
        }
    }
}

/// A Lease as this watchdog has seen it.
struct Observed {
    resource_version: String,
    since: Instant,
}

/// The last answer to "does the API server enforce the switch's policies?".
struct PolicyCheck {
    at: Instant,
    verdict: Result<(), String>,
}

/// Test hook (`CHAOSDECK_WATCHDOG_FAILPOINT=hang-after-undo:N`): hang after the Nth undo is
/// applied and before it is recorded, so a test can kill the watchdog right there.
fn failpoint() -> Option<usize> {
    let raw = std::env::var("CHAOSDECK_WATCHDOG_FAILPOINT").ok()?;
    raw.strip_prefix("hang-after-undo:")?.parse().ok()
}

/// The author recorded on an object of the switch, if it records one.
fn author_of(meta: &ObjectMeta) -> Option<Caller> {
    let annotations = meta.annotations.as_ref()?;
    let user = annotations.get(AUTHOR_ANNOTATION).filter(|u| !u.is_empty())?;
    let groups = annotations.get(AUTHOR_GROUPS_ANNOTATION)?;
    Some(Caller::from_annotations(user, groups))
}

/// Why a mirror's metadata alone makes it one the watchdog never acts on.
fn metadata_fault(meta: &ObjectMeta) -> Option<String> {
    let labels = meta.labels.clone().unwrap_or_default();
    if labels.get(MANAGED_BY_LABEL).map(String::as_str) != Some(MANAGED_BY_VALUE) {
        return Some(format!(
            "labels are not a chaosdeck mirror's ({MANAGED_BY_LABEL}={MANAGED_BY_VALUE}, \
             {MIRROR_LABEL}={MIRROR_LABEL_VALUE})"
        ));
    }
    let annotations = meta.annotations.clone().unwrap_or_default();
    match annotations.get(FORMAT_ANNOTATION).map(String::as_str) {
        Some(MIRROR_FORMAT) => {}
        Some(other) => {
            return Some(format!(
                "mirror format {:?} is not one this watchdog knows ({MIRROR_FORMAT})",
                crate::refs::printable(other)
            ));
        }
        None => return Some(format!("no {FORMAT_ANNOTATION} annotation")),
    }
    if author_of(meta).is_none() {
        return Some(format!(
            "no {AUTHOR_ANNOTATION} and {AUTHOR_GROUPS_ANNOTATION} annotations: nobody vouches \
             for who wrote it"
        ));
    }
    None
}

/// The operations of one author: every request impersonates them.
struct AuthorOps {
    ops: Arc<ClusterOps>,
    /// Why entries cannot be checked against this cluster as this author, if they cannot.
    unidentified: Option<String>,
}

pub struct Watchdog {
    options: WatchdogOptions,
    /// The watchdog's own client: its namespace only (Leases, mirrors, Events, the probe).
    client: Client,
    own: ClusterOps,
    store: MirrorStore,
    leases: Api<Lease>,
    server: String,
    authors: HashMap<Caller, AuthorOps>,
    policy: Option<PolicyCheck>,
    metrics: Arc<WatchdogMetrics>,
    observed: HashMap<String, Observed>,
    /// Claims of other watchdogs, by mirror and claim text, and when this one first saw them.
    claims_seen: HashMap<(String, String), Instant>,
    /// Mirrors found bad (name, resourceVersion) and why: one Event each, never fetched again.
    bad: HashMap<(String, String), String>,
    /// Runs whose Lease names no author: said once.
    authorless_runs: HashSet<String>,
    failed_at: HashMap<String, Instant>,
    undos: usize,
    failpoint: Option<usize>,
    log: Box<dyn Fn(String) + Send + Sync>,
}

impl Watchdog {
    pub async fn new(
        client: Client,
        server: &str,
        options: WatchdogOptions,
        metrics: Arc<WatchdogMetrics>,
        log: Box<dyn Fn(String) + Send + Sync>,
    ) -> Watchdog {
        Watchdog {
            store: MirrorStore::new(client.clone(), &options.namespace),
            leases: Api::namespaced(client.clone(), &options.namespace),
            own: ClusterOps::new(client.clone()).with_server(server),
            client,
            server: server.to_string(),
            authors: HashMap::new(),
            policy: None,
            options,
            metrics,
            observed: HashMap::new(),
            claims_seen: HashMap::new(),
            bad: HashMap::new(),
            authorless_runs: HashSet::new(),
            failed_at: HashMap::new(),
            undos: 0,
            failpoint: failpoint(),
            log,
        }
    }

    /// Watches until `cancel`. Errors of one pass are logged and the next pass tries again.
    pub async fn run(mut self, cancel: CancellationToken) {
        let (leases, lease_writer) = reflector::store::<Lease>();
        let lease_seen = std::sync::Arc::new(tokio::sync::Notify::new());
        let lease_seen_by_stream = lease_seen.clone();
        let (mirrors, mirror_writer) = reflector::store::<PartialObjectMeta<ConfigMap>>();
        let lease_api: Api<Lease> = Api::namespaced(self.client.clone(), &self.options.namespace);
        // Metadata only: what a mirror holds is fetched when its run is undone.
        let mirror_api: Api<PartialObjectMeta<ConfigMap>> =
            Api::namespaced(self.client.clone(), &self.options.namespace);
        let lease_stream = reflector(
            lease_writer,
            watcher(
                lease_api,
                watcher::Config::default()
                    .labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}")),
            ),
        )
        .default_backoff()
        .for_each(move |_| {
            let lease_seen = lease_seen_by_stream.clone();
            // A renewal starts the Lease's clock when it arrives, not at the next tick.
            async move { lease_seen.notify_one() }
        });
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
            let mirror_list: Vec<ObjectMeta> =
                mirrors.state().iter().map(|m| m.metadata.clone()).collect();
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.pass(&lease_list, &mirror_list) => {}
            }
            // The next pass: at the tick, when a Lease changes, or when one is due to expire.
            let wake = self.next_expiry(&lease_list).map_or(self.options.tick, |at| {
                at.saturating_duration_since(Instant::now()).min(self.options.tick)
            });
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = lease_seen.notified() => {}
                _ = tokio::time::sleep(wake) => {}
            }
        }
        streams.abort();
    }

    /// One evaluation of the current view: the Leases, and the mirrors' metadata.
    pub async fn pass(&mut self, leases: &[Lease], mirrors: &[ObjectMeta]) {
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
            .filter_map(|m| m.labels.as_ref()?.get(RUN_UUID_LABEL).cloned())
            .collect();
        let live: HashSet<(String, String)> = mirrors.iter().map(key_of).collect();
        self.bad.retain(|key, _| live.contains(key));
        let mut runs: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
        let mut counts: HashMap<&'static str, i64> = HashMap::new();
        for meta in mirrors {
            if let Some(why) = metadata_fault(meta) {
                self.report_bad(meta, &why).await;
                continue;
            }
            if self.bad.contains_key(&key_of(meta)) {
                continue;
            }
            let labels = meta.labels.clone().unwrap_or_default();
            let state = labels.get(mirror::STATE_LABEL).map(String::as_str).unwrap_or_default();
            let state = match state {
                "pending" => MirrorState::Pending,
                "executed" => MirrorState::Executed,
                "failed" => MirrorState::Failed,
                other => {
                    let why = format!(
                        "{} is {:?}, not pending/executed/failed",
                        mirror::STATE_LABEL,
                        crate::refs::printable(other)
                    );
                    self.report_bad(meta, &why).await;
                    continue;
                }
            };
            *counts.entry(state.as_str()).or_default() += 1;
            if state == MirrorState::Executed {
                continue;
            }
            let name = meta.name.clone().unwrap_or_default();
            let (Some(run), Some(order)) = (labels.get(RUN_UUID_LABEL), mirror::order_of(&name))
            else {
                let why = format!(
                    "no {RUN_UUID_LABEL} label, or a name not chaosdeck-<timestamp>-<suffix>"
                );
                self.report_bad(meta, &why).await;
                continue;
            };
            runs.entry(run.clone()).or_default().push((order, name));
        }
        for state in ["pending", "executed", "failed"] {
            self.metrics.mirrors.get_or_create(&state.into()).set(*counts.get(state).unwrap_or(&0));
        }
        self.metrics.bad_mirrors.set(i64::try_from(self.bad.len()).unwrap_or(i64::MAX));

        let by_name: HashMap<String, &Lease> =
            leases.iter().map(|l| (l.metadata.name.clone().unwrap_or_default(), l)).collect();
        let mut unowned = 0;
        for (run_uuid, run_mirrors) in runs {
            let Some(lease) = by_name.get(&lease_name(&run_uuid)) else {
                // No Lease: the run released it (ended on its own terms) or never made one.
                unowned += run_mirrors.len();
                continue;
            };
            // Only this watchdog's own clock says a run is dead: a `taken-over` mark is taken
            // for what it claims only once the Lease has also stopped changing.
            if !self.expired(lease, now) || !self.policy_allows().await {
                continue;
            }
            let taken_over = lease
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(TAKEN_OVER_ANNOTATION));
            if !taken_over && !self.take_over(lease, &run_uuid).await {
                continue;
            }
            let Some(author) = author_of(&lease.metadata) else {
                if self.authorless_runs.insert(run_uuid.clone()) {
                    (self.log)(format!(
                        "run {run_uuid}: refused: its Lease names no {AUTHOR_ANNOTATION}, so \
                         nobody vouches for whose rights its undos would need; not acting"
                    ));
                }
                continue;
            };
            self.undo_run(&run_uuid, &author, run_mirrors).await;
        }
        self.metrics.unowned_mirrors.set(i64::try_from(unowned).unwrap_or(i64::MAX));
        for lease in leases {
            self.forget_if_done(lease, &mirrored, now).await;
        }
        self.metrics.passes.inc();
    }

    /// Whether the API server enforces the switch's policies (asked at most once a minute).
    /// Without them anyone who may write a ConfigMap here could name any author, and acting in
    /// that author's name would lend its rights: nothing is done until they are in force.
    async fn policy_allows(&mut self) -> bool {
        let stale = self.policy.as_ref().is_none_or(|p| p.at.elapsed() >= POLICY_RECHECK);
        if stale {
            let verdict = policy_enforced(&self.own, &self.options.namespace).await;
            let changed = self.policy.as_ref().is_none_or(|p| p.verdict != verdict);
            if changed {
                match &verdict {
                    Ok(()) => (self.log)(format!(
                        "the API server enforces the dead man's switch policies in {}",
                        self.options.namespace
                    )),
                    Err(why) => (self.log)(format!(
                        "NOT ACTING on any run: {why}. Apply deploy/watchdog.yaml's policies; \
                         without them a ConfigMap could make this watchdog act in anyone's name"
                    )),
                }
            }
            self.metrics.policy_enforced.set(i64::from(verdict.is_ok()));
            self.policy = Some(PolicyCheck { at: Instant::now(), verdict });
        }
        self.policy.as_ref().is_some_and(|p| p.verdict.is_ok())
    }

    /// The operations of `author`, made once: an impersonating client, and this cluster's
    /// identity as that author may read it.
    async fn ops_for(&mut self, author: &Caller) -> Result<Arc<ClusterOps>, String> {
        if !self.authors.contains_key(author) {
            let client = impersonating(self.client.clone(), author)?;
            let namespaces: Api<Namespace> = Api::all(client.clone());
            let (uid, unidentified) = match namespaces.get_opt("kube-system").await {
                Ok(Some(ns)) => (ns.metadata.uid, None),
                Ok(None) => (None, Some("the cluster has no kube-system namespace".to_string())),
                Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains("impersonate") => (
                    None,
                    Some(format!(
                        "this watchdog may not act as {} (not among the identities its RBAC lets \
                         it impersonate: deploy/watchdog.yaml's chaosdeck-watchdog-impersonate)",
                        author.describe()
                    )),
                ),
                Err(e) => (
                    None,
                    Some(format!(
                        "{} may not read namespace kube-system ({}), so no entry can be matched \
                         to this cluster in its name",
                        author.describe(),
                        api_error(&e)
                    )),
                ),
            };
            let identity = ClusterIdentity {
                context: "in-cluster".into(),
                server: self.server.clone(),
                kube_system_uid: uid,
            };
            let ops = ClusterOps::identified(client, identity, false)
                .with_protected(self.options.protected.clone());
            self.authors.insert(author.clone(), AuthorOps { ops: Arc::new(ops), unidentified });
        }
        let entry = self.authors.get(author).ok_or("internal: author operations missing")?;
        match &entry.unidentified {
            Some(why) => {
                // Asked again next time: the author may be granted the read meanwhile.
                let why = why.clone();
                self.authors.remove(author);
                Err(why)
            }
            None => Ok(entry.ops.clone()),
        }
    }

    /// Deletes the Lease of a run that is over and has no mirror left (reconciled, or it never
    /// mirrored anything): taken over, or expired. A holder that is still alive finds its Lease
    /// gone at the next renewal and goes read-only — and it had nothing outstanding.
    async fn forget_if_done(&mut self, lease: &Lease, mirrored: &HashSet<String>, now: Instant) {
        let Some(run) = lease.metadata.labels.as_ref().and_then(|l| l.get(RUN_UUID_LABEL)) else {
            return;
        };
        if mirrored.contains(run) || !self.expired(lease, now) {
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
        self.expires_at(lease).is_some_and(|at| now >= at)
    }

    /// When `lease` expires by this watchdog's clock: `lease_duration` after it was first seen
    /// at its current version.
    fn expires_at(&self, lease: &Lease) -> Option<Instant> {
        let name = lease.metadata.name.as_deref()?;
        let duration = lease
            .spec
            .as_ref()
            .and_then(|s| s.lease_duration_seconds)
            .and_then(|d| u64::try_from(d).ok())
            .unwrap_or(30);
        Some(self.observed.get(name)?.since + Duration::from_secs(duration))
    }

    /// The soonest expiry still ahead among `leases`.
    fn next_expiry(&self, leases: &[Lease]) -> Option<Instant> {
        let now = Instant::now();
        leases.iter().filter_map(|l| self.expires_at(l)).filter(|at| *at > now).min()
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
            Ok(updated) => {
                // Our own change must not restart our clock.
                if let (Some(rv), Some(o)) =
                    (updated.metadata.resource_version, self.observed.get_mut(&name))
                {
                    o.resource_version = rv;
                }
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

    /// Reports a mirror the watchdog will not act on: one log line and one Event per version.
    async fn report_bad(&mut self, meta: &ObjectMeta, why: &str) {
        let key = key_of(meta);
        if self.bad.contains_key(&key) {
            return;
        }
        self.bad.insert(key.clone(), why.to_string());
        self.metrics.bad_mirrors_total.inc();
        let message = format!("skipped, never executed: {why}");
        (self.log)(format!("mirror {}: {message}", key.0));
        self.store.event(meta, true, "BadMirror", &message).await;
    }

    /// The run's outstanding mirrors, newest first, one at a time.
    async fn undo_run(&mut self, run_uuid: &str, author: &Caller, mut names: Vec<(u64, String)>) {
        names.sort_by(|a, b| b.cmp(a));
        for (_, name) in names {
            if let Err(e) = self.undo_one(&name, author).await {
                (self.log)(format!("run {run_uuid}: mirror {name}: {e}"));
            }
        }
    }

    async fn undo_one(&mut self, name: &str, lease_author: &Caller) -> Result<(), String> {
        // Fresh: the watch may lag behind another watchdog's record.
        let Some(cm) = self.store.get(name).await? else { return Ok(()) };
        let m = match mirror::read(&cm) {
            Ok(m) => m,
            Err(why) => {
                self.report_bad(&cm.metadata, &why).await;
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
        if m.author != *lease_author {
            let why = format!(
                "refused: written by {}, but its run's Lease was armed by {}",
                m.author.describe(),
                lease_author.describe()
            );
            return self.refuse(&cm, &why).await;
        }
        if m.entry.cluster.is_none() {
            let why = "refused: the entry does not say which cluster it was made on";
            return self.refuse(&cm, why).await;
        }
        // Judged before anything is sent in anyone's name.
        if let Err(why) = admissible_entry(&self.options.protected, &m.entry) {
            return self.refuse(&cm, &why).await;
        }
        let ops = match self.ops_for(&m.author).await {
            Ok(ops) => ops,
            Err(why) => return self.refuse(&cm, &format!("refused: {why}")).await,
        };
        if let Err(why) = ops.admits(m.entry.cluster.as_ref()) {
            return self.refuse(&cm, &format!("refused: {why}")).await;
        }
        let Some(claimed) = self.claim(&cm).await? else { return Ok(()) };
        let result = apply_entry(&ops, &m.entry).await;
        self.undos += 1;
        if self.failpoint == Some(self.undos) {
            (self.log)(format!("failpoint: hanging after undo {}", self.undos));
            std::future::pending::<()>().await;
        }
        let (state, outcome) = match &result {
            Ok(notes) if notes.is_empty() => (MirrorState::Executed, "undone".to_string()),
            Ok(notes) => (MirrorState::Executed, notes.join("; ")),
            Err(Unapplied::Refused(e) | Unapplied::Failed(e)) => (MirrorState::Failed, e.clone()),
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
        let as_who = m.author.describe();
        if state == MirrorState::Executed {
            self.failed_at.remove(name);
            (self.log)(format!("undone {} ({summary}) as {as_who}: {outcome}", m.file));
            self.store
                .event(&claimed.metadata, false, "Undone", &format!("{summary}: {outcome}"))
                .await;
        } else {
            self.failed_at.insert(name.to_string(), Instant::now());
            (self.log)(format!("undo FAILED {} ({summary}) as {as_who}: {outcome}", m.file));
            self.store
                .event(&claimed.metadata, true, "UndoFailed", &format!("{summary}: {outcome}"))
                .await;
        }
        Ok(())
    }

    /// A mirror whose undo will not be sent: said once (log line, Event), counted, and never
    /// claimed, so the operator's own `execute-rollback` still can.
    async fn refuse(&mut self, cm: &ConfigMap, why: &str) -> Result<(), String> {
        if !self.bad.contains_key(&key_of(&cm.metadata)) {
            self.metrics.refused_mirrors.inc();
        }
        self.report_bad(&cm.metadata, why).await;
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
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.options.namespace);
        match api.replace(&name, &PostParams::default(), &claimed).await {
            Ok(stored) => Ok(Some(stored)),
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(None),
            Err(e) => Err(format!("cannot claim the mirror: {}", api_error(&e))),
        }
    }
}

fn key_of(meta: &ObjectMeta) -> (String, String) {
    (meta.name.clone().unwrap_or_default(), meta.resource_version.clone().unwrap_or_default())
}

/// The label selector of one run's mirrors (for humans: `kubectl get cm -l ...`).
pub fn run_selector(run_uuid: &str) -> String {
    format!("{MIRROR_LABEL}={MIRROR_LABEL_VALUE},{RUN_UUID_LABEL}={run_uuid}")
}
