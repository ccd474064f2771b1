//! Time to restore on a far-away cluster: N pending entries in N/10 contexts (deletes by uid,
//! guarded patches, re-creates from snapshots) undone through the executor against a sandbox
//! answering every request 20 ms late, with `parallel` 1 and the default, next to the serial
//! floor (entries × latency). The two end states are compared. Then the default again against
//! a sandbox that also admits only 8 requests in flight (`--max-inflight 8`, 429 with
//! Retry-After past that, as API priority and fairness does): no entry may fail.
//!
//! `cargo bench --bench undo_parallel` (CHAOSDECK_BENCH_ENTRIES=N to change the size).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chaosdeck::cluster::{ClusterOps, ClusterTarget, identify};
use chaosdeck::journal::executor::{self, ExecuteOptions, Outcome};
use chaosdeck::journal::{EntryDraft, Filter, Journal, ObjectRef, UndoAction, scan};
use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

const LATENCY_MS: u64 = 20;

async fn sandbox(max_inflight: Option<usize>) -> Sandbox {
    Sandbox::start(SandboxOptions {
        seed: Seed::Empty,
        latency: Some(format!("{LATENCY_MS}ms").parse().expect("latency")),
        max_inflight,
        record_requests: true,
        ..Default::default()
    })
    .await
    .expect("sandbox starts")
}

