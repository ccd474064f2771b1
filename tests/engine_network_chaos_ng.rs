//! `network_chaos_ng_scenarios` through the real binary, on both targets: for
//! `pod_network_filter`, success, an injected failure and SIGKILL then `execute-rollback` leave
//! no rule and no helper pod, and a run SIGKILLed with nobody undoing it has its rules removed
//! by the helpers themselves at `test_duration` + grace; `node_network_filter`,
//! `pod_network_chaos` and `node_network_chaos` pass and are undone after a SIGKILL. The sandbox models the helper; on the test
//! bed the real `chaosdeck helper` runs as a process per helper pod ([`HelperNodes`]) and the
//! undo's exec reaches it through kube-apiserver and kwok.
//!
//! The health checks through the service proxy (red during the filter, green after; slow during
//! netem latency) are sandbox-only: behind the test bed's Services no process answers.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use support::cluster::Target;
use support::helpers::{HELPER_SELECTOR, HelperNodes};
use support::observe::read_json;
use support::world::{Lines, Running, World, until, wait_exit};

fn plain_config(w: &World) -> PathBuf {
    w.config("network_chaos_ng_scenarios", &["pod_network_filter.yaml"], true, 0)
}

fn config(w: &World) -> PathBuf {
    with_health(w, plain_config(w))
}

fn with_health(w: &World, path: PathBuf) -> PathBuf {
    let _ = w;
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        "health_checks:\n    interval: 1\n    config:\n        - url: /api/v1/namespaces/shop/services/frontend:80/proxy/\n",
    );
    std::fs::write(&path, text).unwrap();
    path
}

async fn helper_pods(w: &World) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(w.client(), "shop");
    pods.list(&ListParams::default().labels(HELPER_SELECTOR)).await.unwrap().items
}

fn rules(w: &World) -> Vec<String> {
    support::helpers::rules(&w.cluster)
}

async fn settled(w: &World) {
    let _ = w.steady();
}

