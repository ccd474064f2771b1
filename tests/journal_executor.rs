//! The executor against the sandbox and a real control plane over real HTTP: LIFO,
//! idempotence, uid and guard preconditions, failures kept pending, re-creation from snapshots,
//! one executor per entry. Cluster state is checked with kube-rs's typed API, a client
//! chaosdeck did not write.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chaosdeck::cluster::ClusterOps;
use chaosdeck::journal::entry::ENTRY_LABEL;
use chaosdeck::journal::executor::{self, ExecuteOptions, Outcome};
use chaosdeck::journal::lock::lock_context;
use chaosdeck::journal::{EntryDraft, EntryState, Filter, Journal, ObjectRef, UndoAction, scan};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::cluster::{Seed, Target, TestCluster};

struct Env {
    cluster: TestCluster,
    ops: ClusterOps,
    dir: tempfile::TempDir,
    /// The cluster's identity, recorded in every entry as the engine does.
    identity: chaosdeck::refs::ClusterIdentity,
}

async fn env(target: Target) -> Env {
    env_seeded(target, Seed::Empty).await
}

async fn env_seeded(target: Target, seed: Seed) -> Env {
    let cluster = TestCluster::start(target, seed).await;
    let ops = ClusterOps::new(cluster.client());
    let identity = chaosdeck::cluster::identify(
        &cluster.client(),
        &support::cluster::cluster_target(&cluster),
    )
    .await;
    Env { cluster, ops, dir: tempfile::tempdir().unwrap(), identity }
}

impl Env {
    /// A typed API on namespace `default` (kube-rs, not chaosdeck's client).
    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.cluster.client(), "default")
    }

    async fn exists<K>(&self, name: &str) -> bool
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        self.api::<K>().get_opt(name).await.unwrap().is_some()
    }

    async fn selector(&self, service: &str) -> Value {
        let svc = self.api::<Service>().get(service).await.unwrap();
        serde_json::to_value(svc.spec.and_then(|s| s.selector)).unwrap()
    }

    /// A merge patch as a person would make it, outside chaosdeck.
    async fn human_patch(&self, service: &str, patch: Value) {
        self.api::<Service>()
            .patch(service, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }

    async fn create(&self, object: Value) -> DynamicObject {
        self.ops.create(&object).await.unwrap().expect("created")
    }

    fn journal(&self) -> Journal {
        Journal::open(self.dir.path().join("rollback")).unwrap().for_cluster(self.identity.clone())
    }

    /// Copies Krkn file `name` of context `context` from tests/data/krkn into the journal;
    /// returns the context's directory there.
    fn krkn_file(&self, context: &str, name: &str) -> std::path::PathBuf {
        let dir = self.journal().root().join(context);
        std::fs::create_dir_all(&dir).unwrap();
        let from = support::krkn_data().join("rollback").join(context).join(name);
        std::fs::copy(from, dir.join(name)).unwrap();
        dir
    }

    async fn execute_all(&self) -> Vec<chaosdeck::journal::executor::EntryOutcome> {
        let tree = scan(self.journal().root()).unwrap();
        let selected = executor::select(&tree, &Filter::default());
        executor::execute(&self.ops, &selected, ExecuteOptions::default(), |_| {}).await
    }
}

fn netpol(name: &str, entry_id: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "default", "labels": {ENTRY_LABEL: entry_id}},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress", "Egress"]}
    })
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

