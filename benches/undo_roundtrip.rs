//! Round trips per undo (run with `cargo bench --bench undo_roundtrip`), printing:
//! (a) requests the sandbox served per undo while the executor undoes N deletes with a known
//!     uid, and N guarded patches whose guard holds (discovery counted apart: once per kind);
//! (b) wall time of the `chaosdeck execute-rollback` binary undoing 200 NetworkPolicy deletes
//!     against the sandbox at 20 ms latency per response (a cluster in another region), next to
//!     the floor of one round trip per undo (200 × 20 ms);
//! (c) the same 200 deletes written as Krkn version files (`rollback_network_policy`, one
//!     context directory each, as Krkn writes them), undone by the same binary;
//! (d) with `UNDO_BENCH_REAL=1`, (b) and (c) on the real control plane of `scripts/realcluster`
//!     on loopback (Go needed; no latency can be added there).
//!
//! `UNDO_BENCH_DELETES` changes the 200; `UNDO_BENCH_LATENCY` the 20ms.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chaosdeck::cluster::{ClusterOps, ClusterTarget, identify};
use chaosdeck::journal::executor::{self, ExecuteOptions, Outcome};
use chaosdeck::journal::{EntryDraft, Filter, Journal, ObjectRef, UndoAction, scan};
use chaosdeck::refs::ClusterIdentity;
use chaosdeck::sandbox::requests::RecordedRequest;
use chaosdeck::sandbox::{SANDBOX_CONTEXT, Sandbox, SandboxOptions, Seed};
use serde_json::{Value, json};

fn netpol(name: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}
    })
}

fn draft(step: String, undo: UndoAction) -> EntryDraft {
    EntryDraft {
        scenario_type: "application_outages_scenarios".into(),
        scenario_file: None,
        step,
        undo: vec![undo],
    }
}

async fn start(latency: Option<&str>) -> (Sandbox, ClusterIdentity) {
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Empty,
        record_requests: true,
        latency: latency.map(|l| l.parse().expect("latency such as 20ms")),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let target = ClusterTarget { context: SANDBOX_CONTEXT.into(), server: sandbox.url() };
    let identity = identify(&sandbox.client().expect("client"), &target).await;
    (sandbox, identity)
}

/// Creates `n` NetworkPolicies and one journal entry per policy deleting it by uid.
async fn deletes(ops: &ClusterOps, journal: &Journal, n: usize) {
    let ctx = journal.begin_context("bench-deletes").expect("context");
    for i in 0..n {
        let name = format!("deny-{i:04}");
        let created = ops.create(&netpol(&name)).await.expect("create").expect("new");
        let undo = UndoAction::Delete {
            target: ObjectRef::new("networking.k8s.io/v1", "NetworkPolicy", Some("default"), &name),
            uid: created.metadata.uid.clone(),
            require_labels: BTreeMap::new(),
        };
        ctx.write(ctx.mint("application_outages_scenarios"), draft(name, undo)).expect("entry");
    }
}

/// Creates `n` Services, hijacks each selector as the service-hijacking scenario does, and
/// writes the guarded patch that restores it.
async fn patches(ops: &ClusterOps, journal: &Journal, n: usize) {
    let ctx = journal.begin_context("bench-patches").expect("context");
    for i in 0..n {
        let name = format!("web-{i:04}");
        let service = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
        ops.create(&service).await.expect("create").expect("new");
        let target = ObjectRef::new("v1", "Service", Some("default"), &name);
        let set = json!({"spec": {"selector": {"app": null, "hijack": format!("sh-{i}")}}});
        let undo = UndoAction::Patch {
            target: target.clone(),
            restore: json!({"spec": {"selector": {"app": "web", "hijack": null}}}),
            // Only what chaosdeck set to a value: a guard of absence (`app: null`) cannot be a
            // JSON Patch `test` and is read first.
            guard: json!({"spec": {"selector": {"hijack": format!("sh-{i}")}}}),
        };
        ctx.write(ctx.mint("service_hijacking_scenarios"), draft(name, undo)).expect("entry");
        ops.merge_patch(&target, &set).await.expect("hijack");
    }
}

fn is_discovery(r: &RecordedRequest) -> bool {
    !r.path.contains("/namespaces/")
}

