//! Scale bench for the sandbox (`harness = false`: prints numbers, asserts nothing).
//!
//! Seeds `scale:NODES:PODS` (default 5,000 nodes / 150,000 pods; override with
//! `SANDBOX_BENCH_SEED=scale:N:P`) and reports: seed time, a labelled LIST of one namespace,
//! a full LIST of every pod, a paged walk over every pod (limit 500, as kubectl pages; first
//! page vs a deep page), `kubectl get pods -A` wall time (skipped without kubectl), watch
//! fan-out (10 watchers each receiving N new pods), and RSS.
//! Run: `cargo bench --bench sandbox_scale` (without `--bench`, e.g. under `cargo test
//! --all-targets`, it does a small smoke run).

use std::time::{Duration, Instant};

use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, WatchEvent, WatchParams};
use serde_json::json;

const WATCHERS: usize = 10;
const WATCH_EVENTS: usize = 1_000;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn get_text(client: &kube::Client, path: &str) -> (usize, Duration) {
    let start = Instant::now();
    let req = axum::http::Request::get(path).body(Vec::new()).expect("request");
    let text = client.request_text(req).await.expect("list");
    (text.len(), start.elapsed())
}

/// CPU seconds this process has used so far (user + system).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    // Linux reports clock ticks, 100 per second on every common configuration.
    (ticks(11) + ticks(12)) / 100.0
}

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "min {:.1} ms, median {:.1} ms, max {:.1} ms ({} runs)",
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1]),
        samples.len()
    )
}

/// What kubectl get asks for: a Table (server-side printing), or a plain list if not served.
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// Every pod, 500 to a page as kubectl pages, following continue tokens; each page's time.
async fn paged_walk(client: &kube::Client, accept: Option<&str>) -> Vec<Duration> {
    let mut times = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            None => "/api/v1/pods?limit=500".to_string(),
            Some(t) => format!("/api/v1/pods?limit=500&continue={t}"),
        };
        let mut req = axum::http::Request::get(path);
        if let Some(accept) = accept {
            req = req.header("Accept", accept);
        }
        let start = Instant::now();
        let text = client.request_text(req.body(Vec::new()).expect("request")).await.expect("page");
        times.push(start.elapsed());
        let page: serde_json::Value = serde_json::from_str(&text).expect("page json");
        token = page["metadata"]["continue"].as_str().map(String::from);
        if token.is_none() {
            return times;
        }
    }
}

