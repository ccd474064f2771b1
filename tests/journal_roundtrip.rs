//! One round trip per undo on the fast path, counted at the sandbox: a delete with a known uid
//! is one DELETE, a guarded patch whose guard holds is one PATCH; only a failed guard costs a
//! read, and the messages say what they said when every undo read the object first.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use chaosdeck::cluster::ClusterOps;
use chaosdeck::journal::executor::{self, EntryOutcome, ExecuteOptions, Outcome};
use chaosdeck::journal::{EntryDraft, EntryState, Filter, Journal, ObjectRef, UndoAction, scan};
use chaosdeck::sandbox::requests::RecordedRequest;
use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
use serde_json::{Value, json};

struct Env {
    sandbox: Sandbox,
    ops: ClusterOps,
    dir: tempfile::TempDir,
    identity: chaosdeck::refs::ClusterIdentity,
}

async fn env() -> Env {
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Empty,
        pod_ready_delay: Duration::from_millis(20),
        record_requests: true,
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let ops = ClusterOps::new(sandbox.client().unwrap());
    let target = chaosdeck::cluster::ClusterTarget {
        context: chaosdeck::sandbox::SANDBOX_CONTEXT.into(),
        server: sandbox.url(),
    };
    let identity = chaosdeck::cluster::identify(&sandbox.client().unwrap(), &target).await;
    Env { sandbox, ops, dir: tempfile::tempdir().unwrap(), identity }
}

impl Env {
    fn journal(&self) -> Journal {
        Journal::open(self.dir.path().join("rollback")).unwrap().for_cluster(self.identity.clone())
    }

    fn write(&self, undo: UndoAction) -> std::path::PathBuf {
        let journal = self.journal();
        let ctx = journal.begin_context("run-roundtrip").unwrap();
        let draft = EntryDraft {
            scenario_type: "application_outages_scenarios".into(),
            scenario_file: None,
            step: "roundtrip".into(),
            undo: vec![undo],
        };
        ctx.write(ctx.mint("application_outages_scenarios"), draft).unwrap().path
    }

    /// Executes every pending entry; returns the outcomes and the requests on objects the
    /// executor sent (discovery, once per kind, is not an undo's round trip).
    async fn execute(&self) -> (Vec<EntryOutcome>, Vec<RecordedRequest>) {
        let tree = scan(self.journal().root()).unwrap();
        let selected = executor::select(&tree, &Filter::default());
        let before = self.sandbox.requests().len();
        let outcomes =
            executor::execute(&self.ops, &selected, ExecuteOptions::default(), |_| {}).await;
        let sent = self.sandbox.requests().split_off(before);
        (outcomes, sent.into_iter().filter(|r| r.path.contains("/namespaces/")).collect())
    }

    async fn create(&self, object: Value) -> String {
        let created = self.ops.create(&object).await.unwrap().expect("created");
        created.metadata.uid.unwrap()
    }

    async fn read(&self, target: &ObjectRef) -> Option<Value> {
        self.ops.get(target).await.unwrap().map(|o| serde_json::to_value(o).unwrap())
    }
}

fn netpol_ref(name: &str) -> ObjectRef {
    ObjectRef::new("networking.k8s.io/v1", "NetworkPolicy", Some("default"), name)
}

fn netpol(name: &str) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
}

fn delete_by_uid(name: &str, uid: &str) -> UndoAction {
    UndoAction::Delete {
        target: netpol_ref(name),
        uid: Some(uid.into()),
        require_labels: BTreeMap::new(),
    }
}

