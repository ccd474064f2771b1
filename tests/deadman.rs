//! The dead man's switch through the real binaries, on the sandbox and on a real control
//! plane: a `chaosdeck run` holding a Lease and mirroring its entries, a `chaosdeck watchdog`
//! process undoing the run once the Lease expires — after SIGKILL, after a network partition,
//! with two watchdogs, across a watchdog's own crash — and bad mirrors left alone.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chaosdeck::deadman::mirror::{self, MirrorState};
use chaosdeck::journal::Entry;
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::Api;
use kube::api::ListParams;
use serde_json::json;
use support::proxy::{Proxy, upstream_of};
use support::world::{Lines, World, wait_exit};

const NS: &str = "chaosdeck-system";
const LEASE: u64 = 3;
const RENEW: u64 = 1;

async fn mirrors(world: &World) -> Vec<ConfigMap> {
    let api: Api<ConfigMap> = Api::namespaced(world.client(), NS);
    api.list(&ListParams::default().labels("chaosdeck.io/mirror=entry")).await.unwrap().items
}

/// Waits until the cluster is `want` again; the time it took, or None after `within`.
fn restored_within(world: &World, want: &str, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if world.snapshot() == want {
            return Some(started.elapsed());
        }
        if started.elapsed() > within {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `file` with the switch on until its last change, SIGKILLs it there and returns when
/// the run is dead (the chaos window is open: the change is in the cluster).
fn kill_in_chaos_window(world: &World, scenario_type: &str, file: &str, changes: usize) {
    let runner = world.accounts().runner.clone();
    let config = world.config_dead_man(scenario_type, &[file], &runner, LEASE, RENEW);
    let log = world.run_and_kill_after_change(&config, changes);
    assert!(log.contains("dead man's switch: Lease"), "{scenario_type}: switch not armed");
}

/// Every mirror recorded executed by one of `ids`, with who and when; returns them. The record
/// follows the undo, so the cluster may look restored a moment before: waits up to 10 s.
async fn all_executed(world: &World, ids: &[&str]) -> Vec<mirror::Mirror> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let read = loop {
        let read: Vec<_> =
            mirrors(world).await.iter().map(|cm| mirror::read(cm).unwrap()).collect();
        if read.iter().all(|m| m.state == MirrorState::Executed) || Instant::now() > deadline {
            break read;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for m in &read {
        assert_eq!(m.state, MirrorState::Executed, "{}: {:?}", m.name, m.outcome);
        let by = m.undone_by.as_ref().map(|u| u.by.as_str()).unwrap_or_default();
        assert!(ids.contains(&by), "{}: undone by {by:?}", m.name);
    }
    read
}

/// Reconcile retires every local entry as undone by the watchdog and removes the mirrors.
async fn reconciled(world: &World, id: &str) {
    let (code, out) = world.reconcile();
    assert_eq!(code, 0, "reconcile:\n{out}");
    assert!(out.contains(&format!("undone by {id}")), "{out}");
    assert_eq!(world.outstanding(), 0, "{out}");
    for (_, node) in world.tree().entries() {
        let text = std::fs::read_to_string(&node.path).unwrap();
        let entry = Entry::parse(&text).unwrap();
        if entry.not_applied.is_none() {
            assert_eq!(entry.undone_by.map(|u| u.by), Some(id.to_string()), "{}", node.file_name);
            // `show` (and the TUI's Inspector, which prints the same description) says who.
            let show = std::process::Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
                .arg("show")
                .arg(&node.path)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&show.stdout);
            assert!(text.contains("state:     executed"), "{text}");
            assert!(text.contains(&format!("undone by: {id} at ")), "{text}");
        }
    }
    // list-rollback says it too, in text and in --json.
    let list = |json: bool| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"));
        cmd.arg("list-rollback").arg("--dir").arg(world.journal());
        if json {
            cmd.arg("--json");
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    };
    let text = list(false);
    assert!(text.contains(&format!("undone by: {id} at ")), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&list(true)).unwrap();
    let undone: Vec<&serde_json::Value> = doc["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["entries"].as_array().unwrap())
        .filter(|e| e["undone_by"].is_string())
        .collect();
    assert!(!undone.is_empty(), "{doc}");
    for e in undone {
        assert!(e["undone_by"].as_str().unwrap().starts_with(&format!("{id} at ")), "{e}");
        assert_eq!(e["state"], "executed", "{e}");
    }
    assert!(mirrors(world).await.is_empty(), "reconcile leaves no mirror behind");
}

crate::on_both_targets! {
    async fn a_killed_run_is_undone_by_the_watchdog_in_every_scenario(target) {
        let w = World::new(target).await;
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(w.client(), "shop");
        let solo = serde_json::from_value(json!({"metadata": {"name": "solo"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
        pods.create(&Default::default(), &solo).await.unwrap();
        let before = w.steady();
        let (_watchdog, _lines) = w.watchdog("wd-1", &[]);
        let scenarios = [
            ("application_outages_scenarios", "app_outage.yaml", 1),
            ("hog_scenarios", "cpu-hog.yml", 2),
            ("service_hijacking_scenarios", "service_hijacking.yaml", 3),
            ("syn_flood_scenarios", "syn_flood.yaml", 2),
            ("http_load_scenarios", "http_load.yml", 2),
            // After the first kill: the bare pod (the second kills a Deployment's, no entry).
            ("pod_disruption_scenarios", "pod.yml", 1),
            ("node_scenarios", "node.yml", 2),
        ];
        for (scenario_type, file, changes) in scenarios {
            kill_in_chaos_window(&w, scenario_type, file, changes);
            assert!(w.outstanding() > 0, "{scenario_type}: the kill left nothing pending");
            let took = restored_within(&w, &before, Duration::from_secs(LEASE + 2));
            eprintln!("{scenario_type}: restored {took:?} after the SIGKILL (bound {LEASE} s + 2 s)");
            assert!(took.is_some(), "{scenario_type}: not restored within lease_duration + 2 s:\n{}", w.snapshot());
            let done = all_executed(&w, &["wd-1"]).await;
            assert!(!done.is_empty(), "{scenario_type}: no mirror");
            reconciled(&w, "wd-1").await;
            assert_eq!(w.settle(&before), before, "{scenario_type}: something came back");
        }
        w.shutdown().await;
    }

    /// A run under the switch carries its progress on its Lease (what `chaosdeck attach`
    /// shows): the scenario running with its step while the outage is on, and how it ended
    /// once stopped. Read back through the API server and decoded as attach decodes it.
    async fn a_run_publishes_its_progress_on_its_lease(target) {
        use chaosdeck::deadman::progress::{PROGRESS_ANNOTATION, Progress};
        use chaosdeck::scenario_status::ScenarioStatus;
        use k8s_openapi::api::coordination::v1::Lease;
        let w = World::new(target).await;
        let before = w.steady();
        let runner = w.accounts().runner.clone();
        let config = w.config_dead_man("application_outages_scenarios", &["long_outage.yaml"], &runner, 30, RENEW);
        let mut child = w.run(&config, None);
        let mut lines = Lines::of(&mut child);
        assert!(lines.wait_for("outage in shop", Duration::from_secs(60)), "{}", lines.rest());
        let leases: Api<Lease> = Api::namespaced(w.client(), NS);
        let progress = || async {
            let lease = leases.list(&ListParams::default()).await.unwrap().items.pop()?;
            let text = lease.metadata.annotations?.remove(PROGRESS_ANNOTATION)?;
            Some(Progress::decode(&text).unwrap())
        };
        // Written with the next renewal, at most a second after the step.
        let deadline = Instant::now() + Duration::from_secs(15);
        let seen = loop {
            let seen = progress().await;
            if seen.as_ref().is_some_and(|p| p.scenarios.first().is_some_and(|s| s.step.starts_with("outage in shop"))) || Instant::now() > deadline {
                break seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let seen = seen.unwrap_or_else(|| panic!("no progress on the Lease:\n{}", lines.rest()));
        assert_eq!(seen.state, "running", "{seen:?}");
        assert!(seen.scenarios[0].step.starts_with("outage in shop"), "{seen:?}");
        assert_eq!(seen.scenarios.len(), 1, "{seen:?}");
        let row = &seen.scenarios[0];
        assert_eq!((row.status, row.file.as_str()), (ScenarioStatus::Running, "long_outage.yaml"), "{seen:?}");
        assert!(!row.expected.is_zero(), "{seen:?}");
        // Stopped: the run rolls back, then releases (deletes) its Lease.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let code = wait_exit(&mut child, Duration::from_secs(60));
        assert_eq!(w.settle(&before), before, "{}", lines.rest());
        assert!(code.is_some(), "{}", lines.rest());
        assert!(progress().await.is_none(), "the Lease outlived the run");
        w.shutdown().await;
    }

    async fn a_partitioned_run_goes_read_only_before_the_watchdog_acts(target) {
        let w = World::new(target).await;
        let before = w.steady();
        let (_watchdog, mut watchdog_lines) = w.watchdog("wd-1", &[]);
        let runner = w.accounts().runner.clone();
        let proxy = Proxy::start(upstream_of(&runner)).await;
        let through = proxy.kubeconfig(&runner, w.dir.path());
        let config = w.config_dead_man("application_outages_scenarios", &["long_outage.yaml"], &through, 4, 1);
        let mut child = w.run(&config, None);
        let mut lines = Lines::of(&mut child);
        assert!(lines.wait_for("outage in shop", Duration::from_secs(60)), "{}", lines.rest());
        assert_ne!(w.changed_from(&before), before, "the outage is in the cluster");

        proxy.cut();
        assert!(lines.wait_for("READ-ONLY at ", Duration::from_secs(10)), "{}", lines.rest());
        let log = lines.rest();
        let read_only_at: jiff::Timestamp = log
            .lines()
            .find_map(|l| l.split("READ-ONLY at ").nth(1)?.split(':').take(3).collect::<Vec<_>>().join(":").parse().ok())
            .unwrap_or_else(|| panic!("no time in the read-only line:\n{log}"));
        assert!(watchdog_lines.wait_for("undone ", Duration::from_secs(20)), "{}", watchdog_lines.rest());
        let done = all_executed(&w, &["wd-1"]).await;
        for m in &done {
            let at: jiff::Timestamp = m.undone_by.as_ref().unwrap().at.parse().unwrap();
            assert!(read_only_at < at, "read-only at {read_only_at}, but {} undone at {at}", m.name);
        }
        assert_eq!(w.settle(&before), before, "the watchdog restored the cluster");

        proxy.heal();
        let code = wait_exit(&mut child, Duration::from_secs(60));
        let log = format!("{log}\n{}", lines.rest());
        assert_eq!(code, Some(1), "a read-only run ends non-zero:\n{log}");
        assert!(log.contains("reconcile: ") && log.contains("undone by wd-1"), "{log}");
        assert_eq!(w.outstanding(), 0, "{log}");
        // Nothing was re-applied after the partition healed.
        assert_eq!(w.settle(&before), before, "{log}");
        w.shutdown().await;
    }

    async fn two_watchdogs_apply_each_undo_once(target) {
        let w = World::new(target).await;
        let before = w.steady();
        let (_a, _la) = w.watchdog("wd-a", &[]);
        let (_b, _lb) = w.watchdog("wd-b", &[]);
        kill_in_chaos_window(&w, "service_hijacking_scenarios", "service_hijacking.yaml", 3);
        assert!(restored_within(&w, &before, Duration::from_secs(LEASE + 2)).is_some(), "{}", w.snapshot());
        let done = all_executed(&w, &["wd-a", "wd-b"]).await;
        assert_eq!(done.len(), 3);
        let events: Api<Event> = Api::namespaced(w.client(), NS);
        let mut undone: BTreeMap<String, usize> = BTreeMap::new();
        for e in events.list(&ListParams::default()).await.unwrap() {
            if e.reason.as_deref() == Some("Undone") {
                *undone.entry(e.involved_object.name.unwrap_or_default()).or_default() += 1;
            }
        }
        for m in &done {
            assert_eq!(undone.get(&m.name), Some(&1), "{}: {undone:?}", m.name);
            assert_eq!(m.attempts, 1, "{} recorded once", m.name);
        }
        // execute-rollback retires what the watchdog undid, saying who, instead of redoing it.
        let (code, out) = w.execute_rollback();
        assert_eq!(code, 0, "{out}");
        assert_eq!(out.matches("undone by wd-").count(), 3, "{out}");
        assert_eq!(w.outstanding(), 0, "{out}");
        assert!(mirrors(&w).await.is_empty(), "{out}");
        w.shutdown().await;
    }

    async fn a_restarted_watchdog_resumes_without_applying_twice(target) {
        let w = World::new(target).await;
        let before = w.steady();
        let (mut first, mut first_lines) =
            w.watchdog("wd-r", &[("CHAOSDECK_WATCHDOG_FAILPOINT", "hang-after-undo:1")]);
        kill_in_chaos_window(&w, "service_hijacking_scenarios", "service_hijacking.yaml", 3);
        assert!(first_lines.wait_for("failpoint: hanging after undo 1", Duration::from_secs(20)), "{}", first_lines.rest());
        unsafe { libc::kill(first.id() as i32, libc::SIGKILL) };
        let _ = first.wait();
        let half: Vec<_> = mirrors(&w).await.iter().map(|cm| mirror::read(cm).unwrap()).collect();
        assert!(half.iter().all(|m| m.state == MirrorState::Pending), "killed before recording");

        let (_second, _lines) = w.watchdog("wd-r", &[]);
        assert!(restored_within(&w, &before, Duration::from_secs(LEASE + 10)).is_some(), "{}", w.snapshot());
        let done = all_executed(&w, &["wd-r"]).await;
        assert_eq!(done.len(), 3, "nothing lost");
        // The undo the first watchdog applied was found done by the second, not applied again.
        let newest = done.iter().max_by_key(|m| m.order).unwrap();
        let outcome = newest.outcome.clone().unwrap_or_default();
        assert!(outcome.contains("already"), "{}: {outcome}", newest.name);
        for m in &done {
            assert_eq!(m.attempts, 1, "{} recorded once", m.name);
        }
        reconciled(&w, "wd-r").await;
        w.shutdown().await;
    }

    async fn bad_mirrors_are_skipped_never_executed_never_deleted(target) {
        let w = World::new(target).await;
        let watchdog_kubeconfig = w.accounts().watchdog.clone();
        let run = "0bad0bad-0000-4000-8000-000000000001";
        // Written by the admin, in its own name (the policies refuse anything else).
        let me = chaosdeck::cluster::whoami(&w.client()).await.unwrap();
        let author = json!({"chaosdeck.io/author": me.username, "chaosdeck.io/author-groups": me.encoded_groups()});
        let with_author = |extra: serde_json::Value| {
            let mut a = author.clone();
            a.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            a
        };
        let leases: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(w.client(), NS);
        let lease = serde_json::from_value(json!({
            "metadata": {"name": format!("chaosdeck-run-{run}"),
                         "labels": {"app.kubernetes.io/managed-by": "chaosdeck", "chaosdeck.io/run-uuid": run},
                         "annotations": author},
            "spec": {"holderIdentity": "gone", "leaseDurationSeconds": 1}})).unwrap();
        leases.create(&Default::default(), &lease).await.unwrap();
        // A well-formed entry that would delete the shop's ConfigMap if it were ever executed.
        let name = "chaosdeck-1700000000000000000-aaaaaaaa";
        let entry = format!(
            "format: 1\nrun_uuid: {run}\nscenario_type: x\nstep: s\ncreated_at: t\nwriter: {{pid: 1, host: h}}\n\
             mirror: {{namespace: {NS}, name: {name}}}\nundo:\n- action: delete\n  target: {{api_version: v1, kind: ConfigMap, namespace: shop, name: frontend-config}}\n"
        );
        let labels = json!({"app.kubernetes.io/managed-by": "chaosdeck", "chaosdeck.io/mirror": "entry",
                            "chaosdeck.io/run-uuid": run, "chaosdeck.io/state": "pending"});
        let cms: Api<ConfigMap> = Api::namespaced(w.client(), NS);
        let bad = [
            ("garbage", labels.clone(), with_author(json!({"chaosdeck.io/mirror-format": "1"})), "undo: [\n".to_string()),
            ("format", labels.clone(), with_author(json!({"chaosdeck.io/mirror-format": "99"})), entry.clone()),
            ("labels", json!({"app.kubernetes.io/managed-by": "someone", "chaosdeck.io/mirror": "entry",
                             "chaosdeck.io/run-uuid": run, "chaosdeck.io/state": "pending"}),
             with_author(json!({"chaosdeck.io/mirror-format": "1"})), entry.clone()),
        ];
        for (i, (why, labels, annotations, data)) in bad.iter().enumerate() {
            let cm = serde_json::from_value(json!({
                "metadata": {"name": if i == 0 { name.to_string() } else { format!("{name}{i}") },
                             "labels": labels, "annotations": annotations},
                "data": {"entry.yaml": data}})).unwrap();
            cms.create(&Default::default(), &cm).await.unwrap_or_else(|e| panic!("{why}: {e}"));
        }
        // Port 0 and the address the watchdog reports: a port picked here in advance could be
        // taken by another test's connection before the watchdog binds it.
        let mut watchdog = std::process::Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["watchdog", "--kubeconfig"]).arg(&watchdog_kubeconfig)
            .args(["--id", "wd-1", "--metrics-addr", "127.0.0.1:0"])
            .stderr(std::process::Stdio::piped()).spawn().unwrap();
        let mut lines = Lines::of(&mut watchdog);
        let _guard = support::world::Running(watchdog);
        let serving = "metrics on http://";
        assert!(lines.wait_for(serving, Duration::from_secs(30)), "{}", lines.rest());
        let metrics_addr = support::observe::served_addr(&lines.rest(), serving);
        let deadline = Instant::now() + Duration::from_secs(20);
        let events: Api<Event> = Api::namespaced(w.client(), NS);
        loop {
            let bad_events = events.list(&ListParams::default()).await.unwrap().items.into_iter()
                .filter(|e| e.reason.as_deref() == Some("BadMirror")).count();
            if bad_events >= 3 { break; }
            assert!(Instant::now() < deadline, "{bad_events} BadMirror events:\n{}", lines.rest());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Several more passes, with the run's Lease long expired.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let metrics = reqwest_like(&metrics_addr).await;
        assert!(metrics.contains("chaosdeck_watchdog_bad_mirrors 3"), "{metrics}");
        assert!(metrics.contains("chaosdeck_watchdog_bad_mirrors_reported_total 3"), "{metrics}");
        let shop: Api<ConfigMap> = Api::namespaced(w.client(), "shop");
        assert!(shop.get_opt("frontend-config").await.unwrap().is_some(), "a bad mirror was executed");
        assert_eq!(cms.list(&ListParams::default().labels("chaosdeck.io/mirror=entry")).await.unwrap().items.len(), 3,
            "every bad mirror is still there");
        let log = lines.rest();
        assert!(log.contains("not one this watchdog knows"), "{log}");
        assert!(log.contains("labels are not a chaosdeck mirror's"), "{log}");
        w.shutdown().await;
    }
}

/// GET /metrics over a plain TCP connection (no HTTP client crate in the tests).
async fn reqwest_like(addr: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// The watchdog as it is deployed: the image (`scripts/image build`), run as
/// deploy/watchdog.yaml's pod runs it (in-cluster credentials, `POD_NAME`, uid 65532,
/// read-only root, no capabilities; see [`World::watchdog_in_image`]). A killed run is undone
/// within lease_duration + 2 s, recorded under the pod's name; a SIGKILLed watchdog container
/// is replaced by a new one (the Deployment's restart) that undoes the next killed run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman, the image (scripts/image build) and the real control plane"]
async fn the_watchdog_image_undoes_a_killed_run_on_the_real_control_plane() {
    let w = World::new(support::cluster::Target::Real).await;
    let before = w.steady();
    let pod = "chaosdeck-watchdog-5d8c7b9f4-x2k7q";
    let (first, lines) = w.watchdog_in_image(pod);
    let mut lines = Some(lines);
    let scenarios = [
        ("application_outages_scenarios", "app_outage.yaml", 1),
        ("service_hijacking_scenarios", "service_hijacking.yaml", 3),
    ];
    let mut first = Some(first);
    for (scenario_type, file, changes) in scenarios {
        if first.is_none() {
            // The container the Deployment would start after the kill below.
            let (container, l) = w.watchdog_in_image(pod);
            first = Some(container);
            lines = Some(l);
        }
        kill_in_chaos_window(&w, scenario_type, file, changes);
        assert!(w.outstanding() > 0, "{scenario_type}: the kill left nothing pending");
        let took = restored_within(&w, &before, Duration::from_secs(LEASE + 2));
        eprintln!(
            "{scenario_type}: restored {took:?} after the SIGKILL, by the watchdog container \
             (bound {LEASE} s + 2 s)"
        );
        let log = lines.as_mut().map(|l| l.rest()).unwrap_or_default();
        assert!(
            took.is_some(),
            "{scenario_type}: not restored within lease_duration + 2 s:\n{}\nwatchdog:\n{log}",
            w.snapshot()
        );
        let done = all_executed(&w, &[pod]).await;
        assert_eq!(done.len(), changes, "{scenario_type}");
        reconciled(&w, pod).await;
        assert_eq!(w.settle(&before), before, "{scenario_type}: something came back");
        // The watchdog's own container dies too: the next run gets a fresh one.
        if let Some(container) = first.take() {
            container.kill();
        }
    }
    w.shutdown().await;
}

/// The demo of the README: `chaosdeck sandbox --watchdog` in one process, the shipped config's
/// run in another, killed during the outage; the sandbox restores itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_sandbox_restores_itself_after_the_run_is_killed() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("sandbox.kubeconfig");
    let mut sandbox = support::world::Running(
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["sandbox", "--watchdog", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut sandbox_log = Lines::of(&mut sandbox);
    assert!(sandbox_log.wait_for("watching Leases and mirrors", Duration::from_secs(30)));
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/config.yaml");
    let switch = chaosdeck::config::Config::load(&config).unwrap().dead_man_switch;
    assert!(switch.enabled, "the shipped demo config has the switch on");
    let mut run = support::world::Running(
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["run", "--headless", "--config"])
            .arg(&config)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--dir")
            .arg(dir.path().join("journal"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = Lines::of(&mut run);
    assert!(lines.wait_for("outage in shop", Duration::from_secs(60)), "{}", lines.rest());
    let client = support::cluster::client_for(&kubeconfig).await;
    let policies: Api<k8s_openapi::api::networking::v1::NetworkPolicy> =
        Api::namespaced(client, "shop");
    let deny = || async {
        policies
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|p| p.metadata.name.as_deref().unwrap_or("").starts_with("chaosdeck-deny"))
            .count()
    };
    assert_eq!(deny().await, 1, "the outage is on");
    unsafe { libc::kill(run.id() as i32, libc::SIGKILL) };
    let _ = run.wait();
    let killed = Instant::now();
    while deny().await > 0 {
        assert!(
            killed.elapsed() < Duration::from_secs(switch.lease_duration_secs + 5),
            "not restored within lease_duration + 5 s:\n{}",
            sandbox_log.rest()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        sandbox_log.wait_for("watchdog: undone", Duration::from_secs(5)),
        "{}",
        sandbox_log.rest()
    );
}

crate::on_both_targets! {
    async fn a_killed_pvc_fill_is_removed_by_the_watchdog(target) {
        killed_pvc_fill(target).await;
    }
}

/// A PVC fill killed in its chaos window: the mirror carries the typed removal, and the
/// watchdog, acting as the run's author, removes exactly that file through exec.
async fn killed_pvc_fill(target: support::cluster::Target) {
    use chaosdeck::cluster::ClusterOps;
    use chaosdeck::cluster::exec::{ContainerPath, ContainerTarget, DiskUsage, ExecCommand};
    let w = World::new(target).await;
    support::volumes::claim(&w.cluster, "payments", "ledger-data", "2Gi").await;
    let on = ("ledger", "/data");
    support::volumes::pod_on_claim(&w.cluster, "payments", "ledger-0", on, "ledger-data", &[])
        .await;
    let used = || async {
        let target = ContainerTarget {
            namespace: "payments".into(),
            pod: "ledger-0".into(),
            container: "ledger".into(),
            uid: None,
            restarts: None,
        };
        let df = ExecCommand::disk_usage(ContainerPath::parse("/data").unwrap());
        let (_, out) =
            ClusterOps::new(w.client()).exec(&target, &df, Duration::from_secs(5)).await.unwrap();
        DiskUsage::parse(&out.stdout).unwrap().used
    };
    let (_watchdog, mut lines) = w.watchdog("wd-1", &[]);
    kill_in_chaos_window(&w, "pvc_scenarios", "pvc_fill.yaml", 1);
    assert!(used().await > 1 << 30, "the claim is filled");
    let [m] = &mirrors(&w).await[..] else { panic!("one mirror") };
    let text = serde_json::to_string(&m.data).unwrap();
    assert!(text.contains("remove_file") && text.contains("chaosdeck-fill-"), "{text}");
    let killed = Instant::now();
    while used().await > 0 {
        assert!(
            killed.elapsed() < Duration::from_secs(LEASE + 5),
            "not removed within lease_duration + 5 s:\n{}",
            lines.rest()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("pvc fill removed {:?} after the SIGKILL", killed.elapsed());
    all_executed(&w, &["wd-1"]).await;
    reconciled(&w, "wd-1").await;
    w.shutdown().await;
}

crate::on_both_targets! {
    async fn a_killed_network_filter_is_stopped_by_the_watchdog(target) {
        killed_network_filter(target).await;
    }
}

/// A network filter killed in its chaos window: the watchdog, acting as the run's author, asks
/// each helper to remove its tagged rules and deletes it, well before the helpers' own
/// deadline (test_duration 3 s + grace 10 s) would.
async fn killed_network_filter(target: support::cluster::Target) {
    use k8s_openapi::api::core::v1::Pod;
    use support::helpers::{HELPER_SELECTOR, HelperNodes, rules};
    let w = World::new(target).await;
    let _nodes = HelperNodes::start(&w.cluster);
    let _ = w.steady();
    let (_watchdog, mut lines) = w.watchdog("wd-1", &[]);
    kill_in_chaos_window(&w, "network_chaos_ng_scenarios", "pod_network_filter.yaml", 3);
    let killed = Instant::now();
    let mirrored = mirrors(&w).await;
    assert_eq!(mirrored.len(), 3);
    let text = serde_json::to_string(&mirrored[0].data).unwrap();
    assert!(text.contains("stop_helper") && text.contains("chaosdeck-helper-"), "{text}");
    let helpers: Api<Pod> = Api::namespaced(w.client(), "shop");
    let selector = ListParams::default().labels(HELPER_SELECTOR);
    let mut seen_rules = false;
    loop {
        let in_force = rules(&w.cluster);
        seen_rules |= !in_force.is_empty();
        let left = helpers.list(&selector).await.unwrap().items.len();
        if seen_rules && in_force.is_empty() && left == 0 {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(LEASE + 5),
            "rules {in_force:?} and {left} helpers left after lease_duration + 5 s:\n{}",
            lines.rest()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("network filter stopped {:?} after the SIGKILL", killed.elapsed());
    all_executed(&w, &["wd-1"]).await;
    reconciled(&w, "wd-1").await;
    w.shutdown().await;
}
