//! What a scenario gets to work with: reads, write-ahead change helpers, events, cancellation.
//!
//! The only way a scenario can reach the cluster. Its client is private to this module, so a
//! scenario can read (`get`, `list_all`, `list_in`) but can change something only through
//! `create`, `patch`, `add_list_item`, `delete` or `evict`: each writes its journal entry
//! durably first and makes the change second, and in a dry run logs what it would do and sends
//! nothing. `revert` has the executor undo that one entry under its context lock.
//!
//! Every operation is checked against the plan's declared [`Need`]s first: one that was not
//! declared is refused before a request is sent (an internal error: the plan's `needs` is
//! wrong), so the permissions the preflight checked are all a scenario can use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, EvictParams, ListParams};
use kube::core::NamespaceResourceScope;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cluster::ClusterOps;
use crate::cluster::exec::{
    ContainerPath, ContainerTarget, DiskUsage, ExecCommand, ExecOutput, Seen,
};
use crate::journal::entry::{ENTRY_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, RUN_UUID_LABEL};
use crate::journal::executor::revert_own;
use crate::journal::{Context, Journal, ObjectRef, WrittenEntry};

use crate::deadman::Armed;

use super::error::ScenarioError;
use super::event::{EventSink, ScenarioEvent};
use super::needs::{Need, Op};

mod change;

/// A change that was made (or, in a dry run, would have been).
#[derive(Debug, Clone)]
pub struct Change {
    pub target: ObjectRef,
    pub written: Option<WrittenEntry>,
    pub object: Option<Value>,
}

/// Test hook (`CHAOSDECK_FAILPOINT`): fail or hang right after the Nth cluster change, so
/// tests can inject a failure or SIGKILL the process at exactly that step; or hold the Nth
/// change back for `SLOW_CHANGE` after its entry is written, so a test can start an executor
/// while the change is in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    FailAfterChange(usize),
    HangAfterChange(usize),
    PanicAfterChange(usize),
    SlowChange(usize),
}

/// How long `slow-change:N` holds its change back.
const SLOW_CHANGE: Duration = Duration::from_secs(5);

impl Failpoint {
    pub fn from_env() -> Option<Failpoint> {
        let raw = std::env::var("CHAOSDECK_FAILPOINT").ok()?;
        let (kind, n) = raw.split_once(':')?;
        let n = n.parse().ok()?;
        match kind {
            "fail-after-change" => Some(Failpoint::FailAfterChange(n)),
            "hang-after-change" => Some(Failpoint::HangAfterChange(n)),
            "panic-after-change" => Some(Failpoint::PanicAfterChange(n)),
            "slow-change" => Some(Failpoint::SlowChange(n)),
            _ => None,
        }
    }
}

/// What an eviction request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eviction {
    Evicted,
    /// The pod was already gone.
    Gone,
    /// Refused for now (429: a PodDisruptionBudget); the message says why.
    Refused(String),
    /// Dry run: nothing was sent.
    WouldEvict,
}

pub struct ScenarioCtx {
    ops: Arc<ClusterOps>,
    pub run_uuid: String,
    pub scenario_type: String,
    pub scenario_file: PathBuf,
    pub index: usize,
    pub dry_run: bool,
    pub cancel: CancellationToken,
    pub protected_namespaces: Vec<String>,
    pub allow_protected: bool,
    journal: Journal,
    context: Mutex<Option<Context>>,
    events: EventSink,
    paused: watch::Receiver<bool>,
    changes: AtomicUsize,
    failpoint: Option<Failpoint>,
    needs: Vec<Need>,
    armed: Option<Armed>,
}