fn main() {
    // `cargo bench` passes --bench; anything else (`cargo test --all-targets`) gets a quick
    // smoke run instead of the full-size cluster.
    let full = std::env::args().any(|a| a == "--bench");
    let default_seed = if full { "scale:5000:150000" } else { "scale:50:3000" };
    let seed: Seed = std::env::var("SANDBOX_BENCH_SEED")
        .unwrap_or_else(|_| default_seed.into())
        .parse()
        .expect("SANDBOX_BENCH_SEED must be scale:N:P");
    let Seed::Scale { nodes, pods } = seed else { panic!("the bench needs a scale seed") };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let rss_before = rss_mib();
        let t = Instant::now();
        let sb = Sandbox::start(SandboxOptions { seed, ..Default::default() }).await.expect("start");
        let seed_time = t.elapsed();
        println!("seed scale:{nodes}:{pods}: {:.2} s", seed_time.as_secs_f64());
        println!("RSS after seed: {:.0} MiB (before: {:.0} MiB)", rss_mib(), rss_before);
        let client = sb.client().expect("client");
        // Controllers make one pass over everything after start; then the cluster is idle.
        let cpu = cpu_seconds();
        tokio::time::sleep(Duration::from_secs(3)).await;
        println!("CPU used in the 3 s after seeding (controllers' first pass): {:.2} s", cpu_seconds() - cpu);
        let cpu = cpu_seconds();
        tokio::time::sleep(Duration::from_secs(3)).await;
        println!("CPU used in the next 3 s idle: {:.2} s", cpu_seconds() - cpu);

        let ns = chaosdeck::sandbox::seed::scale_namespaces(pods)[0].clone();
        let path = format!("/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dapp-7");
        let (bytes, _) = get_text(&client, &path).await;
        let typed: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let count = typed.list(&kube::api::ListParams::default().labels("app=app-7")).await.expect("list").items.len();
        let mut samples = Vec::new();
        for _ in 0..20 {
            samples.push(get_text(&client, &path).await.1);
        }
        println!("labelled LIST of one namespace ({count} of ~{} pods, {} KiB): {}", pods / chaosdeck::sandbox::seed::scale_namespaces(pods).len(), bytes / 1024, stats(samples));

        let mut samples = Vec::new();
        let mut size = 0;
        for _ in 0..3 {
            let (b, d) = get_text(&client, "/api/v1/pods").await;
            size = b;
            samples.push(d);
        }
        println!("full LIST of {pods} pods ({} MiB): {}", size / (1024 * 1024), stats(samples));
        println!("RSS after lists: {:.0} MiB", rss_mib());

        // Paged walk, limit 500 like kubectl: a page deep into the list should cost what the
        // first one does.
        let walk = Instant::now();
        let page_times = paged_walk(&client, None).await;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let deep = page_times.len() * 5 / 6;
        println!(
            "paged LIST (limit 500): {} pages in {:.2} s; page 1 {:.1} ms, page {} {:.1} ms, last page {:.1} ms",
            page_times.len(),
            walk.elapsed().as_secs_f64(),
            ms(page_times[0]),
            deep + 1,
            ms(page_times[deep]),
            ms(page_times[page_times.len() - 1]),
        );

        // The same walk as the Table kubectl asks for (server-side printing): the server's share
        // of `kubectl get pods -A`.
        let walk = Instant::now();
        let table_pages = paged_walk(&client, Some(TABLE)).await.len();
        println!(
            "paged Table walk (what kubectl get asks for): {table_pages} pages in {:.2} s",
            walk.elapsed().as_secs_f64()
        );

        let kubeconfig = std::env::temp_dir().join(format!("chaosdeck-bench-{}.kubeconfig", std::process::id()));
        sb.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        // kubectl pages by 500 through client-go's rate limiter (5 requests/s after a burst of
        // 10), whatever server it talks to: -v=4 logs each wait, counted here. One unpaged
        // request shows what the server and kubectl's printing cost without it.
        let pages = pods.div_ceil(500);
        println!(
            "kubectl's own floor for {pages} pages of 500 (5 requests/s after a burst of 10): {:.1} s",
            pages.saturating_sub(10) as f64 / 5.0
        );
        for extra in [&["-v=4"][..], &["--chunk-size=0"][..]] {
            let t = Instant::now();
            let kubectl = tokio::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(["get", "pods", "-A"])
                .args(extra)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .output()
                .await;
            let label = format!("kubectl get pods -A {}", extra.join(" "));
            match kubectl {
                Ok(out) => {
                    let waits = String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .filter(|l| l.contains("client-side throttling"))
                        .count();
                    println!(
                        "{label}: {:.2} s ({}; {waits} requests waited for kubectl's own rate limiter)",
                        t.elapsed().as_secs_f64(),
                        out.status
                    );
                }
                Err(e) => println!("{label}: skipped ({e})"),
            }
        }
        let _ = std::fs::remove_file(&kubeconfig);

        // Watch fan-out: WATCHERS watches on one namespace, then WATCH_EVENTS creates.
        let rv = sb.store().current_rv().to_string();
        let mut handles = Vec::new();
        for _ in 0..WATCHERS {
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            let rv = rv.clone();
            handles.push(tokio::spawn(async move {
                let stream = api.watch(&WatchParams::default().timeout(290), &rv).await.expect("watch");
                let mut stream = stream.boxed();
                let mut added = 0;
                while let Some(ev) = stream.try_next().await.expect("watch event") {
                    if let WatchEvent::Added(_) = ev {
                        added += 1;
                        if added == WATCH_EVENTS {
                            return Instant::now();
                        }
                    }
                }
                panic!("watch ended after {added} events");
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let store = sb.store();
        let t = Instant::now();
        for i in 0..WATCH_EVENTS {
            let pod = json!({
                "metadata": {"name": format!("fanout-{i}"), "labels": {"app": "fanout"}},
                "spec": {"nodeName": "node-00000", "containers": [{"name": "c", "image": "i"}]},
            });
            store.create(chaosdeck::sandbox::resources::PODS, &ns, pod).expect("create");
        }
        let created = t.elapsed();
        let mut last = t;
        for h in handles {
            last = last.max(h.await.expect("watcher"));
        }
        let total = last.duration_since(t);
        println!(
            "watch fan-out: {WATCH_EVENTS} creates in {:.0} ms; all {WATCHERS} watchers had every event after {:.0} ms ({:.0} events/s delivered)",
            created.as_secs_f64() * 1000.0,
            total.as_secs_f64() * 1000.0,
            (WATCHERS * WATCH_EVENTS) as f64 / total.as_secs_f64()
        );
        // A cordon makes every pending pod schedulable-or-not again: time one such pass.
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
        let cpu = cpu_seconds();
        let t = Instant::now();
        nodes.cordon("node-00001").await.expect("cordon");
        let call = t.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!(
            "cordon at scale: API call {:.1} ms, CPU over the next 2 s {:.2} s",
            call.as_secs_f64() * 1000.0,
            cpu_seconds() - cpu
        );
        println!("RSS at end: {:.0} MiB", rss_mib());
        sb.shutdown().await;
    });
}
