//! `chaosdeck attach`'s view of a run that is not this process's (a game day running as a Job
//! in the cluster): a local journal kept in step with the run's mirrors, so the terminal UI
//! and the rollback service work on it as on any journal.
//!
//! Owns: choosing the run by its Lease, copying its mirrored entries into the local journal
//! (only mirrors the API server attributes to the run's own author — they are undone with
//! that author's rights, so only where deploy/watchdog.yaml's policies are in force), retiring
//! local copies whose mirror the run or the watchdog retired, and saying how the Lease stands
//! and what progress it carries. Must not undo anything itself: `x` and `!` go through the
//! rollback service, and local entries change only through `journal::transitions`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

use super::mirror::{self, ENTRY_KEY, MirrorState};
use super::progress::{PROGRESS_ANNOTATION, Progress};
use super::reconcile::reconcile;
use super::store::{MirrorStore, api_error};
use crate::cluster::Caller;
use crate::journal::Journal;
use crate::journal::entry::UndoneBy;
use crate::journal::lock::{DEFAULT_PATIENCE, lock_context};
use crate::journal::mirror_link::lease_and_mirror_policies_enforced;
use crate::journal::names::parse_entry_file;
use crate::journal::transitions::Marked;
use crate::refs::printable;

/// The Lease name's prefix; the rest is the run's uuid.
const LEASE_PREFIX: &str = "chaosdeck-run-";

/// A run holding (or having held) a Lease in the switch's namespace.
#[derive(Debug, Clone)]
pub struct LeasedRun {
    pub run_uuid: String,
    pub lease: Lease,
    /// Who armed it, as the API server recorded it on the Lease.
    pub author: Caller,
}

impl LeasedRun {
    /// The host the run's process is on (`chaosdeck pid N on HOST`): in a pod, its name.
    pub fn host(&self) -> Option<String> {
        let holder = self.lease.spec.as_ref()?.holder_identity.as_deref()?;
        let (_, host) = holder.rsplit_once(" on ")?;
        (!host.is_empty()).then(|| printable(host).into_owned())
    }

    /// `held by chaosdeck pid 1 on gd-1-x, renewed 0.8 s ago` (or how long it has been silent).
    pub fn describe(&self) -> String {
        let spec = self.lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.as_deref().map(printable).unwrap_or_default();
        let renewed = self.renewed_ago().map(|ago| {
            format!(
                "{ago:.1} s ago{}",
                if self.late() { " (past its lease_duration: the watchdog may act)" } else { "" }
            )
        });
        format!("held by {holder}, renewed {}", renewed.unwrap_or_else(|| "never".into()))
    }

    /// Why the progress on the Lease no longer says what the run does, if it does not: a
    /// watchdog took the Lease over, or the run has not renewed it for its lease_duration.
    pub fn stopped_renewing(&self) -> Option<&'static str> {
        let annotations = self.lease.metadata.annotations.as_ref();
        if annotations.is_some_and(|a| a.contains_key(super::lease::TAKEN_OVER_ANNOTATION)) {
            return Some("the run's Lease was taken over by the watchdog: the run is dead");
        }
        self.late().then_some("the run has not renewed its Lease for its lease_duration")
    }

    fn renewed_ago(&self) -> Option<f64> {
        let at = self.lease.spec.as_ref()?.renew_time.as_ref()?;
        Some(jiff::Timestamp::now().duration_since(at.0).as_secs_f64())
    }

    fn late(&self) -> bool {
        let duration = self.lease.spec.as_ref().and_then(|s| s.lease_duration_seconds);
        duration.zip(self.renewed_ago()).is_some_and(|(d, ago)| ago > f64::from(d))
    }
}

/// The run whose uuid starts with `prefix` (any run when `None`, if there is only one).
pub async fn find_run(
    client: &kube::Client,
    namespace: &str,
    prefix: Option<&str>,
) -> Result<LeasedRun, String> {
    let runs: Vec<(String, Lease)> = leased_runs(client, namespace)
        .await?
        .into_iter()
        .filter(|(run, _)| prefix.is_none_or(|p| run.starts_with(p)))
        .collect();
    let named = |runs: &[(String, Lease)]| {
        runs.iter().map(|(r, _)| printable(r).into_owned()).collect::<Vec<_>>().join(", ")
    };
    let (run_uuid, lease) = match runs.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(match prefix {
                Some(p) => format!("no run {p:?} holds a Lease in {namespace}"),
                None => format!("no run holds a Lease in {namespace}"),
            });
        }
        many => {
            return Err(format!(
                "{} runs hold Leases in {namespace}; name one: {}",
                many.len(),
                named(many)
            ));
        }
    };
    // The author annotation is only the creator where the API server checks it; elsewhere
    // anyone who may create a Lease could name the operator's identity and have attach act as it.
    authors_checked(client, namespace).await?;
    let author = author_of(&lease).ok_or_else(|| {
        format!("run {run_uuid}: its Lease names no author, so nothing can be undone as it")
    })?;
    Ok(LeasedRun { run_uuid, lease, author })
}