pub struct CtxParams {
    pub ops: Arc<ClusterOps>,
    pub journal: Journal,
    pub run_uuid: String,
    pub scenario_type: String,
    pub scenario_file: PathBuf,
    pub index: usize,
    pub dry_run: bool,
    pub cancel: CancellationToken,
    pub protected_namespaces: Vec<String>,
    pub allow_protected: bool,
    pub events: EventSink,
    pub paused: watch::Receiver<bool>,
    /// The plan's declared operations ([`super::ScenarioPlan::needs`]).
    pub needs: Vec<Need>,
    /// The dead man's switch, when the run holds a Lease: every entry is mirrored into the
    /// cluster before its change, and nothing changes once the fence is down.
    pub armed: Option<Armed>,
}

impl ScenarioCtx {
    pub fn new(p: CtxParams) -> Self {
        ScenarioCtx {
            ops: p.ops,
            run_uuid: p.run_uuid,
            scenario_type: p.scenario_type,
            scenario_file: p.scenario_file,
            index: p.index,
            dry_run: p.dry_run,
            cancel: p.cancel,
            protected_namespaces: p.protected_namespaces,
            allow_protected: p.allow_protected,
            journal: p.journal,
            context: Mutex::new(None),
            events: p.events,
            paused: p.paused,
            changes: AtomicUsize::new(0),
            failpoint: Failpoint::from_env(),
            needs: p.needs,
            armed: p.armed,
        }
    }

    /// The context directory, if any entry was written.
    pub fn context(&self) -> Option<Context> {
        self.context.lock().ok().and_then(|c| c.clone())
    }

    fn context_or_begin(&self) -> Result<Context, ScenarioError> {
        let mut guard = self
            .context
            .lock()
            .map_err(|_| ScenarioError::Internal("journal context lock poisoned".into()))?;
        if let Some(ctx) = guard.as_ref() {
            return Ok(ctx.clone());
        }
        let ctx = self.journal.begin_context(&self.run_uuid)?;
        *guard = Some(ctx.clone());
        Ok(ctx)
    }

    pub fn step(&self, text: impl Into<String>) {
        (self.events)(ScenarioEvent::Step { index: self.index, text: text.into() });
    }

    pub fn log(&self, text: impl Into<String>) {
        (self.events)(ScenarioEvent::Log(text.into()));
    }

    /// Refuses protected namespaces unless the config allows them.
    pub fn check_namespace(&self, ns: &str) -> Result<(), ScenarioError> {
        if !self.allow_protected && self.protected_namespaces.iter().any(|p| p == ns) {
            return Err(ScenarioError::Refused(format!(
                "namespace {ns} is protected (set chaosdeck.allow_protected_namespaces: true to allow it)"
            )));
        }
        Ok(())
    }

    /// Waits while paused; fails when the run is stopped.
    pub async fn checkpoint(&self) -> Result<(), ScenarioError> {
        let mut paused = self.paused.clone();
        loop {
            if self.cancel.is_cancelled() {
                return Err(ScenarioError::Cancelled);
            }
            if !*paused.borrow_and_update() {
                return Ok(());
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return Err(ScenarioError::Cancelled),
                changed = paused.changed() => if changed.is_err() { return Ok(()) },
            }
        }
    }

