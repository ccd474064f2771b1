//! A PVC fill and its undo against the sandbox (run with `cargo bench --bench pvc_fill`),
//! printing for each of N rounds on loopback and at a latency per response (a cluster in
//! another region): the wall time and requests of the fill (the pod read and one `fallocate`
//! exec of 1 GiB), and of the executor undoing its journal entry (the pod read, `rm`, `df`).
//!
//! `PVC_BENCH_ROUNDS` changes the 20 rounds; `PVC_BENCH_LATENCY` the 20ms.

use std::time::{Duration, Instant};

use chaosdeck::cluster::ClusterOps;
use chaosdeck::cluster::exec::{ContainerPath, ContainerTarget, ExecCommand};
use chaosdeck::journal::executor::{self, ExecuteOptions, Outcome};
use chaosdeck::journal::placed_file::PlacedFile;
use chaosdeck::journal::{EntryDraft, Filter, Journal, UndoAction, scan};
use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, PostParams};
use serde_json::json;

const GIB: u64 = 1 << 30;

async fn start(latency: Option<&str>) -> Sandbox {
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Demo,
        record_requests: true,
        pod_ready_delay: Duration::from_millis(20),
        latency: latency.map(|l| l.parse().expect("latency such as 20ms")),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let client = sandbox.client().expect("client");
    let claim = json!({"metadata": {"name": "ledger-data"}, "spec": {"accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "4Gi"}}}});
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), "payments")
        .create(&PostParams::default(), &serde_json::from_value(claim).expect("claim"))
        .await
        .expect("claim created");
    let pod = json!({"metadata": {"name": "ledger-0"}, "spec": {
        "containers": [{"name": "ledger", "image": "ledger:1",
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "ledger-data"}}]}});
    let pods: Api<Pod> = Api::namespaced(client, "payments");
    pods.create(&PostParams::default(), &serde_json::from_value(pod).expect("pod"))
        .await
        .expect("pod created");
    for _ in 0..500 {
        let phase = pods.get("ledger-0").await.expect("pod").status.and_then(|s| s.phase);
        if phase.as_deref() == Some("Running") {
            return sandbox;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("ledger-0 never ran");
}

fn ledger() -> ContainerTarget {
    ContainerTarget {
        namespace: "payments".into(),
        pod: "ledger-0".into(),
        container: "ledger".into(),
        uid: None,
        restarts: None,
    }
}

/// (fill, undo) wall times and request counts per round, `rounds` times.
async fn rounds(label: &str, latency: Option<&str>, rounds: usize) {
    let sandbox = start(latency).await;
    let ops = ClusterOps::new(sandbox.client().expect("client"));
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(dir.path().join("journal")).expect("journal");
    let mount = ContainerPath::parse("/data").expect("path");
    let (mut fill_ms, mut undo_ms) = (Vec::new(), Vec::new());
    let (mut fill_requests, mut undo_requests) = (0, 0);
    for round in 0..rounds {
        let tag = format!("bench{round:04}-entry");
        let path = mount.join(&format!("chaosdeck-fill-{tag}.tmp")).expect("path");
        let ctx = journal.begin_context(&format!("bench-{round}")).expect("context");
        let file = PlacedFile {
            container: ledger(),
            claim: Some("ledger-data".into()),
            mount_path: mount.clone(),
            path: path.clone(),
            tag,
            bytes: GIB,
        };
        let draft = EntryDraft {
            scenario_type: "pvc_scenarios".into(),
            scenario_file: None,
            step: "bench fill".into(),
            undo: vec![UndoAction::RemoveFile { file }],
        };
        ctx.write(ctx.mint("pvc_scenarios"), draft).expect("entry");

        let before = sandbox.requests().len();
        let started = Instant::now();
        let (_, out) = ops
            .exec(&ledger(), &ExecCommand::allocate(path, GIB), Duration::from_secs(30))
            .await
            .expect("fill");
        fill_ms.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(out.code, 0, "{out:?}");
        fill_requests += sandbox.requests().len() - before;

        let tree = scan(journal.root()).expect("scan");
        let selected = executor::select(&tree, &Filter::default());
        let before = sandbox.requests().len();
        let started = Instant::now();
        let outcomes = executor::execute(&ops, &selected, ExecuteOptions::default(), |_| {}).await;
        undo_ms.push(started.elapsed().as_secs_f64() * 1e3);
        undo_requests += sandbox.requests().len() - before;
        assert!(
            matches!(&outcomes[..], [o] if matches!(o.outcome, Outcome::Executed { .. })),
            "{outcomes:?}"
        );
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (fill_median, fill_max) = stats(&mut fill_ms);
    let (undo_median, undo_max) = stats(&mut undo_ms);
    println!(
        "pvc fill of 1 GiB, {label}, {rounds} rounds: fill median {fill_median:.1} ms (max \
         {fill_max:.1}), {:.1} requests; undo median {undo_median:.1} ms (max {undo_max:.1}), \
         {:.1} requests",
        fill_requests as f64 / rounds as f64,
        undo_requests as f64 / rounds as f64,
    );
    sandbox.shutdown().await;
}

fn main() {
    let n: usize =
        std::env::var("PVC_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let latency = std::env::var("PVC_BENCH_LATENCY").unwrap_or_else(|_| "20ms".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        rounds("loopback", None, n).await;
        rounds(&format!("{latency} per response"), Some(&latency), n).await;
    });
}