fn notes(outcome: &Outcome) -> Vec<String> {
    match outcome {
        Outcome::Executed { notes } => notes.clone(),
        other => panic!("not executed: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_with_a_uid_is_one_request_whatever_it_finds() {
    let env = env().await;
    let uid = env.create(netpol("deny-a")).await;
    env.write(delete_by_uid("deny-a", &uid));
    let (outcomes, sent) = env.execute().await;
    assert_eq!(notes(&outcomes[0].outcome), Vec::<String>::new());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].method, "DELETE");
    assert!(env.read(&netpol_ref("deny-a")).await.is_none());

    // Already gone: still one request, and it says so.
    env.write(delete_by_uid("deny-a", &uid));
    let (outcomes, sent) = env.execute().await;
    assert_eq!(notes(&outcomes[0].outcome), vec!["NetworkPolicy default/deny-a already gone"]);
    assert_eq!(sent.len(), 1, "{sent:?}");

    // Another object holds the name now: one request, left alone, our uid named (not theirs:
    // the note may be read by someone who may not read that object).
    let theirs = env.create(netpol("deny-a")).await;
    env.write(delete_by_uid("deny-a", &uid));
    let (outcomes, sent) = env.execute().await;
    assert_eq!(
        notes(&outcomes[0].outcome),
        vec![format!(
            "NetworkPolicy default/deny-a is another object now (not uid {uid}); left alone"
        )]
    );
    assert!(!notes(&outcomes[0].outcome)[0].contains(&theirs));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(env.read(&netpol_ref("deny-a")).await.is_some(), "the stranger must survive");
    env.sandbox.shutdown().await;
}

fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
}