    /// Holds for `duration` (the chaos window), reporting progress; interrupted by a stop.
    pub async fn hold(
        &self,
        duration: Duration,
        expected_total: Duration,
        started: Instant,
    ) -> Result<(), ScenarioError> {
        if self.dry_run {
            // Nothing was changed, so there is no chaos window to sit through.
            self.log(format!("dry run: would hold the chaos for {} s", duration.as_secs()));
            return Ok(());
        }
        let until = Instant::now().checked_add(duration).ok_or_else(|| {
            ScenarioError::Internal(format!("chaos window of {} s is too long", duration.as_secs()))
        })?;
        loop {
            let now = Instant::now();
            (self.events)(ScenarioEvent::Progress {
                index: self.index,
                elapsed: now.duration_since(started),
                expected: expected_total,
            });
            if now >= until {
                return Ok(());
            }
            let tick = (until - now).min(Duration::from_millis(500));
            tokio::select! {
                _ = self.cancel.cancelled() => return Err(ScenarioError::Cancelled),
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }

    /// Refuses an operation the plan did not declare.
    fn permit(
        &self,
        op: Op,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
    ) -> Result<(), ScenarioError> {
        // A change whose undo the journal would refuse must not be made at all.
        if let Some(forward) = op.forward()
            && crate::journal::admissible::reversible(forward, api_version, kind).is_none()
        {
            return Err(ScenarioError::Internal(format!(
                "{} would {op} {api_version} {kind}, a change no undo may reverse \
                 (journal::admissible::REVERSIBLE); refused before sending it",
                self.scenario_type
            )));
        }
        if self.needs.iter().any(|n| n.allows(op, api_version, kind, ns)) {
            return Ok(());
        }
        Err(ScenarioError::Internal(format!(
            "{} declares no {op} on {api_version} {kind}{}; refused before sending it (a bug \
             in the scenario's needs)",
            self.scenario_type,
            ns.map(|ns| format!(" in namespace {ns}")).unwrap_or_default()
        )))
    }

    fn permit_ref(&self, op: Op, target: &ObjectRef) -> Result<(), ScenarioError> {
        self.permit(op, &target.api_version, &target.kind, target.namespace.as_deref())
    }

    /// Every change waits out a pause, stops on a stop, and never touches a protected namespace.
    async fn before_change(&self, target: &ObjectRef) -> Result<(), ScenarioError> {
        self.checkpoint().await?;
        if let Some(reason) = self.armed.as_ref().and_then(Armed::read_only) {
            return Err(ScenarioError::Refused(format!("read-only: {reason}")));
        }
        match &target.namespace {
            Some(ns) => self.check_namespace(ns),
            None => Ok(()),
        }
    }

    /// Labels every created object carries, so leftovers can be found without the journal.
    pub fn labels(&self, entry_id: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
            (RUN_UUID_LABEL.to_string(), self.run_uuid.clone()),
            (ENTRY_LABEL.to_string(), entry_id.to_string()),
        ])
    }

    /// Reads one object.
    pub async fn get(&self, target: &ObjectRef) -> Result<Option<DynamicObject>, ScenarioError> {
        self.permit_ref(Op::Get, target)?;
        Ok(self.ops.get(target).await?)
    }