/// Every run holding a Lease in `namespace`: its uuid and its Lease.
async fn leased_runs(
    client: &kube::Client,
    namespace: &str,
) -> Result<Vec<(String, Lease)>, String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let all = leases
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list the Leases in {namespace}: {}", api_error(&e)))?;
    Ok(all
        .items
        .into_iter()
        .filter_map(|l| {
            let run = l.metadata.name.as_deref()?.strip_prefix(LEASE_PREFIX)?.to_string();
            Some((run, l))
        })
        .collect())
}

/// The run of the Job `job` (namespace, name): [`job_of`] the other way round — the run whose
/// Lease's holder is a pod of that Job running as the Lease's author, so a Lease that merely
/// names the Job's pod is not taken for its run. `Ok(None)` while no run of it holds a Lease
/// (its pod has not started one yet, or the run has ended).
pub async fn find_job_run(
    client: &kube::Client,
    namespace: &str,
    job: (&str, &str),
    selector: &str,
) -> Result<Option<LeasedRun>, String> {
    let runs = leased_runs(client, namespace).await?;
    if runs.is_empty() {
        return Ok(None);
    }
    authors_checked(client, namespace).await?;
    let pods = game_day_pods(client, selector).await?;
    let mut found = Vec::new();
    for (run_uuid, lease) in runs {
        let Some(author) = author_of(&lease) else { continue };
        let run = LeasedRun { run_uuid, lease, author };
        // Another Job's run, or one started from a laptop: not this Job's, whatever the reason.
        if let Ok((ns, name)) = job_in(&pods, &run)
            && (ns.as_str(), name.as_str()) == job
        {
            found.push(run);
        }
    }
    if found.len() > 1 {
        let uuids: Vec<_> = found.iter().map(|r| printable(&r.run_uuid).into_owned()).collect();
        return Err(format!(
            "{} runs hold Leases from pods of Job {}/{}; name one: {}",
            found.len(),
            job.0,
            job.1,
            uuids.join(", ")
        ));
    }
    Ok(found.pop())
}

/// The Job (namespace, name) whose pod holds `run`'s Lease: the pod named by the Lease's holder
/// among the pods labelled `selector` (`chaosdeck job` labels its pods), owned by a Job, and
/// running as the run's author. The holder is the author's own text, so a pod that runs as
/// anyone else is never taken for it: a Lease cannot point `!` at another game day's Job.
pub async fn job_of(
    client: &kube::Client,
    run: &LeasedRun,
    selector: &str,
) -> Result<(String, String), String> {
    job_in(&game_day_pods(client, selector).await?, run)
}

/// The pods labelled `selector`, in every namespace.
async fn game_day_pods(client: &kube::Client, selector: &str) -> Result<Vec<Pod>, String> {
    let pods: Api<Pod> = Api::all(client.clone());
    let listed = pods
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| format!("cannot list the game days' pods ({})", api_error(&e)))?;
    Ok(listed.items)
}

/// [`job_of`] among `pods` already listed.
fn job_in(pods: &[Pod], run: &LeasedRun) -> Result<(String, String), String> {
    let host = run.host().ok_or("the run's Lease names no holder")?;
    let not_a_job = || format!("the run is on {host}, which is not a chaosdeck Job's pod");
    let runs_as = |pod: &Pod| {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let account = pod.spec.as_ref().and_then(|s| s.service_account_name.as_deref());
        format!("system:serviceaccount:{ns}:{}", account.unwrap_or("default"))
    };
    let named: Vec<&Pod> =
        pods.iter().filter(|p| p.metadata.name.as_deref() == Some(host.as_str())).collect();
    // Pods of that name may stand in several namespaces: the run's is the one running as it.
    let Some(pod) = named.iter().find(|p| runs_as(p) == run.author.username) else {
        let Some(other) = named.first() else { return Err(not_a_job()) };
        return Err(format!(
            "pod {}/{host} runs as {}, not as the run's author {}: its Job is not this run's",
            other.metadata.namespace.as_deref().unwrap_or_default(),
            printable(&runs_as(other)),
            printable(&run.author.username)
        ));
    };
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "Job" && o.api_version == "batch/v1" && o.controller == Some(true));
    owner.map(|o| (ns, o.name.clone())).ok_or_else(not_a_job)
}