fn delete(
    kind_api: (&str, &str),
    name: &str,
    uid: Option<String>,
    labels: &[(&str, &str)],
) -> UndoAction {
    UndoAction::Delete {
        target: ObjectRef::new(kind_api.1, kind_api.0, Some("default"), name),
        uid,
        require_labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn draft(step: &str, undo: Vec<UndoAction>) -> EntryDraft {
    EntryDraft {
        scenario_type: "application_outages_scenarios".into(),
        scenario_file: None,
        step: step.into(),
        undo,
    }
}

crate::on_both_targets! {
    async fn delete_undo_removes_exactly_the_created_object_and_is_idempotent(target) {
        let env = env(target).await;
        let journal = env.journal();
        let ctx = journal.begin_context("run-del").unwrap();
        let name = ctx.mint("application_outages_scenarios");
        let id = name.id();
        // Write-ahead: the entry is on disk before the object exists, and the change is in
        // flight (the context locked) until its uid is recorded.
        let held = ctx.begin_change().await.unwrap();
        let mut written = held
            .write(
                name,
                draft(
                    "deny traffic",
                    vec![delete(
                        ("NetworkPolicy", "networking.k8s.io/v1"),
                        "deny-a",
                        None,
                        &[(ENTRY_LABEL, &id)],
                    )],
                ),
            )
            .unwrap();
        let created = env.create(netpol("deny-a", &id)).await;
        held.amend(&mut written, |e| {
            if let UndoAction::Delete { uid, .. } = &mut e.undo[0] {
                *uid = created.metadata.uid.clone();
            }
        })
        .unwrap();
        drop(held);
        assert!(env.exists::<NetworkPolicy>("deny-a").await);

        let outcomes = env.execute_all().await;
        assert!(
            matches!(&outcomes[0].outcome, Outcome::Executed { notes } if notes.is_empty()),
            "{outcomes:?}"
        );
        assert!(!env.exists::<NetworkPolicy>("deny-a").await);
        assert!(!written.path.exists());
        assert!(Path::new(&format!("{}.executed", written.path.display())).exists());

        // Idempotent: executing the same undo again (e.g. after a crash before the rename) is done.
        let again = chaosdeck::journal::executor::apply_entry(&env.ops, &written.entry).await.unwrap();
        assert!(again[0].contains("already gone"), "{again:?}");
        env.cluster.shutdown().await;
    }
}

crate::on_both_targets! {
    async fn a_same_named_stranger_is_never_deleted(target) {
        let env = env(target).await;
        let journal = env.journal();
        let ctx = journal.begin_context("run-uid").unwrap();
        let ours = env.create(pod("web-0")).await;
        ctx.write(
            ctx.mint("pod_disruption_scenarios"),
            draft("made pod", vec![delete(("Pod", "v1"), "web-0", ours.metadata.uid.clone(), &[])]),
        )
        .unwrap();
        // Someone else deletes it and creates their own web-0.
        let pods: Api<DynamicObject> = Api::namespaced_with(
            env.cluster.client(),
            "default",
            &kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&()),
        );
        pods.delete("web-0", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() })
            .await
            .unwrap();
        // The deletion is asynchronous in the sandbox: wait for it, the deadline only a hang guard.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while env
            .ops
            .get(&ObjectRef::new("v1", "Pod", Some("default"), "web-0"))
            .await
            .unwrap()
            .is_some()
        {
            assert!(tokio::time::Instant::now() < deadline, "web-0 was never deleted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let theirs: DynamicObject = serde_json::from_value(pod("web-0")).unwrap();
        pods.create(&PostParams::default(), &theirs).await.unwrap();

        let outcomes = env.execute_all().await;
        assert!(
            matches!(&outcomes[0].outcome, Outcome::Executed { notes } if notes[0].contains("left alone")),
            "{outcomes:?}"
        );
        assert!(env.exists::<Pod>("web-0").await, "the stranger must survive");
        env.cluster.shutdown().await;
    }
}

crate::on_both_targets! {
    async fn guarded_patch_refuses_to_clobber_a_later_edit_and_others_still_run(target) {
        let env = env(target).await;
        env.create(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}))
        .await;
        let journal = env.journal();
        let ctx = journal.begin_context("run-patch").unwrap();
        // Older entry: a configmap to delete. Newer entry: the hijacked selector to restore.
        env.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "plan", "namespace": "default", "labels": {ENTRY_LABEL: "plan"}}})).await;
        ctx.write(
            ctx.mint("service_hijacking_scenarios"),
            draft("plan", vec![delete(("ConfigMap", "v1"), "plan", None, &[(ENTRY_LABEL, "plan")])]),
        )
        .unwrap();
        let svc = ObjectRef::new("v1", "Service", Some("default"), "web");
        let patch_entry = ctx
            .write(
                ctx.mint("service_hijacking_scenarios"),
                draft(
                    "hijack",
                    vec![UndoAction::Patch {
                        target: svc.clone(),
                        restore: json!({"spec": {"selector": {"app": "web", "hijack": null}}}),
                        guard: json!({"spec": {"selector": {"hijack": "sh-1"}}}),
                    }],
                ),
            )
            .unwrap();
        env.ops
            .merge_patch(&svc, &json!({"spec": {"selector": {"app": null, "hijack": "sh-1"}}}))
            .await
            .unwrap();
        // A human edits the selector after chaosdeck did.
        env.human_patch("web", json!({"spec": {"selector": {"hijack": "human"}}})).await;

        let outcomes = env.execute_all().await;
        assert_eq!(outcomes.len(), 2);
        // LIFO: the newer patch entry first; it fails, the configmap entry still runs (Krkn D5).
        assert!(
            matches!(&outcomes[0].outcome, Outcome::Failed { error } if error.contains("changed after chaosdeck set it")),
            "{outcomes:?}"
        );
        assert!(matches!(outcomes[1].outcome, Outcome::Executed { .. }), "{outcomes:?}");
        assert!(!env.exists::<ConfigMap>("plan").await);
        let selector = env.selector("web").await;
        assert_eq!(selector["hijack"], "human", "the human's edit stays: {selector}");
        // Never marked executed (Krkn D4); the error is recorded beside it.
        assert!(patch_entry.path.exists());
        let tree = scan(journal.root()).unwrap();
        let failed = tree.entries().find(|(_, e)| e.path == patch_entry.path).unwrap().1;
        assert_eq!(failed.state, EntryState::Failed);
        assert!(failed.last_error.as_ref().unwrap().error.contains("/spec/selector/hijack"));

        // The human puts chaosdeck's value back; the undo now goes through and clears the record.
        env.human_patch("web", json!({"spec": {"selector": {"hijack": "sh-1"}}})).await;
        let outcomes = env.execute_all().await;
        assert!(matches!(outcomes[0].outcome, Outcome::Executed { .. }), "{outcomes:?}");
        assert_eq!(env.selector("web").await, json!({"app": "web"}));
        assert!(!Path::new(&format!("{}.error", patch_entry.path.display())).exists());
        env.cluster.shutdown().await;
    }
}