/// Helper pods gone (their deletion finishes a moment after the undo).
async fn no_helpers(w: &World) -> bool {
    until(Duration::from_secs(10), async || helper_pods(w).await.is_empty()).await.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_filter_turns_the_health_check_red_then_green() {
    let w = World::new(Target::Sandbox).await;
    settled(&w).await;
    let report = w.dir.path().join("report.json");
    let mut child = Running(
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["run", "--headless", "--config"])
            .arg(config(&w))
            .arg("--report")
            .arg(&report)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = Lines::of(&mut child);
    let code = wait_exit(&mut child, Duration::from_secs(90));
    let log = lines.rest();
    assert_eq!(code, Some(0), "{log}");
    let r = read_json(&report);
    let check = &r["health"]["checks"][0];
    assert_eq!(check["name"], "svc shop/frontend:80", "{r:#}");
    assert!(check["failures_during_chaos"].as_u64().unwrap() >= 1, "{r:#}");
    assert_eq!(check["outages"][0]["during_chaos"], true, "{r:#}");
    // Green again after the helpers stopped (the 2 s wait_duration is sampled too).
    assert!(check["outages"][0]["ended_at"].is_string(), "{r:#}");
    assert_eq!(check["last"], "200", "{r:#}");
    w.shutdown().await;
}

crate::on_both_targets! {
    async fn the_filter_leaves_nothing_behind(target) {
        lifecycles(target).await;
    }
}

async fn lifecycles(target: Target) {
    let w = World::new(target).await;
    let _nodes = HelperNodes::start(&w.cluster);
    settled(&w).await;
    let config = plain_config(&w);

    // 1. Success: three helpers, their rules read back through them, then stopped.
    let (code, log) = w.run_to_exit(&config, None, Duration::from_secs(120));
    assert_eq!(code, Some(0), "success run:\n{log}");
    assert!(log.matches("DROP tcp port 8080 ingress of pod shop/frontend-").count() >= 3, "{log}");
    assert_eq!(w.outstanding(), 0, "{log}");
    assert!(rules(&w).is_empty(), "{:?}", rules(&w));
    assert!(no_helpers(&w).await, "{log}");

    // 2. A failure right after the first helper: the rollback stops it.
    let (code, log) = w.run_to_exit(&config, Some("fail-after-change:1"), Duration::from_secs(120));
    assert_eq!(code, Some(1), "failure run:\n{log}");
    assert!(log.contains("rollback done"), "{log}");
    assert_eq!(w.outstanding(), 0, "{log}");
    assert!(rules(&w).is_empty(), "{:?}", rules(&w));
    assert!(no_helpers(&w).await, "{log}");

    // 3. SIGKILL after each change: execute-rollback asks each helper to remove its tagged
    //    rules (0 left), then deletes it.
    for k in 1..=3 {
        w.run_and_kill_after_change(&config, k);
        let applied = until(Duration::from_secs(10), async || rules(&w).len() == k).await;
        assert!(applied.is_some(), "after change {k}: {:?}", rules(&w));
        assert!(rules(&w).iter().all(|r| r.contains("--comment \"chaosdeck-")), "{:?}", rules(&w));
        let (code, out) = w.execute_rollback();
        assert_eq!(code, 0, "after change {k}: execute-rollback:\n{out}");
        assert_eq!(w.outstanding(), 0, "{out}");
        assert!(rules(&w).is_empty(), "{:?}", rules(&w));
        assert!(no_helpers(&w).await, "helper pods left after execute-rollback:\n{out}");
    }

    // 4. SIGKILL with nobody undoing: the helpers remove their rules at test_duration 3 s +
    //    grace 10 s by themselves; the undo then finds nothing tagged and deletes the pods.
    w.run_and_kill_after_change(&config, 3);
    let killed = Instant::now();
    assert!(until(Duration::from_secs(10), async || rules(&w).len() == 3).await.is_some());
    let removed = until(Duration::from_secs(30), async || rules(&w).is_empty()).await;
    let after = killed.elapsed();
    assert!(removed.is_some(), "rules still in force {after:?} after the SIGKILL");
    assert!(after <= Duration::from_secs(3 + 10 + 3), "removed only {after:?} after the kill");
    eprintln!(
        "helper deadline ({target:?}): rules gone {:.2} s after the SIGKILL",
        after.as_secs_f64()
    );
    assert_eq!(w.outstanding(), 3);
    let (code, out) = w.execute_rollback();
    assert_eq!(code, 0, "execute-rollback:\n{out}");
    if target == Target::Sandbox {
        // The sandbox's kubelet ended the helper pods; kwok keeps them Running.
        assert!(
            out.contains("is not running (it never started, or it removed its fault and exited 0)"),
            "{out}"
        );
    }
    assert!(no_helpers(&w).await, "{out}");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs kubectl"]
async fn kubectl_sees_the_tagged_rules_through_the_helper() {
    let w = World::new(Target::Sandbox).await;
    settled(&w).await;
    w.run_and_kill_after_change(&config(&w), 1);
    assert!(until(Duration::from_secs(10), async || rules(&w).len() == 1).await.is_some());
    let helper = helper_pods(&w).await.remove(0);
    let name = helper.metadata.name.unwrap();
    let tag = name.strip_prefix("chaosdeck-helper-").unwrap().to_string();
    let status = w.kubectl(&[
        "exec",
        "-n",
        "shop",
        &name,
        "-c",
        "helper",
        "--",
        "chaosdeck",
        "helper",
        "status",
        "--tag",
        &tag,
    ]);
    assert!(
        status.contains(&format!("--dport 8080 -m comment --comment \"chaosdeck-{tag}\" -j DROP")),
        "{status}"
    );
    assert!(
        status.trim_end().ends_with(&format!("chaosdeck-helper: 1 rules tagged {tag}")),
        "{status}"
    );
    let hand = w.kubectl(&[
        "exec",
        "-n",
        "shop",
        &name,
        "-c",
        "helper",
        "--",
        "chaosdeck",
        "helper",
        "remove",
        "--tag",
        &tag,
    ]);
    assert!(
        hand.trim_end().ends_with(&format!("chaosdeck-helper: 0 rules tagged {tag}")),
        "{hand}"
    );
    assert!(rules(&w).is_empty());
    let (code, out) = w.execute_rollback();
    assert_eq!(code, 0, "{out}");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netem_latency_slows_the_health_check_and_ends_with_the_run() {
    let w = World::new(Target::Sandbox).await;
    settled(&w).await;
    let cfg = w.config("network_chaos_ng_scenarios", &["pod_network_chaos.yaml"], true, 0);
    let cfg = with_health(&w, cfg);
    let report = w.dir.path().join("report.json");
    let mut child = Running(
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["run", "--headless", "--config"])
            .arg(&cfg)
            .arg("--report")
            .arg(&report)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = Lines::of(&mut child);
    let code = wait_exit(&mut child, Duration::from_secs(90));
    let log = lines.rest();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("netem delay 300ms on eth0 of pod shop/frontend-"), "{log}");
    let r = read_json(&report);
    let check = &r["health"]["checks"][0];
    assert!(check["max_latency_ms"].as_u64().unwrap() >= 300, "{r:#}");
    assert_eq!(check["failures"], 0, "{r:#}");
    assert!(rules(&w).is_empty(), "{:?}", rules(&w));
    w.shutdown().await;
}

crate::on_both_targets! {
    async fn every_module_is_undone_however_the_run_ends(target) {
        modules(target).await;
    }
}

async fn modules(target: Target) {
    let w = World::new(target).await;
    let _nodes = HelperNodes::start(&w.cluster);
    settled(&w).await;
    // (file, helpers, what the log names, what is in force per helper)
    let cases = [
        (
            "node_network_filter.yaml",
            3,
            "DROP tcp port 2309 egress of node sandbox-worker-",
            "--dport 2309",
        ),
        (
            "pod_network_chaos.yaml",
            3,
            "netem delay 300ms on eth0 of pod shop/frontend-",
            "delay 300ms",
        ),
        (
            "node_network_chaos.yaml",
            1,
            "netem loss 10% rate 1mbit on eth0 of node sandbox-worker-2",
            "loss 10% rate 1mbit",
        ),
    ];
    for (file, helpers, says, held) in cases {
        let cfg = w.config("network_chaos_ng_scenarios", &[file], true, 0);
        let (code, log) = w.run_to_exit(&cfg, None, Duration::from_secs(120));
        assert_eq!(code, Some(0), "{file}:\n{log}");
        assert_eq!(log.matches(says).count(), helpers, "{file} (one entry each):\n{log}");
        if file == "node_network_filter.yaml" {
            assert!(log.contains("node sandbox-control-plane runs the control plane"), "{log}");
        }
        assert_eq!(w.outstanding(), 0, "{file}:\n{log}");
        assert!(rules(&w).is_empty(), "{file}: {:?}", rules(&w));
        assert!(no_helpers(&w).await, "{file}:\n{log}");

        // An injected failure right after the first helper: the rollback stops it.
        let (code, log) =
            w.run_to_exit(&cfg, Some("fail-after-change:1"), Duration::from_secs(120));
        assert_eq!(code, Some(1), "{file} failure run:\n{log}");
        assert!(log.contains("rollback done"), "{file}:\n{log}");
        assert_eq!(w.outstanding(), 0, "{file}:\n{log}");
        assert!(rules(&w).is_empty(), "{file}: {:?}", rules(&w));
        assert!(no_helpers(&w).await, "{file}:\n{log}");

        // SIGKILL after every change, then execute-rollback.
        for k in 1..=helpers {
            w.run_and_kill_after_change(&cfg, k);
            let applied = until(Duration::from_secs(10), async || rules(&w).len() == k).await;
            assert!(applied.is_some(), "{file} after change {k}: {:?}", rules(&w));
            assert!(rules(&w).iter().all(|r| r.contains(held)), "{file}: {:?}", rules(&w));
            let (code, out) = w.execute_rollback();
            assert_eq!(code, 0, "{file} after change {k}: execute-rollback:\n{out}");
            assert_eq!(w.outstanding(), 0, "{file}:\n{out}");
            assert!(rules(&w).is_empty(), "{file}: {:?}", rules(&w));
            assert!(no_helpers(&w).await, "{file}:\n{out}");
        }

        // SIGKILL with nobody undoing: the helpers remove the fault by themselves at
        // test_duration 3 s + grace 10 s.
        w.run_and_kill_after_change(&cfg, helpers);
        let killed = Instant::now();
        assert!(
            until(Duration::from_secs(10), async || rules(&w).len() == helpers).await.is_some()
        );
        let removed = until(Duration::from_secs(30), async || rules(&w).is_empty()).await;
        assert!(
            removed.is_some(),
            "{file}: still in force {:?} after the SIGKILL",
            killed.elapsed()
        );
        assert!(
            killed.elapsed() <= Duration::from_secs(3 + 10 + 3),
            "{file}: {:?}",
            killed.elapsed()
        );
        let (code, out) = w.execute_rollback();
        assert_eq!(code, 0, "{file}:\n{out}");
        assert!(no_helpers(&w).await, "{file}:\n{out}");
    }
    w.shutdown().await;
}

crate::on_both_targets! {
    async fn an_interface_comes_back_by_itself(target) {
        interface_down(target).await;
    }
}

async fn interface_down(target: Target) {
    let w = World::new(target).await;
    let _nodes = HelperNodes::start(&w.cluster);
    settled(&w).await;
    let cfg = w.config("network_chaos_ng_scenarios", &["node_interface_down.yaml"], true, 0);

    // 1. Success: down for recovery_time, back up by the helper's own deadline, pod deleted.
    let (code, log) = w.run_to_exit(&cfg, None, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("link down eth0 of node sandbox-worker-2 for 3 s"), "{log}");
    assert_eq!(w.outstanding(), 0, "{log}");
    assert!(rules(&w).is_empty(), "{:?}", rules(&w));
    assert!(no_helpers(&w).await, "{log}");

    // 2. An injected failure right after the helper is created. A helper not yet running is
    //    deleted at once; one already running has cut its node off, so the rollback cannot
    //    reach it and leaves the entry pending, saying why — then the helper brings the link
    //    back at recovery_time and the next execute-rollback finishes.
    let (code, log) = w.run_to_exit(&cfg, Some("fail-after-change:1"), Duration::from_secs(120));
    assert_eq!(code, Some(1), "{log}");
    let up = until(Duration::from_secs(10), async || rules(&w).is_empty()).await;
    assert!(up.is_some(), "{:?}", rules(&w));
    if w.outstanding() > 0 {
        assert!(log.contains("error dialing backend"), "{log}");
        let (code, out) = w.execute_rollback();
        assert_eq!(code, 0, "{out}");
    }
    assert_eq!(w.outstanding(), 0, "{log}");
    assert!(no_helpers(&w).await, "{log}");

    // 3. SIGKILL while the node is cut off.
    w.run_and_kill_after_change(&cfg, 1);
    let killed = Instant::now();
    assert!(
        until(Duration::from_secs(10), async || rules(&w) == ["dev eth0: down"]).await.is_some()
    );
    if target == Target::Sandbox {
        // Nobody can reach the helper now (kube-apiserver cannot dial the node): the undo
        // fails and the entry stays pending, saying why.
        let (code, out) = w.execute_rollback();
        assert_ne!(code, 0, "{out}");
        assert!(out.contains("error dialing backend"), "{out}");
        assert_eq!(w.outstanding(), 1);
    }
    let back = until(Duration::from_secs(15), async || rules(&w).is_empty()).await;
    assert!(back.is_some(), "eth0 still down {:?} after the SIGKILL", killed.elapsed());
    eprintln!(
        "interface down ({target:?}): up again {:.2} s after the SIGKILL",
        killed.elapsed().as_secs_f64()
    );
    assert!(killed.elapsed() <= Duration::from_secs(3 + 3));
    let (code, out) = w.execute_rollback();
    assert_eq!(code, 0, "{out}");
    assert_eq!(w.outstanding(), 0, "{out}");
    assert!(no_helpers(&w).await, "{out}");
    w.shutdown().await;
}

/// The same filter in the TUI (tmux, 100×30): the frontend's check row turns red while the
/// helpers hold their rules and green again once they are stopped, before the run ends.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs tmux"]
async fn the_tui_shows_the_check_red_during_the_filter_and_green_after() {
    let w = World::new(Target::Sandbox).await;
    settled(&w).await;
    let cfg = config(&w);
    let bin = assert_cmd::cargo::cargo_bin("chaosdeck");
    let shell =
        format!("{} run --config {}; echo EXIT=$?; sleep 120", bin.display(), cfg.display());
    let socket = format!("chaosdeck-netfilter-{}", std::process::id());
    let tmux = support::tmux::Tmux::start(socket, 100, 30, &shell, &[("NO_COLOR", "1")]);
    let red = tmux.wait_for(&["✗ svc shop/frontend:80"], Duration::from_secs(60));
    assert!(red.contains("503"), "{red}");
    let green = tmux.wait_for(&["✓ svc shop/frontend:80", "passed"], Duration::from_secs(60));
    assert!(!green.contains("failing"), "{green}");
    tmux.keys("q");
    tmux.wait_for(&["EXIT=0"], Duration::from_secs(30));
    assert_eq!(w.outstanding(), 0);
    assert!(rules(&w).is_empty(), "{:?}", rules(&w));
    w.shutdown().await;
}

/// A helper that ended with a non-zero exit (its removal failed, or it was killed) cannot
/// vouch for its fault: the undo says so and leaves the entry pending instead of reporting a
/// success it cannot know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_that_died_is_not_taken_at_its_word() {
    let w = World::new(Target::Sandbox).await;
    settled(&w).await;
    w.run_and_kill_after_change(&plain_config(&w), 1);
    assert!(until(Duration::from_secs(10), async || rules(&w).len() == 1).await.is_some());
    let helper = helper_pods(&w).await.remove(0);
    let name = helper.metadata.name.clone().unwrap();
    let pods: Api<Pod> = Api::namespaced(w.client(), "shop");
    let died = serde_json::json!({"status": {"phase": "Failed", "containerStatuses": [{
        "name": "helper", "ready": false, "restartCount": 0, "image": "chaosdeck", "imageID": "",
        "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
    }]}});
    pods.patch_status(&name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&died))
        .await
        .unwrap();
    let (code, out) = w.execute_rollback();
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("ended with exit code 137, so its fault may still be in force"), "{out}");
    assert_eq!(w.outstanding(), 1);
    assert_eq!(helper_pods(&w).await.len(), 1, "the pod is left for the operator to look at");
    w.shutdown().await;
}