/// `Ok` while the API server enforces who the author annotations name; otherwise why attach
/// must not act on them.
async fn authors_checked(client: &kube::Client, namespace: &str) -> Result<(), String> {
    let ops = crate::cluster::ClusterOps::new(client.clone());
    lease_and_mirror_policies_enforced(&ops, namespace).await.map_err(|why| {
        format!(
            "{why}. Without them the author a Lease or mirror names is whatever its writer put \
             there, and attach would undo as that identity; it acts on none"
        )
    })
}

fn author_of(lease: &Lease) -> Option<Caller> {
    let a = lease.metadata.annotations.as_ref()?;
    let user = a.get(mirror::AUTHOR_ANNOTATION).filter(|u| !u.is_empty())?;
    let groups = a.get(mirror::AUTHOR_GROUPS_ANNOTATION)?;
    Some(Caller::from_annotations(user, groups))
}

/// The local journal of one attached run.
pub struct Attached {
    pub run: LeasedRun,
    client: kube::Client,
    store: MirrorStore,
    journal: Journal,
    /// Mirrors already reported as not shown (said once).
    refused: BTreeSet<String>,
}

impl Attached {
    /// `client` reads the mirrors and the Lease (the operator's own rights).
    pub fn new(
        run: LeasedRun,
        client: kube::Client,
        namespace: &str,
        root: PathBuf,
    ) -> Result<Attached, String> {
        let journal = Journal::open(root).map_err(|e| e.to_string())?;
        let store = MirrorStore::new(client.clone(), namespace);
        Ok(Attached { run, client, store, journal, refused: BTreeSet::new() })
    }

    pub fn root(&self) -> &Path {
        self.journal.root()
    }

    /// The Lease as it is now (`None` once the run released it).
    pub async fn lease(&self) -> Result<Option<Lease>, String> {
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), self.store.namespace());
        let name = format!("{LEASE_PREFIX}{}", self.run.run_uuid);
        leases
            .get_opt(&name)
            .await
            .map_err(|e| format!("cannot read Lease {name}: {}", api_error(&e)))
    }

    /// The progress `lease` carries (`None`: none yet), if it is still the run's author's
    /// Lease: only the author and the watchdog may write it while the policies are in force.
    pub fn progress(&self, lease: &Lease) -> Option<Result<Progress, String>> {
        if author_of(lease).as_ref() != Some(&self.run.author) {
            return Some(Err(format!(
                "Lease of run {}: its author changed; its progress is not shown",
                self.run.run_uuid
            )));
        }
        let text = lease.metadata.annotations.as_ref()?.get(PROGRESS_ANNOTATION)?;
        Some(Progress::decode(text).map_err(|e| {
            format!("Lease of run {}: its progress is unreadable: {e}", self.run.run_uuid)
        }))
    }

    /// One round: new mirrors copied in, what the watchdog undid retired with who and when,
    /// copies whose mirror is gone (the run undid or retired them itself) retired too. The
    /// lines say what changed.
    pub async fn sync(&mut self) -> Result<Vec<String>, String> {
        // Asked each round: an admin may remove the policies while attach is open.
        authors_checked(&self.client, self.store.namespace()).await?;
        let mut lines = Vec::new();
        let mut mirrored: BTreeSet<PathBuf> = BTreeSet::new();
        for cm in self.store.list().await? {
            let Ok(m) = mirror::read(&cm) else { continue };
            if m.run_uuid != self.run.run_uuid {
                continue;
            }
            if m.author != self.run.author {
                if self.refused.insert(m.name.clone()) {
                    lines.push(format!(
                        "mirror {}: written by {}, not by the run's author {}; not shown (it \
                         would be undone with the author's rights)",
                        printable(&m.name),
                        printable(&m.author.username),
                        printable(&self.run.author.username)
                    ));
                }
                continue;
            }
            let Some((context, file)) = m.file.split_once('/') else { continue };
            mirrored.insert(self.root().join(context).join(file));
            if !matches!(m.state, MirrorState::Pending | MirrorState::Failed) {
                continue;
            }
            let text = cm.data.as_ref().and_then(|d| d.get(ENTRY_KEY)).cloned().unwrap_or_default();
            match self.journal.place_copy(context, file, text.as_bytes()) {
                Ok(true) => lines.push(format!(
                    "new entry ({}, {}): undo = {}",
                    printable(&m.entry.scenario_type),
                    printable(&m.entry.step),
                    m.entry.undo_summary()
                )),
                Ok(false) => {}
                Err(e) => {
                    if self.refused.insert(m.name.clone()) {
                        lines.push(format!("mirror {}: {e}", printable(&m.name)));
                    }
                }
            }
        }
        // What the watchdog undid: retired here with who and when, its mirror removed.
        let done = reconcile(&self.store, self.root(), Some(&self.run.run_uuid)).await?;
        lines.extend(done.lines.into_iter().filter(|l| l.contains(": undone by ")));
        for pending in pending_copies(self.root()) {
            if mirrored.contains(&pending) {
                continue;
            }
            // The run removes a mirror once its entry is undone or was never applied; anyone
            // who may delete ConfigMaps in the namespace could too, which nothing here can tell.
            let undone = UndoneBy {
                by: "the run itself".into(),
                at: jiff::Timestamp::now().to_string(),
                notes: "its mirror was removed, as the run does after its undo (not verified \
                        here)"
                    .into(),
            };
            let Some(dir) = pending.parent() else { continue };
            let marked = match lock_context(dir, DEFAULT_PATIENCE).await {
                Ok(lock) => lock.mark_undone_elsewhere(&pending, &undone),
                Err(e) => Err(e),
            };
            match marked {
                Ok(Marked::Renamed) => lines.push(format!(
                    "{}: its mirror is gone (the run undid or retired it); marked executed here",
                    pending.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
                )),
                Ok(Marked::AlreadyExecuted) => {}
                Err(e) => lines.push(format!("{}: {e}", pending.display())),
            }
        }
        Ok(lines)
    }
}