/// A Service `settings` in namespace default whose selector holds `mode` (a selector is what
/// chaos patches, so its undo is one chaosdeck writes).
fn settings(mode: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "settings", "namespace": "default"},
           "spec": {"selector": {"mode": mode}, "ports": [{"port": 80}]}})
}

fn settings_ref() -> ObjectRef {
    ObjectRef::new("v1", "Service", Some("default"), "settings")
}

/// Sets the selector's mode as chaos (or a human) would.
async fn set_mode(env: &Env, mode: &str) {
    env.ops
        .merge_patch(&settings_ref(), &json!({"spec": {"selector": {"mode": mode}}}))
        .await
        .unwrap();
}

async fn mode(env: &Env) -> Value {
    env.selector("settings").await["mode"].clone()
}

fn settings_patch(restore: &str, guard: &str) -> UndoAction {
    UndoAction::Patch {
        target: settings_ref(),
        restore: json!({"spec": {"selector": {"mode": restore}}}),
        guard: json!({"spec": {"selector": {"mode": guard}}}),
    }
}

crate::on_both_targets! {
    async fn an_older_entry_waits_behind_a_newer_one_on_its_object_that_was_not_undone(target) {
        let env = env(target).await;
        env.create(settings("safe")).await;
        let journal = env.journal();
        let ctx = journal.begin_context("run-blocked").unwrap();
        // Chaos sets the selector three times. Undone newest first: locked, chaos, mid.
        let mut written = Vec::new();
        for (restore, set) in [("safe", "mid"), ("mid", "chaos"), ("chaos", "locked")] {
            written.push(
                ctx.write(ctx.mint("service_hijacking_scenarios"), draft(set, vec![settings_patch(restore, set)]))
                    .unwrap(),
            );
            set_mode(&env, set).await;
        }
        // Someone edits the selector after chaosdeck: the newest undo refuses to clobber it.
        set_mode(&env, "human").await;

        let outcomes = env.execute_all().await;
        assert!(matches!(&outcomes[0].outcome, Outcome::Failed { .. }), "{outcomes:?}");
        // Restoring the older values would undo what the newest entry still sits on. Both
        // wait, pending, naming the entry they wait for.
        let newest = &written[2];
        for blocked in &outcomes[1..] {
            assert!(
                matches!(&blocked.outcome, Outcome::Blocked { reason } if reason.contains(&newest.name.pending_file_name())),
                "{outcomes:?}"
            );
        }
        assert!(written[0].path.exists() && written[1].path.exists(), "blocked entries stay pending");
        assert_eq!(executor::Tally::of(&outcomes).blocked, 2);
        assert_eq!(mode(&env).await, "human", "nothing was applied over the edit");

        // The edit is put back: all three run, newest first, and the original is back.
        set_mode(&env, "locked").await;
        let outcomes = env.execute_all().await;
        assert!(outcomes.iter().all(|o| matches!(o.outcome, Outcome::Executed { .. })), "{outcomes:?}");
        assert_eq!(mode(&env).await, "safe");
        env.cluster.shutdown().await;
    }

    async fn entries_of_runs_that_overlap_in_time_are_undone_newest_first(target) {
        let env = env(target).await;
        env.create(settings("orig")).await;
        let journal = env.journal();
        // Run A starts first, run B second; B changes `settings` first, A changes it after.
        let a = journal.begin_context("run-a").unwrap();
        let b = journal.begin_context("run-b").unwrap();
        b.write(b.mint("service_hijacking_scenarios"), draft("b", vec![settings_patch("orig", "b")])).unwrap();
        set_mode(&env, "b").await;
        a.write(a.mint("service_hijacking_scenarios"), draft("a", vec![settings_patch("b", "a")])).unwrap();
        set_mode(&env, "a").await;

        // Newest first is A's entry (written last), although A's context is the older one.
        let outcomes = env.execute_all().await;
        assert!(outcomes.iter().all(|o| matches!(o.outcome, Outcome::Executed { .. })), "{outcomes:?}");
        assert_eq!(mode(&env).await, "orig");
        env.cluster.shutdown().await;
    }
}

