//! The sandbox next to a real control plane (`scripts/realcluster`), doing the same things
//! through chaosdeck's own client (`ClusterOps`): start-up time and resident memory, then the
//! median latency of GET, merge PATCH and uid-guarded DELETE of ConfigMaps and of a LIST of
//! 1,000 pods.
//!
//! `cargo bench --bench targets` (needs Go for the real control plane;
//! `CHAOSDECK_BENCH_TARGETS=sandbox` measures the sandbox only).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chaosdeck::cluster::ClusterOps;
use chaosdeck::journal::ObjectRef;
use chaosdeck_testbed::{RealCluster, Workloads};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

const OBJECTS: usize = 200;
const PODS: usize = 1000;
const LISTS: usize = 20;

/// A running API server: the `chaosdeck sandbox` process or the real control plane's
/// processes, with the kubeconfig that reaches it.
struct Server {
    name: &'static str,
    kubeconfig: PathBuf,
    pids: Vec<u32>,
    startup: Duration,
    stop: Box<dyn FnOnce()>,
}

/// A child process killed when dropped, on a panic too: an orphaned server would keep what it
/// inherited (a build lock around `cargo bench`) open.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sandbox(dir: &Path) -> Server {
    let kubeconfig = dir.join("sandbox.kubeconfig");
    let started = Instant::now();
    let child = Killed(
        Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
            .args(["sandbox", "--port", "0", "--seed", "empty", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chaosdeck sandbox starts"),
    );
    // Ready once it has written its kubeconfig and answers.
    let ready = || {
        kubeconfig.exists()
            && Command::new("curl")
                .args(["-sf", "-o", "/dev/null"])
                .arg(format!("{}/version", server_of(&kubeconfig)))
                .status()
                .is_ok_and(|s| s.success())
    };
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(60), "the sandbox never came up");
        std::thread::sleep(Duration::from_millis(5));
    }
    let startup = started.elapsed();
    let pid = child.0.id();
    Server {
        name: "sandbox",
        kubeconfig,
        pids: vec![pid],
        startup,
        stop: Box::new(move || drop(child)),
    }
}

fn real(_dir: &Path) -> Server {
    // The binaries are built (or found in the cache) before the clock starts.
    let built = Command::new(chaosdeck_testbed::script())
        .arg("build")
        .stdout(Stdio::null())
        .status()
        .expect("scripts/realcluster runs");
    assert!(built.success(), "scripts/realcluster build failed");
    let started = Instant::now();
    let cluster = RealCluster::up(Workloads::Empty).unwrap_or_else(|e| panic!("{e}"));
    let startup = started.elapsed();
    Server {
        name: "real control plane",
        kubeconfig: cluster.kubeconfig(),
        pids: cluster.pids(),
        startup,
        stop: Box::new(move || drop(cluster)),
    }
}

fn server_of(kubeconfig: &Path) -> String {
    let text = std::fs::read_to_string(kubeconfig).unwrap_or_default();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

/// Resident memory of all of the server's processes, MiB.
fn rss_mib(pids: &[u32]) -> f64 {
    let kib: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .sum();
    kib as f64 / 1024.0
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn measure(server: &Server) {
    let file = Kubeconfig::read_from(&server.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let ops = ClusterOps::new(client.clone());
    let idle = rss_mib(&server.pids);

    ops.create(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}))
        .await
        .expect("namespace");
    let refs: Vec<ObjectRef> = (0..OBJECTS)
        .map(|i| ObjectRef::new("v1", "ConfigMap", Some("bench"), &format!("cm-{i:04}")))
        .collect();
    let mut uids = Vec::new();
    for r in &refs {
        let created = ops
            .create(&json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": r.name, "namespace": "bench"}, "data": {"k": "v"}}))
            .await
            .expect("create")
            .expect("new");
        uids.push(created.metadata.uid.unwrap_or_default());
    }
    let pods: Api<Pod> = Api::namespaced(client, "bench");
    // Created 16 at a time: the set-up is not what is measured.
    futures::stream::iter(0..PODS)
        .map(|i| {
            let pods = pods.clone();
            async move {
                let pod = serde_json::from_value(json!({"metadata": {"name": format!("p-{i:05}"),
                    "labels": {"app": "bench"}},
                    "spec": {"containers": [{"name": "c", "image": "registry.example/app:1"}]}}))
                .expect("pod");
                pods.create(&PostParams::default(), &pod).await.expect("pod created");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;

    let mut get = Vec::new();
    for r in &refs {
        let t = Instant::now();
        ops.get(r).await.expect("get").expect("found");
        get.push(t.elapsed());
    }
    let mut list = Vec::new();
    for _ in 0..LISTS {
        let t = Instant::now();
        let items = ops.list("v1", "Pod", Some("bench")).await.expect("list");
        list.push(t.elapsed());
        assert_eq!(items.len(), PODS);
    }
    let mut patch = Vec::new();
    for r in &refs {
        let t = Instant::now();
        ops.merge_patch(r, &json!({"data": {"k": "w"}})).await.expect("patch");
        patch.push(t.elapsed());
    }
    let mut delete = Vec::new();
    for (r, uid) in refs.iter().zip(&uids) {
        let t = Instant::now();
        ops.delete_exact(r, uid).await.expect("delete");
        delete.push(t.elapsed());
    }
    let busy = rss_mib(&server.pids);
    println!(
        "{:<20} start-up {:>8}  RSS idle {:>7.1} MiB, after {PODS} pods {:>7.1} MiB  ({} processes)",
        server.name,
        ms(server.startup),
        idle,
        busy,
        server.pids.len()
    );
    println!(
        "{:<20} median GET {:>9}  LIST {PODS} pods {:>9}  merge PATCH {:>9}  DELETE {:>9}",
        "",
        ms(median(get)),
        ms(median(list)),
        ms(median(patch)),
        ms(median(delete))
    );
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken.
    let only = std::env::var("CHAOSDECK_BENCH_TARGETS").unwrap_or_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!(
        "same operations through chaosdeck's ClusterOps: {OBJECTS} ConfigMaps (GET, merge PATCH, DELETE by uid), LIST of {PODS} pods x{LISTS}"
    );
    let mut servers: Vec<fn(&Path) -> Server> = vec![sandbox];
    if only != "sandbox" {
        servers.push(real);
    }
    for start in servers {
        let server = start(dir.path());
        runtime.block_on(measure(&server));
        (server.stop)();
    }
}
