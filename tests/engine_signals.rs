//! Signals at any moment of a run (Krkn D6 swallows them between scenarios), exit codes,
//! the safety rails, dry runs and the shipped demo config.

mod support;

use std::process::Command;
use std::time::Duration;

use support::cluster::Target;
use support::world::{Lines, World, wait_exit};

fn signal(child: &std::process::Child, sig: i32) {
    unsafe { libc::kill(child.id() as i32, sig) };
}

crate::on_both_targets! {
    async fn sigterm_during_a_scenario_rolls_back_and_exits_143(target) {
        let w = World::new(target).await;
        let before = w.steady();
        let config = w.config("application_outages_scenarios", &["long_outage.yaml"], true, 0);
        let mut child = w.run(&config, None);
        let mut lines = Lines::of(&mut child);
        assert!(lines.wait_for("journal: wrote", Duration::from_secs(30)), "{}", lines.rest());
        assert_ne!(w.changed_from(&before), before, "the outage is in place");
        signal(&child, libc::SIGTERM);
        // The scenario lasts 300 s: exiting within the hang guard means the signal stopped it.
        let code = wait_exit(&mut child, Duration::from_secs(60));
        let log = lines.rest();
        assert_eq!(code, Some(143), "{log}");
        assert!(log.contains("rollback done: 1 executed"), "{log}");
        assert_eq!(w.outstanding(), 0);
        assert_eq!(w.settle(&before), before);
        w.shutdown().await;
    }
}

crate::on_both_targets! {
    async fn sigint_between_scenarios_stops_the_run_with_130(target) {
        let w = World::new(target).await;
        let config = w.config(
            "application_outages_scenarios",
            &["app_outage.yaml", "app_outage.yaml"],
            true,
            300,
        );
        let mut child = w.run(&config, None);
        let mut lines = Lines::of(&mut child);
        assert!(lines.wait_for("engine Waiting", Duration::from_secs(30)), "{}", lines.rest());
        signal(&child, libc::SIGINT);
        let code = wait_exit(&mut child, Duration::from_secs(10));
        let log = lines.rest();
        assert_eq!(code, Some(130), "the signal in the wait must not be swallowed:\n{log}");
        assert_eq!(
            log.matches("started (iteration").count(),
            1,
            "the second scenario must not start:\n{log}"
        );
        assert_eq!(w.outstanding(), 0);
        w.shutdown().await;
    }
}

crate::on_both_targets! {
    async fn sighup_without_auto_rollback_leaves_the_entry_for_execute_rollback(target) {
        let w = World::new(target).await;
        let before = w.steady();
        let config = w.config("application_outages_scenarios", &["long_outage.yaml"], false, 0);
        let mut child = w.run(&config, None);
        let mut lines = Lines::of(&mut child);
        assert!(lines.wait_for("journal: wrote", Duration::from_secs(30)), "{}", lines.rest());
        signal(&child, libc::SIGHUP);
        let code = wait_exit(&mut child, Duration::from_secs(30));
        let log = lines.rest();
        assert_eq!(code, Some(129), "{log}");
        let stdout =
            child.stdout.take().map(std::io::read_to_string).and_then(Result::ok).unwrap_or_default();
        assert!(stdout.contains("undo them with: chaosdeck execute-rollback"), "{stdout}");
        assert_eq!(w.outstanding(), 1, "auto_rollback off: the entry stays pending");
        assert_ne!(w.snapshot(), before);
        let (code, out) = w.execute_rollback();
        assert_eq!(code, 0, "{out}");
        assert_eq!(w.settle(&before), before);
        w.shutdown().await;
    }
}

crate::on_both_targets! {
    async fn dry_run_touches_nothing_and_writes_no_entry(target) {
        let w = World::new(target).await;
        let before = w.steady();
        let config = w.config("service_hijacking_scenarios", &["service_hijacking.yaml"], true, 0);
        let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["run", "--headless", "--dry-run", "--config"])
            .arg(&config)
            .args(w.confirmation())
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{log}");
        assert!(log.contains("dry run: would patch Service shop/frontend"), "{log}");
        assert!(log.contains("dry run: would create Pod shop/chaosdeck-hijack-"), "{log}");
        assert_eq!(w.snapshot(), before);
        assert_eq!(w.tree().entries().count(), 0);
        w.shutdown().await;
    }
}