crate::on_both_targets! {
    async fn create_undo_recreates_a_deleted_bare_pod_once(target) {
        let env = env(target).await;
        let before = env.create(pod("solo")).await;
        let snapshot = serde_json::to_value(&before).unwrap();
        let journal = env.journal();
        let ctx = journal.begin_context("run-create").unwrap();
        ctx.write(
            ctx.mint("pod_disruption_scenarios"),
            draft("deleted bare pod", vec![UndoAction::Create { object: snapshot.clone() }]),
        )
        .unwrap();
        let now = DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
        env.api::<Pod>().delete("solo", &now).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while env.exists::<Pod>("solo").await {
            assert!(tokio::time::Instant::now() < deadline, "solo was never deleted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let outcomes = env.execute_all().await;
        assert!(matches!(outcomes[0].outcome, Outcome::Executed { .. }), "{outcomes:?}");
        let uid = env.api::<Pod>().get("solo").await.unwrap().metadata.uid.unwrap_or_default();
        assert!(
            !uid.is_empty() && uid != before.metadata.uid.clone().unwrap(),
            "re-created with a new uid: {uid}"
        );
        env.cluster.shutdown().await;
    }
}

crate::on_both_targets! {
    async fn two_processes_never_execute_the_same_entry_twice(target) {
        let env = env(target).await;
        let journal = env.journal();
        let total = 24;
        for c in 0..3 {
            let ctx = journal.begin_context(&format!("run-lock-{c}")).unwrap();
            for i in 0..total / 3 {
                let name = format!("cm-{c}-{i}");
                env.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": "default", "labels": {ENTRY_LABEL: name}}})).await;
                ctx.write(
                    ctx.mint("hog_scenarios"),
                    draft(&name, vec![delete(("ConfigMap", "v1"), &name, None, &[(ENTRY_LABEL, &name)])]),
                )
                .unwrap();
            }
        }
        // Hold every context's lock (the library's own, whatever its mechanism) while both
        // processes start, so both have scanned and planned all 24 entries before either can
        // execute one: they really overlap, on every context.
        let contexts: Vec<std::path::PathBuf> =
            scan(journal.root()).unwrap().contexts.iter().map(|c| c.path.clone()).collect();
        let mut held = Vec::new();
        for dir in &contexts {
            held.push(lock_context(dir, Duration::from_secs(5)).await.unwrap());
        }
        let bin = assert_cmd::cargo::cargo_bin("chaosdeck");
        let spawn = || {
            Command::new(&bin)
                .args(["execute-rollback", "--dir"])
                .arg(journal.root())
                .arg("--kubeconfig")
                .arg(env.cluster.kubeconfig())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for child in [&a, &b] {
            wait_until_waiting_for_a_lock(child.id(), &contexts);
        }
        drop(held);
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        assert!(a.status.success() && b.status.success());
        let text =
            format!("{}{}", String::from_utf8_lossy(&a.stdout), String::from_utf8_lossy(&b.stdout));
        let executed: Vec<&str> = text.lines().filter(|l| l.starts_with("executed  ")).collect();
        let mut files: Vec<&str> =
            executed.iter().map(|l| l.split_whitespace().nth(1).unwrap()).collect();
        files.sort();
        files.dedup();
        assert_eq!(files.len(), executed.len(), "an entry was executed twice:\n{text}");
        assert_eq!(executed.len(), total, "{text}");
        // Both planned every entry, so whichever came second to a context found its entries done.
        let already = text.lines().filter(|l| l.contains("already executed by another process"));
        assert_eq!(already.count(), total, "the second process must skip each entry:\n{text}");
        let tree = scan(journal.root()).unwrap();
        assert_eq!(tree.outstanding(), 0);
        assert!(tree.entries().all(|(_, e)| e.state == EntryState::Executed && e.last_error.is_none()));
        let left = env.api::<ConfigMap>().list(&Default::default()).await.unwrap();
        let left: Vec<_> = left.items.into_iter().filter_map(|c| c.metadata.name).collect();
        assert!(!left.iter().any(|n| n.starts_with("cm-")), "{left:?}");
        env.cluster.shutdown().await;
    }
}

/// Waits until process `pid` holds a descriptor on one of `contexts` (its lock file or the
/// directory itself) in two polls in a row: it has scanned the journal and is waiting for a
/// context lock. The scan opens directories only for an instant, so it does not count twice.
fn wait_until_waiting_for_a_lock(pid: u32, contexts: &[std::path::PathBuf]) {
    let fds = std::path::PathBuf::from(format!("/proc/{pid}/fd"));
    let holds_one = || {
        std::fs::read_dir(&fds).into_iter().flatten().flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                contexts.iter().any(|c| target == *c || target.parent() == Some(c.as_path()))
            })
        })
    };
    // Only a hang guard: the event normally comes within milliseconds of the start.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < 2 {
        assert!(std::time::Instant::now() < deadline, "process {pid} never waited for a lock");
        seen = if holds_one() { seen + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(50));
    }
}

