//! The dead man's switch, end to end with the real binaries: `chaosdeck run` holding a Lease
//! (lease_duration 10 s, renew 2 s) is SIGKILLed in its chaos window with 1 and with 100
//! outstanding entries, and the time until `chaosdeck watchdog` has the cluster restored is
//! measured; then the watchdog's idle CPU and RSS while it watches 1,000 Leases. The 1-entry
//! run is `chaosdeck run` (an application outage); the 100-entry one is this bench re-run as a
//! child that arms the switch and makes 100 changes through the scenario context.
//!
//! `cargo bench --bench deadman`. The API server is `chaosdeck sandbox` in its own process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

const LEASE: u64 = 10;
const RENEW: u64 = 2;
const PODS: usize = 100;
const IDLE_LEASES: usize = 1000;
const IDLE_SECONDS: u64 = 30;

/// A child process killed when dropped, on a panic too.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
}

/// Starts `args` and waits for a stderr or stdout line containing `marker`.
fn start(mut cmd: Command, marker: &str, stdout: bool) -> Killed {
    if stdout {
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("chaosdeck starts");
    let out: Box<dyn std::io::Read + Send> = if stdout {
        Box::new(child.stdout.take().expect("piped"))
    } else {
        Box::new(child.stderr.take().expect("piped"))
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let marker = marker.to_string();
    std::thread::spawn(move || {
        let mut told = false;
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if !told && line.contains(&marker) {
                let _ = tx.send(());
                told = true;
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("the marker line");
    Killed(child)
}

async fn client(kubeconfig: &Path) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

fn config(dir: &Path, kubeconfig: &Path, scenario_type: &str, scenario: &str) -> PathBuf {
    let file = dir.join(format!("{scenario_type}.scenario.yaml"));
    std::fs::write(&file, scenario).expect("scenario file");
    let path = dir.join(format!("{scenario_type}.config.yaml"));
    let text = format!(
        "kraken:\n  kubeconfig_path: {}\n  rollback_versions_directory: {}\n  chaos_scenarios:\n    - {scenario_type}:\n      - {}\ntunings: {{wait_duration: 0, iterations: 1}}\nchaosdeck:\n  cluster: kubeconfig\n  dead_man_switch: {{enabled: true, lease_duration: {LEASE}, renew: {RENEW}}}\n",
        kubeconfig.display(),
        dir.join("journal").display(),
        file.display()
    );
    std::fs::write(&path, text).expect("config file");
    path
}

/// Runs `config` until its `changes`-th change, SIGKILLs it, and returns the kill time.
fn kill_after(config: &Path, changes: usize) -> Instant {
    let mut cmd = bin();
    cmd.args(["run", "--headless", "--config"])
        .arg(config)
        .env("CHAOSDECK_FAILPOINT", format!("hang-after-change:{changes}"));
    let run = start(cmd, "failpoint: hanging after change", false);
    let killed = Instant::now();
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(run.0.id() as i32, libc::SIGKILL) };
    drop(run);
    killed
}

async fn wait_until<F, Fut>(what: &str, mut done: F) -> Instant
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(LEASE * 6 + 60);
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not restored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Instant::now()
}

/// (utime + stime in clock ticks, VmRSS in KiB) of a process.
fn usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = fields.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (ticks, rss)
}

/// Set in the child that plays the operator: the kubeconfig to use.
const CHILD_ENV: &str = "CHAOSDECK_BENCH_OPERATOR";

/// The operator: arms the switch and makes 100 changes through the scenario context, then
/// waits to be killed.
async fn operator(kubeconfig: PathBuf) {
    use chaosdeck::scenarios::ctx::CtxParams;
    use chaosdeck::scenarios::needs::{CONFIGMAP, Forward};
    use chaosdeck::scenarios::{Need, Op, ScenarioCtx};
    let client = client(&kubeconfig).await;
    let switch = chaosdeck::config::DeadManSwitch {
        enabled: true,
        lease_duration_secs: LEASE,
        renew_secs: RENEW,
        namespace: "chaosdeck-system".into(),
    };
    let run_uuid = uuid::Uuid::new_v4().to_string();
    let (run, fenced) = chaosdeck::deadman::arm(client, &switch, &run_uuid).await.expect("armed");
    let journal_dir = std::env::var_os("CHAOSDECK_BENCH_JOURNAL").expect("journal dir");
    let target = chaosdeck::cluster::ClusterTarget {
        context: "chaosdeck-sandbox".into(),
        server: String::new(),
    };
    let identity = chaosdeck::cluster::identify(&fenced, &target).await;
    let journal = chaosdeck::journal::Journal::open(PathBuf::from(journal_dir))
        .expect("journal")
        .for_cluster(identity)
        .mirrored_in("chaosdeck-system");
    let (_pause, paused) = tokio::sync::watch::channel(false);
    let ctx = ScenarioCtx::new(CtxParams {
        ops: std::sync::Arc::new(chaosdeck::cluster::ClusterOps::new(fenced)),
        journal,
        run_uuid,
        scenario_type: "bench".into(),
        scenario_file: "bench".into(),
        index: 0,
        dry_run: false,
        cancel: tokio_util::sync::CancellationToken::new(),
        protected_namespaces: vec![],
        allow_protected: false,
        events: std::sync::Arc::new(|_| {}),
        paused,
        needs: vec![Need::new(Op::Change(Forward::Create), CONFIGMAP, Some("payments"))],
        armed: Some(run.armed.clone()),
    });
    for i in 0..PODS {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("bench-{i}"), "namespace": "payments",
                         "labels": {"bench": "deadman"}},
            "data": {"k": "v"}});
        ctx.create("bench change", cm).await.expect("change");
    }
    println!("made {PODS} changes");
    std::future::pending::<()>().await;
    drop(run);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Some(kubeconfig) = std::env::var_os(CHILD_ENV) {
        return operator(PathBuf::from(kubeconfig)).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("sandbox.kubeconfig");
    let mut cmd = bin();
    cmd.args(["sandbox", "--port", "0", "--seed", "demo", "--kubeconfig-out"]).arg(&kubeconfig);
    let _sandbox = start(cmd, "Press Ctrl-C", true);
    let client = client(&kubeconfig).await;
    // The watchdog as the sandbox knows it: a token naming its ServiceAccount.
    let watchdog_kubeconfig = dir.path().join("watchdog.kubeconfig");
    let server = std::fs::read_to_string(&kubeconfig)
        .expect("kubeconfig")
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: ").map(str::to_string))
        .expect("server");
    let text = chaosdeck::sandbox::kubeconfig::yaml_for(
        &server,
        Some(chaosdeck::sandbox::switch_policy::WATCHDOG),
    );
    std::fs::write(&watchdog_kubeconfig, text).expect("watchdog kubeconfig");
    let mut cmd = bin();
    cmd.args(["watchdog", "--kubeconfig"]).arg(&watchdog_kubeconfig).args(["--id", "bench"]);
    let watchdog = start(cmd, "watching Leases and mirrors", false);

    println!(
        "dead man's switch, lease_duration {LEASE} s, renew {RENEW} s, sandbox in its own process"
    );

    // 1 entry: a deny-all NetworkPolicy.
    let outage = "application_outage:\n  duration: 600\n  namespace: shop\n  pod_selector: {app: frontend}\n  block: [Ingress]\n";
    let one = config(dir.path(), &kubeconfig, "application_outages_scenarios", outage);
    let killed = kill_after(&one, 1);
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), "shop");
    let restored = wait_until("1 entry", || {
        let policies = policies.clone();
        async move {
            policies.list(&ListParams::default()).await.is_ok_and(|l| {
                l.items.iter().all(|p| {
                    !p.metadata.name.as_deref().unwrap_or("").starts_with("chaosdeck-deny")
                })
            })
        }
    })
    .await;
    println!("  1 entry:    SIGKILL -> restored {:>6.2} s", (restored - killed).as_secs_f64());

    // 100 entries: a run that made 100 changes through the scenario context (each one
    // journaled and mirrored first), killed while all are outstanding.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "payments");
    let mut child = Command::new(std::env::current_exe().expect("this bench"));
    child.env(CHILD_ENV, &kubeconfig).env("CHAOSDECK_BENCH_JOURNAL", dir.path().join("journal100"));
    let operator = start(child, "made 100 changes", true);
    let present = cms.list(&ListParams::default().labels("bench=deadman")).await.expect("list");
    assert_eq!(present.items.len(), PODS, "the operator made its changes");
    let killed = Instant::now();
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(operator.0.id() as i32, libc::SIGKILL) };
    drop(operator);
    let restored = wait_until("100 entries", || {
        let cms = cms.clone();
        async move {
            cms.list(&ListParams::default().labels("bench=deadman"))
                .await
                .is_ok_and(|l| l.items.is_empty())
        }
    })
    .await;
    println!(
        "  {PODS} entries: SIGKILL -> restored {:>6.2} s (floor: lease_duration {LEASE} s)",
        (restored - killed).as_secs_f64()
    );

    // Idle: 1,000 held Leases (an hour long, so none expires while measured), no mirrors.
    let leases: Api<Lease> = Api::namespaced(client.clone(), "chaosdeck-system");
    for i in 0..IDLE_LEASES {
        let lease = serde_json::from_value(json!({
            "metadata": {"name": format!("chaosdeck-run-idle-{i}"),
                         "labels": {"app.kubernetes.io/managed-by": "chaosdeck",
                                    "chaosdeck.io/run-uuid": format!("idle-{i}")}},
            "spec": {"holderIdentity": "bench", "leaseDurationSeconds": 3600}}))
        .expect("lease");
        leases.create(&PostParams::default(), &lease).await.expect("create lease");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = watchdog.0.id();
    let (t0, _) = usage(pid);
    tokio::time::sleep(Duration::from_secs(IDLE_SECONDS)).await;
    let (t1, rss) = usage(pid);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = (t1 - t0) as f64 / hz / IDLE_SECONDS as f64 * 100.0;
    println!(
        "  idle, {IDLE_LEASES} Leases watched: CPU {cpu:.2} % of one core over {IDLE_SECONDS} s, RSS {:.1} MiB",
        rss as f64 / 1024.0
    );
}