/// The pending entry files under `root` (`<context>/<file>.yaml`).
fn pending_copies(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(contexts) = std::fs::read_dir(root) else { return out };
    for ctx in contexts.flatten() {
        let Ok(files) = std::fs::read_dir(ctx.path()) else { continue };
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if parse_entry_file(&name).is_some_and(|n| !n.executed) {
                out.push(f.path());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn run(renewed_secs_ago: i64, taken_over: bool) -> LeasedRun {
        let at = jiff::Timestamp::now().as_second() - renewed_secs_ago;
        let at = k8s_openapi::jiff::Timestamp::from_second(at).unwrap();
        let mut lease = Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some("chaosdeck pid 1 on gd-1-x".into()),
                lease_duration_seconds: Some(30),
                renew_time: Some(MicroTime(at)),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        };
        if taken_over {
            lease.metadata.annotations = Some(
                [(super::super::lease::TAKEN_OVER_ANNOTATION.to_string(), "wd-1".to_string())]
                    .into(),
            );
        }
        LeasedRun {
            run_uuid: "r".into(),
            lease,
            author: Caller::from_annotations("system:serviceaccount:chaosdeck:chaosdeck", ""),
        }
    }

    fn pod(ns: &str, account: &str, job: Option<&str>) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "gd-1-x", "namespace": ns,
                "ownerReferences": job.map(|j| vec![serde_json::json!({"apiVersion": "batch/v1",
                    "kind": "Job", "name": j, "uid": "u", "controller": true})])},
            "spec": {"serviceAccountName": account, "containers": []}}))
        .unwrap()
    }

    #[test]
    fn a_runs_job_is_that_of_the_pod_running_as_its_author() {
        let r = run(1, false);
        let elsewhere = pod("other", "chaosdeck", Some("gd-other"));
        let its = pod("chaosdeck", "chaosdeck", Some("gd-1"));
        let job = job_in(&[elsewhere.clone(), its], &r).unwrap();
        assert_eq!(job, ("chaosdeck".to_string(), "gd-1".to_string()));
        let why = job_in(std::slice::from_ref(&elsewhere), &r).unwrap_err();
        assert!(why.contains("runs as system:serviceaccount:other:chaosdeck, not as"), "{why}");
        let bare = job_in(&[pod("chaosdeck", "chaosdeck", None)], &r).unwrap_err();
        assert!(bare.contains("not a chaosdeck Job's pod"), "{bare}");
        assert!(job_in(&[], &r).unwrap_err().contains("not a chaosdeck Job's pod"));
    }

    #[test]
    fn a_lease_says_when_its_progress_is_stale() {
        assert_eq!(run(1, false).stopped_renewing(), None);
        assert!(run(1, false).describe().ends_with("s ago"), "{}", run(1, false).describe());
        let silent = run(45, false);
        assert!(silent.stopped_renewing().is_some_and(|w| w.contains("not renewed")));
        assert!(silent.describe().contains("past its lease_duration"), "{}", silent.describe());
        let taken = run(1, true).stopped_renewing();
        assert!(taken.is_some_and(|w| w.contains("taken over by the watchdog")), "{taken:?}");
        assert_eq!(run(1, false).host().as_deref(), Some("gd-1-x"));
    }
}