/// Builds the cluster state and the journal: entry i of context c works on object cm-c-i in
/// namespace ns-(c % 10). A third each, as chaos makes them: a ConfigMap chaosdeck created
/// (delete it by uid), a Service whose selector it hijacked (restore, guarded), a bare Pod it
/// deleted (re-create it from the snapshot).
async fn prepare(sb: &Sandbox, root: &std::path::Path, entries: usize, concurrency: usize) {
    let client = sb.client().expect("client");
    let target = ClusterTarget { context: "chaosdeck-sandbox".into(), server: sb.url() };
    let journal =
        Journal::open(root).expect("journal").for_cluster(identify(&client, &target).await);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for n in 0..10 {
        let ns =
            serde_json::from_value(json!({"metadata": {"name": format!("ns-{n}")}})).expect("ns");
        namespaces.create(&PostParams::default(), &ns).await.expect("namespace");
    }
    let contexts = entries.div_ceil(10);
    let mut work = Vec::new();
    for c in 0..contexts {
        let ctx = journal.begin_context(&format!("run-{:03}", c % 10)).expect("context");
        for i in 0..10.min(entries - c * 10) {
            work.push((ctx.clone(), c, i));
        }
    }
    // Set up concurrently: this part is not what is measured.
    futures::stream::iter(work)
        .for_each_concurrent(concurrency, |(ctx, c, i)| {
            let client = client.clone();
            async move {
                let ns = format!("ns-{}", c % 10);
                let name = format!("cm-{c}-{i}");
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
                let cm = |v: &str| -> ConfigMap {
                    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": v}}))
                        .expect("configmap")
                };
                let undo = match i % 3 {
                    0 => {
                        let created =
                            api.create(&PostParams::default(), &cm("chaos")).await.expect("create");
                        UndoAction::Delete {
                            target: ObjectRef::new("v1", "ConfigMap", Some(&ns), &name),
                            uid: created.metadata.uid,
                            require_labels: BTreeMap::new(),
                        }
                    }
                    1 => {
                        let services: Api<Service> = Api::namespaced(client, &ns);
                        let svc = serde_json::from_value(json!({"metadata": {"name": name},
                            "spec": {"selector": {"v": "chaos"}, "ports": [{"port": 80}]}}))
                        .expect("service");
                        services.create(&PostParams::default(), &svc).await.expect("create");
                        UndoAction::Patch {
                            target: ObjectRef::new("v1", "Service", Some(&ns), &name),
                            restore: json!({"spec": {"selector": {"v": "calm"}}}),
                            guard: json!({"spec": {"selector": {"v": "chaos"}}}),
                        }
                    }
                    _ => {
                        let object = json!({"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": name, "namespace": ns, "annotations": {"v": "calm"}},
                            "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
                        UndoAction::Create { object }
                    }
                };
                let draft = EntryDraft {
                    scenario_type: "bench".into(),
                    scenario_file: None,
                    step: format!("bench change {c}/{i}"),
                    undo: vec![undo],
                };
                ctx.write(ctx.mint("bench"), draft).expect("entry");
            }
        })
        .await;
}

/// Every ConfigMap, Service selector and Pod the journal touched, with its value.
async fn end_state(sb: &Sandbox) -> Vec<String> {
    let client = sb.client().expect("client");
    let at = |m: &kube::api::ObjectMeta| {
        format!(
            "{}/{}",
            m.namespace.clone().unwrap_or_default(),
            m.name.clone().unwrap_or_default()
        )
    };
    let all = ListParams::default();
    let mut state = Vec::new();
    for c in Api::<ConfigMap>::all(client.clone()).list(&all).await.expect("list").items {
        if c.metadata.name.as_deref() == Some("kube-root-ca.crt") {
            continue;
        }
        let v = c.data.as_ref().and_then(|d| d.get("v").cloned()).unwrap_or_default();
        state.push(format!("ConfigMap {} {v}", at(&c.metadata)));
    }
    for s in Api::<Service>::all(client.clone()).list(&all).await.expect("list").items {
        let v = s.spec.as_ref().and_then(|s| s.selector.as_ref()?.get("v").cloned());
        state.push(format!("Service {} {}", at(&s.metadata), v.unwrap_or_default()));
    }
    for p in Api::<Pod>::all(client).list(&all).await.expect("list").items {
        let v = p.metadata.annotations.as_ref().and_then(|a| a.get("v").cloned());
        state.push(format!("Pod {} {}", at(&p.metadata), v.unwrap_or_default()));
    }
    state.sort();
    state
}

struct Run {
    took: Duration,
    requests: usize,
    failed: usize,
    shed: u64,
    state: Vec<String>,
}

async fn run(entries: usize, parallel: usize, max_inflight: Option<usize>) -> Run {
    let sb = sandbox(max_inflight).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Set-up stays within the in-flight limit: only the undo should meet 429s.
    prepare(&sb, dir.path(), entries, max_inflight.unwrap_or(64)).await;
    let tree = scan(dir.path()).expect("scan");
    let selected = executor::select(&tree, &Filter::default());
    let ops = ClusterOps::new(sb.client().expect("client"));
    let before = sb.requests().len();
    let started = Instant::now();
    let outcomes = executor::execute(
        &ops,
        &selected,
        ExecuteOptions { parallel, ..ExecuteOptions::default() },
        |_| {},
    )
    .await;
    let took = started.elapsed();
    let requests = sb.requests().len() - before;
    let failed = outcomes.iter().filter(|o| !matches!(o.outcome, Outcome::Executed { .. })).count();
    let state = end_state(&sb).await;
    // Keep deletes of the namespaces out of the comparison: nothing deletes them.
    let _ = Api::<Namespace>::all(sb.client().expect("client"))
        .delete("ns-0", &DeleteParams::default())
        .await;
    let shed = sb.shed_requests();
    sb.shutdown().await;
    Run { took, requests, failed, shed, state }
}

fn main() {
    let entries: usize =
        std::env::var("CHAOSDECK_BENCH_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let floor = Duration::from_millis(LATENCY_MS * entries as u64);
        println!("undo_parallel: {entries} entries in {} contexts, sandbox latency {LATENCY_MS} ms", entries.div_ceil(10));
        println!("  serial floor (entries x latency): {:.2} s", floor.as_secs_f64());
        let report = |label: &str, r: &Run| {
            println!(
                "  {label}: {:.2} s, {} requests ({:.2} per undo, {} answered 429), {} not executed",
                r.took.as_secs_f64(),
                r.requests,
                r.requests as f64 / entries as f64,
                r.shed,
                r.failed
            );
        };
        let serial = run(entries, 1, None).await;
        report("--parallel 1", &serial);
        let default = executor::DEFAULT_PARALLEL;
        let par = run(entries, default, None).await;
        report(&format!("--parallel {default}"), &par);
        println!("  speed-up: {:.1}x", serial.took.as_secs_f64() / par.took.as_secs_f64());
        println!(
            "  end states identical: {} ({} objects)",
            serial.state == par.state,
            par.state.len()
        );
        let limited = run(entries, default, Some(8)).await;
        report(&format!("--parallel {default} at --max-inflight 8"), &limited);
        println!(
            "  slowdown from the in-flight limit: {:.2}x; end state identical to the serial run: {}",
            limited.took.as_secs_f64() / par.took.as_secs_f64(),
            serial.state == limited.state
        );
    });
}