crate::on_both_targets! {
    async fn execute_rollback_cli_exit_codes(target) {
        let env = env(target).await;
        let journal = env.journal();
        let ctx = journal.begin_context("run-cli").unwrap();
        env.create(netpol("deny-cli", "x")).await;
        let ok_entry = ctx
            .write(
                ctx.mint("application_outages_scenarios"),
                draft(
                    "deny",
                    vec![delete(
                        ("NetworkPolicy", "networking.k8s.io/v1"),
                        "deny-cli",
                        None,
                        &[(ENTRY_LABEL, "x")],
                    )],
                ),
            )
            .unwrap();
        // A selector someone changed after chaosdeck: that undo fails and stays pending.
        env.create(settings("human")).await;
        let bad = ctx
            .write(ctx.mint("service_hijacking_scenarios"), draft("odd", vec![settings_patch("orig", "chaos")]))
            .unwrap();
        let out = assert_cmd::Command::cargo_bin("chaosdeck")
            .unwrap()
            .args(["execute-rollback", "--dir"])
            .arg(journal.root())
            .arg("--kubeconfig")
            .arg(env.cluster.kubeconfig())
            .assert()
            .code(1);
        let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(text.contains("1 executed, 1 failed"), "{text}");
        assert!(!ok_entry.path.exists() && bad.path.exists());
        assert!(!env.exists::<NetworkPolicy>("deny-cli").await);
        // Executing just the good one by --file: nothing left to do for it, exit 2 (not pending).
        assert_cmd::Command::cargo_bin("chaosdeck")
            .unwrap()
            .args(["execute-rollback", "--file"])
            .arg(&ok_entry.path)
            .arg("--kubeconfig")
            .arg(env.cluster.kubeconfig())
            .assert()
            .code(2);
        env.cluster.shutdown().await;
    }
}

/// The TUI's `x`/`!` and the engine's emergency rollback hand every outstanding entry to
/// `execute`, Krkn files that need a cloud included: such a file is
/// skipped and stays pending, as `execute-rollback` reports it, not failed. (No cluster state
/// is involved: the sandbox only.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_krkn_file_left_to_krkn_is_skipped_by_execute_not_failed() {
    let env = env(Target::Sandbox).await;
    let context = "1796041208154721140-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5";
    let name = "zone_outages_scenarios_1796041200284719033_qzkwtmvb.py";
    let dir = env.krkn_file(context, name);
    let outcomes = env.execute_all().await;
    assert!(
        matches!(&outcomes[..], [o] if matches!(&o.outcome, Outcome::Skipped { still_pending: true, reason } if reason.contains("not executable here"))),
        "{outcomes:?}"
    );
    assert!(dir.join(name).exists(), "left pending for Krkn");
    env.cluster.shutdown().await;
}

/// Krkn's PVC fill file (`rollback_temp_file`) runs natively through exec: exactly the file it
/// names is removed from the pod's claim, and the file is marked executed. Before that, with
/// the pod gone, it stays pending and says why (Krkn records no claim to look through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn krkns_pvc_fill_file_removes_its_file_through_exec() {
    use chaosdeck::cluster::exec::{ContainerPath, ContainerTarget, DiskUsage, ExecCommand};
    use k8s_openapi::api::core::v1::Namespace;
    let env = env_seeded(Target::Sandbox, Seed::Demo).await;
    let context = "1796041207790014317-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5";
    let name = "pvc_scenarios_1796041200284719033_qzkwtmvb.py";
    let dir = env.krkn_file(context, name);
    let outcomes = env.execute_all().await;
    assert!(
        matches!(&outcomes[..], [o] if matches!(&o.outcome, Outcome::Failed { error } if error.contains("the pod does not exist") && error.contains("names no claim"))),
        "{outcomes:?}"
    );
    assert!(dir.join(name).exists(), "pending while its pod is missing");

    let client = env.cluster.client();
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ledger"}});
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &serde_json::from_value(ns).unwrap())
        .await
        .unwrap();
    support::volumes::claim(&env.cluster, "ledger", "pgdata", "1Gi").await;
    let on = ("postgres", "/var/lib/postgresql");
    support::volumes::pod_on_claim(&env.cluster, "ledger", "ledger-db-0", on, "pgdata", &[]).await;
    let target = ContainerTarget {
        namespace: "ledger".into(),
        pod: "ledger-db-0".into(),
        container: "postgres".into(),
        uid: None,
        restarts: None,
    };
    let mount = ContainerPath::parse("/var/lib/postgresql").unwrap();
    let fill = ExecCommand::allocate(mount.join("kraken.tmp").unwrap(), 512 << 20);
    let keep = ExecCommand::allocate(mount.join("base.db").unwrap(), 1 << 20);
    for command in [fill, keep] {
        let (_, out) = env.ops.exec(&target, &command, Duration::from_secs(5)).await.unwrap();
        assert_eq!(out.code, 0, "{out:?}");
    }
    let outcomes = env.execute_all().await;
    assert!(
        matches!(&outcomes[..], [o] if matches!(o.outcome, Outcome::Executed { .. })),
        "{outcomes:?}"
    );
    assert!(!dir.join(name).exists() && dir.join(format!("{name}.executed")).exists());
    let df = ExecCommand::disk_usage(mount.clone());
    let (_, out) = env.ops.exec(&target, &df, Duration::from_secs(5)).await.unwrap();
    assert_eq!(DiskUsage::parse(&out.stdout).unwrap().used, 1 << 20, "only kraken.tmp went");
    env.cluster.shutdown().await;
}