async fn requests_per_undo(what: &str, n: usize) {
    let (sandbox, identity) = start(None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let journal =
        Journal::open(dir.path().join("rollback")).expect("journal").for_cluster(identity);
    let setup = ClusterOps::new(sandbox.client().expect("client"));
    match what {
        "delete" => deletes(&setup, &journal, n).await,
        _ => patches(&setup, &journal, n).await,
    }
    // A fresh ClusterOps, as execute-rollback has: its discovery is counted apart.
    let ops = ClusterOps::new(sandbox.client().expect("client"));
    let tree = scan(journal.root()).expect("scan");
    let selected = executor::select(&tree, &Filter::default());
    let before = sandbox.requests().len();
    let outcomes = executor::execute(&ops, &selected, ExecuteOptions::default(), |_| {}).await;
    let served: Vec<RecordedRequest> = sandbox.requests().split_off(before);
    let executed =
        outcomes.iter().filter(|o| matches!(o.outcome, Outcome::Executed { .. })).count();
    let discovery = served.iter().filter(|r| is_discovery(r)).count();
    let object = served.len() - discovery;
    let mut verbs: BTreeMap<&str, usize> = BTreeMap::new();
    for r in served.iter().filter(|r| !is_discovery(r)) {
        *verbs.entry(r.method.as_str()).or_default() += 1;
    }
    println!(
        "(a) {what:>6}: {n} undos, {executed} executed; {object} object requests = {:.2} per undo \
         ({verbs:?}), plus {discovery} discovery",
        object as f64 / n as f64
    );
    sandbox.shutdown().await;
}

async fn wall_time(n: usize, latency: &str) {
    let (sandbox, identity) = start(Some(latency)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    sandbox.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let journal =
        Journal::open(dir.path().join("rollback")).expect("journal").for_cluster(identity);
    let ops = ClusterOps::new(sandbox.client().expect("client"));
    deletes(&ops, &journal, n).await;
    let (took, served, summary, code) =
        execute_rollback(&sandbox, journal.root(), &kubeconfig, &[]).await;
    let per = floor_per_request(latency);
    println!(
        "(b) execute-rollback, {n} NetworkPolicy deletes at {latency}: {took:.2} s, {served} \
         requests served ({:.2} per undo), exit {code:?}; floor of one round trip per undo \
         {:.2} s; {summary}",
        served as f64 / n as f64,
        (per * n as u32).as_secs_f64()
    );
    sandbox.shutdown().await;
}

/// Creates `n` NetworkPolicies and one Krkn version file per policy deleting it, in Krkn's own
/// layout (`<ns>-<run uuid>/<type>_<ns>_<suffix>.py`), from the project's Krkn file.
async fn krkn_deletes(ops: &ClusterOps, root: &std::path::Path, n: usize) {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/krkn/rollback/1796041200912355101-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5/application_outages_scenarios_1796041200284719033_qzkwtmvb.py"
    ))
    .expect("the project's Krkn network policy file");
    std::fs::create_dir_all(root).expect("root");
    chaosdeck_private(root);
    for i in 0..n {
        let name = format!("deny-{i:04}");
        ops.create(&netpol(&name)).await.expect("create").expect("new");
        let ts = 1_796_041_200_000_000_000u64 + i as u64 * 1000;
        let dir = root.join(format!("{ts}-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5"));
        std::fs::create_dir_all(&dir).expect("context");
        chaosdeck_private(&dir);
        let text = template.replace("namespace=\"storefront\"", "namespace=\"default\"").replace(
            "resource_identifier=\"krkn-deny-rwxjp\"",
            &format!("resource_identifier=\"{name}\""),
        );
        let file = dir.join(format!("application_outages_scenarios_{ts}_abcd{i:04}.py"));
        std::fs::write(&file, text).expect("file");
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("mode");
    }
}

fn chaosdeck_private(dir: &std::path::Path) {
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("mode");
}