    /// Lists a kind across the cluster (cluster-scoped kinds, or every namespace).
    pub async fn list_all<K>(&self, params: &ListParams) -> Result<Vec<K>, ScenarioError>
    where
        K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        self.permit(Op::List, &K::api_version(&()), &K::kind(&()), None)?;
        let api: Api<K> = Api::all(self.ops.client().clone());
        Ok(api.list(params).await?.items)
    }

    /// Lists a namespaced kind in one namespace.
    pub async fn list_in<K>(&self, ns: &str, params: &ListParams) -> Result<Vec<K>, ScenarioError>
    where
        K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        self.permit(Op::List, &K::api_version(&()), &K::kind(&()), Some(ns))?;
        let api: Api<K> = Api::namespaced(self.ops.client().clone(), ns);
        Ok(api.list(params).await?.items)
    }

    /// Evicts a pod (the API honours PodDisruptionBudgets). No entry: the pod's controller
    /// re-creates it, and the drain's cordon is what the journal undoes.
    pub async fn evict(&self, step: &str, ns: &str, name: &str) -> Result<Eviction, ScenarioError> {
        let target = ObjectRef::new("v1", "Pod", Some(ns), name);
        self.permit_ref(Op::Evict, &target)?;
        self.before_change(&target).await?;
        if self.dry_run {
            self.log(format!("dry run: would evict {} ({step}); no entry", target.display()));
            return Ok(Eviction::WouldEvict);
        }
        let api: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.ops.client().clone(), ns);
        match api.evict(name, &EvictParams::default()).await {
            Ok(_) => {
                self.after_change().await?;
                Ok(Eviction::Evicted)
            }
            Err(kube::Error::Api(s)) if s.is_not_found() => Ok(Eviction::Gone),
            Err(kube::Error::Api(s)) if s.code == 429 => Ok(Eviction::Refused(s.message)),
            Err(e) => Err(ScenarioError::Failed(format!("evicting {}: {e}", target.display()))),
        }
    }

    /// Sends `signal` to PID 1 of `container` (`kill -s N 1` through exec). No entry: the
    /// kubelet starts the container again, and nothing chaosdeck made is left behind. Returns
    /// what the pod looked like just before (its uid and the container's restart count, for
    /// the recovery check), or None in a dry run.
    pub async fn signal_pid1(
        &self,
        step: &str,
        container: &ContainerTarget,
        signal: u8,
    ) -> Result<Option<Seen>, ScenarioError> {
        let target = ObjectRef::new("v1", "Pod", Some(&container.namespace), &container.pod);
        self.permit_ref(Op::Signal, &target)?;
        self.before_change(&target).await?;
        let command = ExecCommand::signal_pid1(signal).map_err(ScenarioError::Internal)?;
        if self.dry_run {
            self.log(format!(
                "dry run: would send signal {signal} to PID 1 of {} ({step}); no entry",
                container.display()
            ));
            return Ok(None);
        }
        let (seen, _) = self.exec_ok(container, &command).await?;
        self.after_change().await?;
        Ok(Some(seen))
    }

    /// `df` of `path` in `container`: a read, but an exec, so it takes the permission (and the
    /// declaration) of the fill it measures. Never in a dry run: the fence refuses exec.
    pub async fn disk_usage(
        &self,
        container: &ContainerTarget,
        path: &ContainerPath,
    ) -> Result<(Seen, DiskUsage), ScenarioError> {
        let target = ObjectRef::new("v1", "Pod", Some(&container.namespace), &container.pod);
        self.permit_ref(Op::Change(crate::journal::admissible::Forward::FillFile), &target)?;
        let command = ExecCommand::disk_usage(path.clone());
        let (seen, out) = self.exec_ok(container, &command).await?;
        let usage = DiskUsage::parse(&out.stdout)
            .map_err(|e| ScenarioError::Failed(format!("df in {}: {e}", container.display())))?;
        Ok((seen, usage))
    }

    /// Waits (up to `patience`) for the helper pod `helper` to run and report `expected` rules
    /// tagged `tag` (its container runs a moment before its program has added them), asking it
    /// through exec; the last count it reported. With no `expected` (a fault that cuts the node
    /// off, so nothing can ask), running is all it waits for. A helper that ends or cannot
    /// start (an image that cannot be pulled, a node that refuses it) is an error saying why,
    /// as its status says.
    pub async fn helper_rules(
        &self,
        helper: &ObjectRef,
        tag: &str,
        expected: Option<usize>,
        patience: Duration,
    ) -> Result<usize, ScenarioError> {
        self.permit_ref(Op::Change(crate::journal::admissible::Forward::StartHelper), helper)?;
        let command = ExecCommand::helper(crate::cluster::exec::HelperVerb::Status, tag)
            .map_err(ScenarioError::Internal)?;
        let deadline = Instant::now() + patience;
        loop {
            let Some(pod) = self.ops.get(helper).await? else {
                return Err(ScenarioError::Failed(format!("helper {} is gone", helper.display())));
            };
            let status = pod.data.pointer("/status/containerStatuses/0");
            if status.and_then(|s| s.pointer("/state/running")).is_some() {
                let Some(expected) = expected else { return Ok(0) };
                let container = ContainerTarget {
                    namespace: helper.namespace.clone().unwrap_or_default(),
                    pod: helper.name.clone(),
                    container: crate::journal::undo::HELPER_CONTAINER.to_string(),
                    uid: pod.metadata.uid.clone(),
                    restarts: None,
                };
                let last = match self.exec_ok(&container, &command).await {
                    Ok((_, out)) => crate::cluster::exec::helper_tagged(&out.stdout, tag),
                    Err(e) => Err(e.to_string()),
                };
                match last {
                    Ok(n) if n == expected => return Ok(n),
                    Ok(n) if Instant::now() >= deadline => return Ok(n),
                    Ok(_) => {}
                    Err(why) if Instant::now() >= deadline => {
                        return Err(ScenarioError::Failed(format!(
                            "helper {} did not report its rules within {} s ({why})",
                            helper.display(),
                            patience.as_secs()
                        )));
                    }
                    Err(_) => {}
                }
            } else {
                let why = status
                    .and_then(|s| {
                        s.pointer("/state/waiting/reason").or(s.pointer("/state/terminated/reason"))
                    })
                    .and_then(|r| r.as_str())
                    .or_else(|| pod.data.pointer("/status/phase").and_then(|p| p.as_str()))
                    .unwrap_or("Pending")
                    .to_string();
                if matches!(why.as_str(), "Succeeded" | "Failed" | "Completed" | "Error") {
                    return Err(ScenarioError::Failed(format!(
                        "helper {} ended before applying its rules ({why})",
                        helper.display()
                    )));
                }
                if Instant::now() >= deadline {
                    return Err(ScenarioError::Failed(format!(
                        "helper {} did not start within {} s ({why})",
                        helper.display(),
                        patience.as_secs()
                    )));
                }
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return Err(ScenarioError::Cancelled),
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    /// Waits (up to `patience`) until the helper pod `helper` has ended (its fault removed by
    /// itself) or is gone; whether it did.
    pub async fn helper_ended(
        &self,
        helper: &ObjectRef,
        patience: Duration,
    ) -> Result<bool, ScenarioError> {
        self.permit_ref(Op::Change(crate::journal::admissible::Forward::StartHelper), helper)?;
        let deadline = Instant::now() + patience;
        loop {
            let ended = match self.ops.get(helper).await? {
                None => true,
                Some(pod) => matches!(
                    pod.data.pointer("/status/phase").and_then(|p| p.as_str()),
                    Some("Succeeded" | "Failed")
                ),
            };
            if ended || Instant::now() >= deadline {
                return Ok(ended);
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return Err(ScenarioError::Cancelled),
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    /// Runs `command` (already permitted) and requires exit 0; errors name the container.
    async fn exec_ok(
        &self,
        container: &ContainerTarget,
        command: &ExecCommand,
    ) -> Result<(Seen, ExecOutput), ScenarioError> {
        let (seen, out) = self
            .ops
            .exec(container, command, Duration::from_secs(30))
            .await
            .map_err(|e| ScenarioError::Failed(e.to_string()))?;
        if out.code != 0 {
            return Err(ScenarioError::Failed(format!(
                "{} in {} exited {}: {}",
                command.program(),
                container.display(),
                out.code,
                crate::refs::printable(out.stderr.trim())
            )));
        }
        Ok((seen, out))
    }

    /// Undoes a change the scenario made (normal completion) and retires its entry.
    pub async fn revert(&self, change: &Change) -> Result<(), ScenarioError> {
        let Some(written) = &change.written else { return Ok(()) };
        let notes = revert_own(&self.ops, &written.path, &written.entry)
            .await
            .map_err(ScenarioError::Failed)?;
        for note in notes {
            self.log(format!("undo: {note}"));
        }
        (self.events)(ScenarioEvent::EntryRetired { path: written.path.clone() });
        Ok(())
    }

    /// Retires an entry whose change needs no undo any more (e.g. a deleted pod came back).
    pub async fn retire(&self, change: &Change) -> Result<(), ScenarioError> {
        if let (Some(written), Some(ctx)) = (&change.written, self.context()) {
            ctx.retire(written)?;
            self.retire_mirror(written).await;
            (self.events)(ScenarioEvent::EntryRetired { path: written.path.clone() });
        }
        Ok(())
    }
}