/// A scenario undoing its own change on normal completion records a failed undo beside the
/// entry like the executor does, so the entry lists as failed (not merely pending) when nothing
/// rolls it back afterwards. (Journal bookkeeping: the sandbox only.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_revert_of_a_scenarios_own_change_is_recorded_beside_its_entry() {
    let env = env(Target::Sandbox).await;
    env.create(settings("safe")).await;
    let journal = env.journal();
    let ctx = journal.begin_context("run-revert").unwrap();
    let written = ctx
        .write(
            ctx.mint("service_hijacking_scenarios"),
            draft("mode", vec![settings_patch("safe", "chaos")]),
        )
        .unwrap();
    set_mode(&env, "chaos").await;
    set_mode(&env, "human").await;

    let error = executor::revert_own(&env.ops, &written.path, &written.entry).await.unwrap_err();
    assert!(error.contains("changed after chaosdeck set it"), "{error}");
    let tree = scan(journal.root()).unwrap();
    let node = tree.entries().find(|(_, e)| e.path == written.path).unwrap().1;
    assert_eq!(node.state, EntryState::Failed);
    assert!(node.last_error.as_ref().unwrap().error.contains("changed after chaosdeck set it"));
    env.cluster.shutdown().await;
}

/// A scenario's revert of its own change runs the same per-entry protocol as every other undo,
/// the cluster check included: an entry made on another cluster is refused on revert as the
/// executor refuses it, recorded beside the entry, and nothing is deleted here. (Before, the
/// revert skipped the check and deleted the Pod of that name on whichever cluster it talked to.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenarios_revert_refuses_what_the_executor_refuses() {
    let env = env(Target::Sandbox).await;
    let here = env.create(pod("web-0")).await;
    let uid = here.metadata.uid.clone();
    let elsewhere = chaosdeck::refs::ClusterIdentity {
        context: "prod-eu".into(),
        server: "https://prod-eu.example:6443".into(),
        kube_system_uid: Some("3f9c1d9e-0000-4000-8000-000000000001".into()),
    };
    let journal = Journal::open(env.dir.path().join("rollback")).unwrap().for_cluster(elsewhere);
    let ctx = journal.begin_context("run-revert-cluster").unwrap();
    let written = ctx
        .write(
            ctx.mint("application_outages_scenarios"),
            draft("created Pod default/web-0", vec![delete(("Pod", "v1"), "web-0", uid, &[])]),
        )
        .unwrap();
    let ops = ClusterOps::identified(env.cluster.client(), env.identity.clone(), false);

    let error = executor::revert_own(&ops, &written.path, &written.entry).await.unwrap_err();
    assert!(error.contains("made on another cluster"), "{error}");
    assert!(env.exists::<Pod>("web-0").await, "the revert deleted a Pod on the wrong cluster");
    let tree = scan(journal.root()).unwrap();
    let node = tree.entries().find(|(_, e)| e.path == written.path).unwrap().1;
    assert_eq!(node.state, EntryState::Failed, "refused, recorded, still outstanding");
    // The executor says the same about the same file.
    let selected = executor::select(&tree, &Filter::default());
    let outcomes = executor::execute(&ops, &selected, ExecuteOptions::default(), |_| {}).await;
    assert!(
        matches!(&outcomes[0].outcome, Outcome::Refused { reason } if reason.contains("made on another cluster")),
        "{outcomes:?}"
    );
    env.cluster.shutdown().await;
}