/// `chaosdeck execute-rollback` on `root`: (seconds, requests served, last summary line, exit).
async fn execute_rollback(
    sandbox: &Sandbox,
    root: &std::path::Path,
    kubeconfig: &std::path::Path,
    extra: &[&str],
) -> (f64, usize, String, Option<i32>) {
    let before = sandbox.requests().len();
    let started = Instant::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
        .args(["execute-rollback", "--dir"])
        .arg(root)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(extra)
        .output()
        .await
        .expect("execute-rollback runs");
    let took = started.elapsed().as_secs_f64();
    let served = sandbox.requests().len() - before;
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .rev()
        .find(|l| l.contains(" executed, "))
        .unwrap_or("(no summary)")
        .to_string();
    (took, served, summary, out.status.code())
}

async fn krkn_wall_time(n: usize, latency: &str) {
    let (sandbox, _) = start(Some(latency)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    sandbox.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let root = dir.path().join("krkn-rollback");
    let ops = ClusterOps::new(sandbox.client().expect("client"));
    krkn_deletes(&ops, &root, n).await;
    // A Krkn file does not say which cluster it was made on: the operator names it.
    let (took, served, summary, code) =
        execute_rollback(&sandbox, &root, &kubeconfig, &["--cluster-mismatch-ok", SANDBOX_CONTEXT])
            .await;
    println!(
        "(c) execute-rollback, {n} NetworkPolicy deletes as Krkn files at {latency}: {took:.2} s, \
         {served} requests served ({:.2} per undo), exit {code:?}; {summary}",
        served as f64 / n as f64
    );
    sandbox.shutdown().await;
}

/// (d): chaosdeck's own entries and Krkn's files, `n` deletes each, on the real control plane.
async fn real_wall_time(n: usize) {
    let cluster = tokio::task::spawn_blocking(|| {
        chaosdeck_testbed::RealCluster::up(chaosdeck_testbed::Workloads::Empty)
    })
    .await
    .expect("join")
    .unwrap_or_else(|e| panic!("{e}"));
    let kubeconfig = cluster.kubeconfig();
    let client = chaosdeck_testbed::cluster::client_for(&kubeconfig).await;
    let target = ClusterTarget {
        context: chaosdeck_testbed::cluster::REAL_CONTEXT.into(),
        server: cluster.server(),
    };
    let identity = identify(&client, &target).await;
    let ops = ClusterOps::new(client);
    let run = |root: std::path::PathBuf, extra: Vec<String>| {
        let kubeconfig = kubeconfig.clone();
        async move {
            let started = Instant::now();
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
                .args(["execute-rollback", "--dir"])
                .arg(&root)
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(&extra)
                .output()
                .await
                .expect("execute-rollback runs");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let summary = text.lines().rev().find(|l| l.contains(" executed, ")).unwrap_or("");
            (started.elapsed().as_secs_f64(), summary.to_string(), out.status.code())
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let journal =
        Journal::open(dir.path().join("rollback")).expect("journal").for_cluster(identity);
    deletes(&ops, &journal, n).await;
    let (took, summary, code) = run(journal.root().to_path_buf(), vec![]).await;
    println!(
        "(d) real control plane, {n} NetworkPolicy deletes: {took:.2} s, exit {code:?}; {summary}"
    );
    let root = dir.path().join("krkn-rollback");
    krkn_deletes(&ops, &root, n).await;
    let context = chaosdeck_testbed::cluster::REAL_CONTEXT.to_string();
    let (took, summary, code) = run(root, vec!["--cluster-mismatch-ok".into(), context]).await;
    println!(
        "(d) real control plane, {n} NetworkPolicy deletes as Krkn files: {took:.2} s, exit \
         {code:?}; {summary}"
    );
    drop(cluster);
}

/// The fixed part of `20ms` or `20ms±5ms`, for the floor printed beside the measurement.
fn floor_per_request(latency: &str) -> Duration {
    let digits: String = latency.chars().take_while(char::is_ascii_digit).collect();
    Duration::from_millis(digits.parse().unwrap_or(0))
}

fn main() {
    let n: usize =
        std::env::var("UNDO_BENCH_DELETES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let latency = std::env::var("UNDO_BENCH_LATENCY").unwrap_or_else(|_| "20ms".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        requests_per_undo("delete", 50).await;
        requests_per_undo("patch", 50).await;
        wall_time(n, &latency).await;
        krkn_wall_time(n, &latency).await;
        if std::env::var("UNDO_BENCH_REAL").is_ok_and(|v| v == "1") {
            real_wall_time(n).await;
        }
    });
}