crate::on_both_targets! {
    async fn protected_namespaces_are_refused(target) {
        let w = World::new(target).await;
        let before = w.steady();
        let config = w.config("application_outages_scenarios", &["kube_system_outage.yaml"], true, 0);
        let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["run", "--headless", "--config"])
            .arg(&config)
            .args(w.confirmation())
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{log}");
        assert!(log.contains("namespace kube-system is protected"), "{log}");
        assert_eq!(w.snapshot(), before);
        w.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_cluster_needs_its_context_named() {
    let w = World::new(Target::Sandbox).await;
    // Same server, but a context name that is not the sandbox's: treated as a real cluster.
    let text =
        std::fs::read_to_string(w.kubeconfig()).unwrap().replace("chaosdeck-sandbox", "prod-eu");
    let kubeconfig = w.dir.path().join("prod.kubeconfig");
    std::fs::write(&kubeconfig, text).unwrap();
    let config = w.config("application_outages_scenarios", &["app_outage.yaml"], true, 0);
    let run = |extra: &[&str]| {
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["run", "--headless", "--config"])
            .arg(&config)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes-i-mean-it prod-eu"));
    let out = run(&["--yes-i-mean-it", "staging"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--yes-i-mean-it", "prod-eu"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    w.shutdown().await;
}

#[test]
fn unknown_scenario_types_and_bad_files_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad_outage.yaml");
    std::fs::write(&bad, "application_outage:\n  duration: soon\n  namespace: shop\n").unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "kraken:\n  chaos_scenarios:\n    - time_scenarios:\n        - x.yml\n    - application_outages_scenarios:\n        - {}\n",
            bad.display()
        ),
    )
    .unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .args(["run", "--headless", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(log.contains("scenario type \"time_scenarios\" is not supported"), "{log}");
    assert!(log.contains("supported: application_outages_scenarios, hog_scenarios"), "{log}");
    assert!(
        log.contains(&format!("{}:2:", bad.display())),
        "scenario errors name file and line:\n{log}"
    );
}

fn check_scenario_files_load(dir: &std::path::Path, files: &[(&str, &str)]) {
    use chaosdeck::scenarios::find;
    for (scenario_type, file) in files {
        let result = find(scenario_type).unwrap().load(&dir.join(file));
        let plan = result.unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!plan.describe().is_empty());
    }
}

#[test]
fn krkns_scenario_files_load() {
    check_scenario_files_load(
        &support::krkn_data().join("scenarios"),
        &[
            ("pod_disruption_scenarios", "pod.yml"),
            ("pod_disruption_scenarios", "pod_etcd.yml"),
            ("application_outages_scenarios", "app_outage.yaml"),
            ("hog_scenarios", "cpu-hog.yml"),
            ("hog_scenarios", "memory-hog.yml"),
            ("hog_scenarios", "io-hog.yml"),
            ("http_load_scenarios", "http_load_scenario.yml"),
            ("syn_flood_scenarios", "syn_flood.yaml"),
            ("service_hijacking_scenarios", "service_hijacking.yaml"),
            ("node_scenarios", "node_scenarios_example.yml"),
            ("pvc_scenarios", "pvc_scenario.yaml"),
            ("container_scenarios", "container_etcd.yml"),
            ("service_disruption_scenarios", "regex_namespace.yaml"),
        ],
    );
}

#[test]
#[ignore = "needs ../shared/fixtures"]
fn krkns_shared_scenario_files_load() {
    check_scenario_files_load(
        &support::fixtures().join("krkn-scenarios"),
        &[
            ("pod_disruption_scenarios", "scenarios_kube_pod.yml"),
            ("pod_disruption_scenarios", "scenarios_kind_pod_etcd.yml"),
            ("application_outages_scenarios", "scenarios_openshift_app_outage.yaml"),
            ("hog_scenarios", "scenarios_kube_cpu-hog.yml"),
            ("hog_scenarios", "scenarios_kube_memory-hog.yml"),
            ("hog_scenarios", "scenarios_kube_io-hog.yml"),
            ("http_load_scenarios", "scenarios_kube_http_load_scenario.yml"),
            ("syn_flood_scenarios", "scenarios_kube_syn_flood.yaml"),
            ("service_hijacking_scenarios", "scenarios_kube_service_hijacking.yaml"),
            ("node_scenarios", "scenarios_kind_node_scenarios_example.yml"),
            ("pvc_scenarios", "scenarios_kind_pvc_scenario.yaml"),
            ("container_scenarios", "scenarios_kube_container_dns.yml"),
            ("service_disruption_scenarios", "scenarios_openshift_regex_namespace.yaml"),
        ],
    );
}

/// `config` (relative to the repository) runs headless on its sandbox; its stdout.
fn run_shipped(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let stdout_path = dir.path().join("stdout");
    let stderr_path = dir.path().join("stderr");
    let mut child = support::world::Running(
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["run", "--headless", "--config", config, "--dir"])
            .arg(dir.path().join("journal"))
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap(),
    );
    // The demos take under a minute; the limit only keeps a hung run from hanging the suite.
    let code = wait_exit(&mut child, Duration::from_secs(600));
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("nothing of this run is pending"), "{stdout}");
    stdout
}