/// The race a re-create can meet on any cluster: the create is answered 409 because the old
/// object is still terminating, and the object is gone by the time the executor reads it. The
/// test serves the sandbox's own router behind a hook that finishes the termination (as the
/// kubelet would) right after the 409 and before the answer leaves, so the window is hit on
/// every run. The pod must be re-created, not reported as "already exists" while absent.
#[tokio::test]
async fn a_recreate_whose_conflicting_object_vanishes_before_the_read_creates_it() {
    use axum::extract::Request;
    use axum::http::{Method, StatusCode};
    use axum::middleware::Next;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    // A slow kubelet: the deleted pod stays terminating until the hook ends it.
    let (sandbox, pods) = demo_sandbox(Duration::from_secs(120)).await;
    let spec = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "solo", "namespace": "default"},
        "spec": {"nodeName": "sandbox-worker-1", "terminationGracePeriodSeconds": 30,
                 "containers": [{"name": "c", "image": "busybox"}]}});
    let spec: Pod = serde_json::from_value(spec).unwrap();
    let before = pods.create(&PostParams::default(), &spec).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("rollback")).unwrap();
    let ctx = journal.begin_context("run-race").unwrap();
    ctx.write(
        ctx.mint("pod_disruption_scenarios"),
        draft(
            "deleted pod",
            vec![UndoAction::Create { object: serde_json::to_value(&before).unwrap() }],
        ),
    )
    .unwrap();
    pods.delete("solo", &DeleteParams::default()).await.unwrap();
    let terminating = pods.get("solo").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some(), "solo is terminating");

    let fired = Arc::new(AtomicBool::new(false));
    let hook = {
        let (fired, pods) = (fired.clone(), pods.clone());
        move |request: Request, next: Next| {
            let fired = fired.clone();
            let pods = pods.clone();
            async move {
                let create =
                    request.method() == Method::POST && request.uri().path().ends_with("/pods");
                let response = next.run(request).await;
                if create
                    && response.status() == StatusCode::CONFLICT
                    && !fired.swap(true, Ordering::SeqCst)
                {
                    let now = DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
                    pods.delete("solo", &now).await.unwrap();
                }
                response
            }
        }
    };
    let (hooked, server) = serve_behind(sandbox.router(), hook).await;

    let tree = scan(journal.root()).unwrap();
    let selected = executor::select(&tree, &Filter::default());
    let outcomes =
        executor::execute(&ClusterOps::new(hooked), &selected, ExecuteOptions::default(), |_| {})
            .await;
    assert!(fired.load(Ordering::SeqCst), "the create met the terminating pod (409)");
    assert!(
        matches!(&outcomes[0].outcome, Outcome::Executed { notes } if notes.is_empty()),
        "{outcomes:?}"
    );
    let after = pods.get("solo").await.unwrap();
    assert!(after.metadata.deletion_timestamp.is_none(), "a live pod, not the old one");
    assert_ne!(after.metadata.uid, before.metadata.uid, "re-created with a new uid");
    server.abort();
    sandbox.shutdown().await;
}

/// The attack: an entry (a file in the journal, or a mirror) whose removal names a file that
/// is not a fill — here a key the pod keeps on its claim — with the key's name as its "tag".
/// The tag rule alone admits it; the executor refuses any chaosdeck removal that is not a
/// `chaosdeck-fill-<tag>.tmp`, and the key stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_cannot_remove_a_file_chaosdeck_did_not_write() {
    use chaosdeck::cluster::exec::{ContainerPath, ContainerTarget, ExecCommand};
    use chaosdeck::journal::placed_file::PlacedFile;
    let env = env_seeded(Target::Sandbox, Seed::Demo).await;
    support::volumes::claim(&env.cluster, "payments", "certs", "1Gi").await;
    let on = ("web", "/etc/ssl");
    support::volumes::pod_on_claim(&env.cluster, "payments", "web-0", on, "certs", &[]).await;
    let target = ContainerTarget {
        namespace: "payments".into(),
        pod: "web-0".into(),
        container: "web".into(),
        uid: None,
        restarts: None,
    };
    let key = ContainerPath::parse("/etc/ssl/server.key").unwrap();
    let place = ExecCommand::allocate(key.clone(), 4096);
    assert_eq!(env.ops.exec(&target, &place, Duration::from_secs(5)).await.unwrap().1.code, 0);
    let journal = env.journal();
    let ctx = journal.begin_context("run-forged").unwrap();
    let forged = EntryDraft {
        scenario_type: "pvc_scenarios".into(),
        scenario_file: None,
        step: "filled claim payments/certs".into(),
        undo: vec![UndoAction::RemoveFile {
            file: PlacedFile {
                container: target.clone(),
                claim: Some("certs".into()),
                mount_path: ContainerPath::parse("/etc/ssl").unwrap(),
                path: key.clone(),
                tag: "server.key".into(),
                bytes: 0,
            },
        }],
    };
    ctx.write(ctx.mint("pvc_scenarios"), forged).unwrap();
    let outcomes = env.execute_all().await;
    assert!(
        matches!(&outcomes[..], [o] if matches!(&o.outcome, Outcome::Refused { reason } if reason.contains("names a file chaosdeck does not write"))),
        "{outcomes:?}"
    );
    let stat = ExecCommand::list(key);
    let (_, out) = env.ops.exec(&target, &stat, Duration::from_secs(5)).await.unwrap();
    assert_eq!(out.code, 0, "the key is still there: {out:?}");
    env.cluster.shutdown().await;
}