/// Hijacks the selector as the scenario does and writes the guarded undo.
async fn hijacked(env: &Env, name: &str) -> (ObjectRef, std::path::PathBuf) {
    env.create(service(name)).await;
    let target = ObjectRef::new("v1", "Service", Some("default"), name);
    let set = json!({"spec": {"selector": {"app": null, "hijack": "sh-1"}}});
    let path = env.write(UndoAction::Patch {
        target: target.clone(),
        restore: json!({"spec": {"selector": {"app": "web", "hijack": null}}}),
        // The value chaosdeck set; a removed key (`app: null`) would be a guard of absence,
        // which no JSON Patch can test, so such entries take the read-and-merge path.
        guard: json!({"spec": {"selector": {"hijack": "sh-1"}}}),
    });
    env.ops.merge_patch(&target, &set).await.unwrap();
    (target, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_patch_whose_guard_holds_is_one_request() {
    let env = env().await;
    let (target, _) = hijacked(&env, "web").await;
    let (outcomes, sent) = env.execute().await;
    assert_eq!(notes(&outcomes[0].outcome), Vec::<String>::new());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].method, "PATCH");
    let selector = env.read(&target).await.unwrap()["spec"]["selector"].clone();
    assert_eq!(selector, json!({"app": "web"}));
    env.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_human_edit_fails_the_patch_keeps_the_edit_and_names_the_path_not_the_value() {
    let env = env().await;
    let (target, path) = hijacked(&env, "web").await;
    env.ops
        .merge_patch(&target, &json!({"spec": {"selector": {"hijack": "human"}}}))
        .await
        .unwrap();
    let (outcomes, sent) = env.execute().await;
    let Outcome::Failed { error } = &outcomes[0].outcome else {
        panic!("{outcomes:?}");
    };
    assert!(
        error.contains(
            "(/spec/selector/hijack no longer holds the value chaosdeck set); not overwriting"
        ),
        "{error}"
    );
    // What the object holds now is not repeated: the reader may not be allowed to read it.
    assert!(!error.contains("human"), "{error}");
    // The failed patch, then the read that explains it.
    let verbs: Vec<&str> = sent.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(verbs, ["PATCH", "GET"]);
    assert_eq!(env.read(&target).await.unwrap()["spec"]["selector"], json!({"hijack": "human"}));
    assert!(path.exists(), "the entry stays pending");
    let tree = scan(env.journal().root()).unwrap();
    let entry = tree.entries().find(|(_, e)| e.path == path).unwrap().1;
    assert_eq!(entry.state, EntryState::Failed);
    env.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_already_restored_object_is_a_note_not_an_error() {
    let env = env().await;
    let (target, path) = hijacked(&env, "web").await;
    // Someone restored it by hand.
    env.ops
        .merge_patch(&target, &json!({"spec": {"selector": {"app": "web", "hijack": null}}}))
        .await
        .unwrap();
    let (outcomes, sent) = env.execute().await;
    assert_eq!(notes(&outcomes[0].outcome), vec!["Service default/web already restored"]);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(!path.exists(), "renamed .executed");
    env.sandbox.shutdown().await;
}

/// Krkn's `rollback_network_policy` files name the object and nothing else: each is one DELETE
/// (it used to be a GET and a DELETE), and two in one namespace do not wait for each other (a
/// Krkn entry used to hold its whole namespace, so they went one at a time). A service hijack,
/// whose plan ConfigMap is found only when it runs, still holds the namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn krkn_files_that_name_their_objects_are_one_request_each_and_order_by_object() {
    let env = env().await;
    let root = env.dir.path().join("krkn");
    let ctx = root.join("1796041200912355101-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5");
    std::fs::create_dir_all(&ctx).unwrap();
    for dir in [&root, &ctx] {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    for (i, name) in ["deny-a", "deny-b"].iter().enumerate() {
        env.create(netpol(name)).await;
        let file =
            ctx.join(format!("application_outages_scenarios_179604120028471903{i}_abcdefgh.py"));
        let text =
            support::krkn_file("rollback_network_policy", &support::krkn_content("default", name));
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
    }
    let hijack = serde_json::json!({"service_name": "web", "service_namespace": "default",
        "original_selectors": {"app": "web"}, "webservice_pod_name": "hijacker"});
    let payload = base64_of(&hijack);
    std::fs::write(
        ctx.join("service_hijacking_scenarios_1796041200284719020_abcdefgh.py"),
        support::krkn_file(
            "rollback_service_hijacking",
            &support::krkn_content("default", &payload),
        ),
    )
    .unwrap();

    let tree = scan(&root).unwrap();
    let selected = executor::select(&tree, &Filter::default());
    let footprints: Vec<_> =
        selected.iter().map(|n| chaosdeck::journal::schedule::footprint(n)).collect();
    let deps = chaosdeck::journal::schedule::dependencies(&footprints);
    let at = |file: &str| selected.iter().position(|n| n.file_name.contains(file)).unwrap();
    let (newest, older, hijack) =
        (at("_1796041200284719031_"), at("_1796041200284719030_"), at("service_hijacking"));
    assert!(deps[older].is_empty() && deps[newest].is_empty(), "{deps:?}");
    let mut waits = deps[hijack].clone();
    waits.sort_unstable();
    assert_eq!(waits, [newest.min(older), newest.max(older)], "the hijack holds the namespace");
    assert!(footprints[hijack].exclusive.len() > footprints[newest].exclusive.len());

    // The two network policies, executed: one DELETE each, no read.
    let policies: Vec<_> =
        selected.iter().copied().filter(|n| n.file_name.starts_with("application")).collect();
    let before = env.sandbox.requests().len();
    let ops = ClusterOps::new(env.sandbox.client().unwrap());
    let outcomes = executor::execute(&ops, &policies, ExecuteOptions::default(), |_| {}).await;
    let sent: Vec<_> = env
        .sandbox
        .requests()
        .split_off(before)
        .into_iter()
        .filter(|r| r.path.contains("/namespaces/"))
        .collect();
    assert!(outcomes.iter().all(|o| matches!(o.outcome, Outcome::Executed { .. })), "{outcomes:?}");
    assert_eq!(
        sent.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["DELETE", "DELETE"],
        "{sent:?}"
    );
    assert!(
        env.read(&netpol_ref("deny-a")).await.is_none()
            && env.read(&netpol_ref("deny-b")).await.is_none()
    );
}

/// Base64 of Krkn's `json.dumps` of `value`, as its files carry a hijack's payload.
fn base64_of(value: &Value) -> String {
    use chaosdeck::journal::krkn::payload::{encode_base64, python_json_dumps};
    encode_base64(python_json_dumps(value).as_bytes())
}