#[test]
fn the_shipped_demo_config_runs_green_headless() {
    let stdout = run_shipped("config/config.yaml");
    assert_eq!(stdout.matches("  passed ").count(), 3, "{stdout}");
}

#[test]
fn the_shipped_containers_config_runs_green_headless() {
    let stdout = run_shipped("config/containers.yaml");
    assert_eq!(stdout.matches("  passed ").count(), 3, "{stdout}");
}

crate::on_both_targets! {
    async fn a_second_signal_does_not_cut_the_rollback_short(target) {
        let w = World::new(target).await;
        let before = w.steady();
        let config = w.config("service_hijacking_scenarios", &["service_hijacking.yaml"], true, 0);
        let mut child = w.run(&config, Some("hang-after-change:3"));
        let mut lines = Lines::of(&mut child);
        assert!(lines.wait_for("failpoint: hanging", Duration::from_secs(30)), "{}", lines.rest());
        // Two different signals: identical ones would coalesce while the first is pending.
        signal(&child, libc::SIGTERM);
        signal(&child, libc::SIGINT);
        let code = wait_exit(&mut child, Duration::from_secs(30));
        let log = lines.rest();
        // Pending signals are delivered lowest number first: either may be the one that stops.
        assert!(matches!(code, Some(130 | 143)), "{code:?}\n{log}");
        assert!(log.contains("rollback in progress and will finish"), "{log}");
        assert!(log.contains("rollback done: 3 executed, 0 failed"), "all three undone:\n{log}");
        assert_eq!(w.outstanding(), 0);
        assert_eq!(w.settle(&before), before);
        w.shutdown().await;
    }
}

crate::on_both_targets! {
    async fn a_third_signal_exits_at_once_and_the_journal_stays_usable(target) {
        let w = World::new(target).await;
        let before = w.steady();
        let config = w.config("service_hijacking_scenarios", &["service_hijacking.yaml"], true, 0);
        let mut child = w.run(&config, Some("hang-after-change:3"));
        let mut lines = Lines::of(&mut child);
        assert!(lines.wait_for("failpoint: hanging", Duration::from_secs(30)), "{}", lines.rest());
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            signal(&child, sig);
        }
        let code = wait_exit(&mut child, Duration::from_secs(30));
        let log = lines.rest();
        assert!(matches!(code, Some(129 | 130 | 143)), "{code:?}\n{log}");
        assert!(log.contains("third signal, exiting now"), "{log}");
        // Whatever the rollback got to, every entry is whole: pending or executed, never torn.
        let tree = chaosdeck::journal::scan(&w.journal()).unwrap();
        assert!(tree.entries().all(|(_, e)| e.state != chaosdeck::journal::EntryState::Invalid));
        let (code, out) = w.execute_rollback();
        assert_eq!(code, 0, "{out}");
        assert_eq!(w.outstanding(), 0);
        assert_eq!(w.settle(&before), before);
        w.shutdown().await;
    }
}

crate::on_both_targets! {
    /// `chaosdeck run --headless 2>&1 | grep -m1 'outage in shop'`: grep exits after its line,
    /// in the middle of a 300 s outage. The run notices its output is gone, stops and rolls the
    /// outage back as for SIGTERM, and exits 128+13 — it used to abort (134) with the outage left
    /// in place. And `--dry-run | head -3` ends quietly the same way.
    async fn a_closed_output_pipe_stops_and_rolls_back(target) {
        let w = World::new(target).await;
        let before = w.steady();
        let config = w.config("application_outages_scenarios", &["long_outage.yaml"], true, 0);
        let run = format!(
            "{} run --headless --config {} {}",
            assert_cmd::cargo::cargo_bin("chaosdeck").display(),
            config.display(),
            w.confirmation().join(" ")
        );
        let text = piped(format!("{run} 2>&1 | grep -m1 'outage in shop'")).await;
        assert!(text.contains("outage in shop"), "{text}");
        assert!(text.contains("exit=141"), "{text}");
        assert_eq!(w.outstanding(), 0, "{text}");
        assert_eq!(w.settle(&before), before, "the outage was left in place:\n{text}");

        let text = piped(format!("{run} --dry-run 2>&1 | head -1 >/dev/null")).await;
        assert!(!text.contains("exit=134"), "aborted: {text}");
        assert!(text.contains("exit=0") || text.contains("exit=141"), "{text}");
        w.shutdown().await;
    }
}

/// Runs `pipeline` in bash and returns what it printed, with `exit=<code of its first command>`.
async fn piped(pipeline: String) -> String {
    let script = format!("{pipeline}; echo \"exit=${{PIPESTATUS[0]}}\"");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("bash").arg("-c").arg(script).output().unwrap()
    })
    .await
    .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