/// The race a helper's undo can meet on any cluster: the helper reaches its deadline, removes
/// its fault and exits 0 between the undo's read of its pod (running) and the exec (the pod now
/// says Succeeded). That is the helper's word that its fault is gone, so the entry is executed
/// and the pod deleted; an exit code other than 0 there keeps the entry pending. The hook ends
/// the container (as the kubelet reports it) right before the exec's own read, on every run.
#[tokio::test]
async fn a_helper_that_ends_as_its_undo_reaches_it_is_taken_at_its_exit_code() {
    use axum::extract::Request;
    use axum::http::Method;
    use axum::middleware::Next;
    use chaosdeck::journal::undo::helper_pod_name;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    for code in [0, 1] {
        let (sandbox, pods) = demo_sandbox(Duration::from_millis(50)).await;
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path().join("rollback")).unwrap();
        let ctx = journal.begin_context("run-helper-race").unwrap();
        let name = ctx.mint("network_chaos_ng_scenarios");
        let tag = name.id();
        let pod_name = helper_pod_name(&tag);
        let spec = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": "default", "labels": {ENTRY_LABEL: tag}},
            "spec": {"nodeName": "sandbox-worker-1", "restartPolicy": "Never",
                     "containers": [{"name": "helper", "image": "chaosdeck",
                                     "command": ["sleep", "3600"]}]}});
        let created =
            pods.create(&PostParams::default(), &serde_json::from_value(spec).unwrap()).await;
        let uid = created.unwrap().metadata.uid;
        let running = support::world::until(Duration::from_secs(10), async || {
            let pod = pods.get(&pod_name).await.unwrap();
            pod.status.and_then(|s| s.phase).as_deref() == Some("Running")
        })
        .await;
        assert!(running.is_some(), "the helper pod runs");
        let helper = ObjectRef::new("v1", "Pod", Some("default"), &pod_name);
        let undo = UndoAction::StopHelper {
            helper,
            uid,
            tag: tag.clone(),
            fault: "netem delay 300ms on eth0 of pod default/web".into(),
        };
        ctx.write(name, draft("netem on pod default/web", vec![undo])).unwrap();

        let reads = Arc::new(AtomicUsize::new(0));
        let hook = {
            let (reads, pods, pod_name) = (reads.clone(), pods.clone(), pod_name.clone());
            move |request: Request, next: Next| {
                let (reads, pods, pod_name) = (reads.clone(), pods.clone(), pod_name.clone());
                async move {
                    let read = request.method() == Method::GET
                        && request.uri().path().ends_with(&format!("/pods/{pod_name}"));
                    // The second read is the exec's check of the container.
                    if read && reads.fetch_add(1, Ordering::SeqCst) == 1 {
                        let ended = json!({"status": {
                            "phase": if code == 0 { "Succeeded" } else { "Failed" },
                            "containerStatuses": [{
                                "name": "helper", "ready": false, "restartCount": 0,
                                "image": "chaosdeck", "imageID": "",
                                "state": {"terminated": {"exitCode": code}},
                            }],
                        }});
                        pods.patch_status(
                            &pod_name,
                            &PatchParams::default(),
                            &Patch::Merge(&ended),
                        )
                        .await
                        .unwrap();
                    }
                    next.run(request).await
                }
            }
        };
        let (hooked, server) = serve_behind(sandbox.router(), hook).await;

        let tree = scan(journal.root()).unwrap();
        let selected = executor::select(&tree, &Filter::default());
        let outcomes = executor::execute(
            &ClusterOps::new(hooked),
            &selected,
            ExecuteOptions::default(),
            |_| {},
        )
        .await;
        assert!(reads.load(Ordering::SeqCst) >= 2, "the helper ended before the exec's check");
        let left = pods.get_opt(&pod_name).await.unwrap();
        if code == 0 {
            assert!(
                matches!(&outcomes[0].outcome, Outcome::Executed { notes }
                    if notes.iter().any(|n| n.contains("ended with exit code 0"))),
                "{outcomes:?}"
            );
            assert!(left.is_none_or(|p| p.metadata.deletion_timestamp.is_some()), "deleted");
        } else {
            assert!(
                matches!(&outcomes[0].outcome, Outcome::Failed { error }
                    if error.contains("ended with exit code 1")),
                "{outcomes:?}"
            );
            assert!(left.is_some(), "kept for the operator to check");
        }
        server.abort();
        sandbox.shutdown().await;
    }
}

/// Serves `router` on a loopback port behind `hook` (an axum middleware), and a kube client of
/// it: the hook sees every request the executor sends.
async fn serve_behind<F, Fut>(
    router: axum::Router,
    hook: F,
) -> (kube::Client, tokio::task::JoinHandle<std::io::Result<()>>)
where
    F: Fn(axum::extract::Request, axum::middleware::Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = axum::response::Response> + Send + 'static,
{
    let app = router.layer(axum::middleware::from_fn(hook));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    (kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap(), server)
}

/// An in-process demo sandbox whose pods turn ready `pod_ready_delay` after they are bound, and
/// its pods in `default` through a client that bypasses any hook.
async fn demo_sandbox(pod_ready_delay: Duration) -> (chaosdeck::sandbox::Sandbox, Api<Pod>) {
    use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
    let options = SandboxOptions { seed: Seed::Demo, pod_ready_delay, ..Default::default() };
    let sandbox = Sandbox::start(options).await.unwrap();
    let pods = Api::<Pod>::namespaced(sandbox.client().unwrap(), "default");
    (sandbox, pods)
}
