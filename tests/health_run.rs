//! Health checks in a run of the real binary, headless, against a cluster held by the test:
//! `exit_on_failure: True` stops the run and rolls back (exit 1, nothing pending), the report
//! carries every check, and the built-in readiness checks work on both targets.
//!
//! The service-proxy checks are sandbox-only: on the real control plane (kwok) no pod process
//! answers behind a Service, so the API server's proxy fails whatever the chaos does; the
//! built-in readiness checks read the API only and are what works there.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::cluster::Target;
use support::observe::{assert_promtool_accepts, http, read_json, served_addr};
use support::world::{Lines, Running, World, wait_exit};

fn run(w: &World, config: &Path, report: &Path) -> Running {
    Running(
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["run", "--headless", "--config"])
            .arg(config)
            .arg("--report")
            .arg(report)
            .args(w.confirmation())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// `w.config(...)` with a `health_checks:` section appended.
fn with_health(w: &World, scenario_type: &str, file: &str, health: &str) -> PathBuf {
    let path = w.config(scenario_type, &[file], true, 0);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(health);
    std::fs::write(&path, text).unwrap();
    path
}

async fn settled(w: &World) {
    if let Some(sandbox) = w.cluster.sandbox() {
        assert!(sandbox.wait_settled(Duration::from_secs(30)).await, "the demo never settled");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_on_failure_stops_the_run_and_rolls_the_outage_back() {
    let w = World::new(Target::Sandbox).await;
    settled(&w).await;
    // A 300 s outage of the frontend: only the health check can end this run early.
    let config = with_health(
        &w,
        "application_outages_scenarios",
        "long_outage.yaml",
        "health_checks:\n    interval: 1\n    config:\n        - url: /api/v1/namespaces/shop/services/frontend:80/proxy/\n          exit_on_failure: True\n        - url: /api/v1/namespaces/shop/services/cart:80/proxy/\n          exit_on_failure: False\n",
    );
    let report_path = w.dir.path().join("report.json");
    let mut child = run(&w, &config, &report_path);
    let mut lines = Lines::of(&mut child);
    // The guard only stops a hang; the outage itself would last 300 s.
    let code = wait_exit(&mut child, Duration::from_secs(120));
    let log = lines.rest();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("has exit_on_failure: stopping the run and rolling back"), "{log}");
    assert_eq!(w.outstanding(), 0, "nothing of the run may stay pending:\n{log}");
    assert!(w.executed() >= 1, "the outage's entry was undone by the rollback:\n{log}");

    let r = read_json(&report_path);
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["scenarios"][0]["result"], "stopped", "{r:#}");
    assert_eq!(r["scenarios"][0]["rolled_back"], true, "{r:#}");
    assert!(r["pending"].as_array().unwrap().is_empty(), "{r:#}");
    let checks = r["health"]["checks"].as_array().unwrap();
    let frontend = &checks[0];
    assert_eq!(frontend["name"], "svc shop/frontend:80");
    assert_eq!(frontend["exit_on_failure"], true);
    assert!(frontend["failures_during_chaos"].as_u64().unwrap() >= 1, "{r:#}");
    assert_eq!(frontend["outages"][0]["during_chaos"], true, "{r:#}");
    // The cart Service is not in the outage, and the frontend's Deployment stays Ready (a
    // NetworkPolicy does not touch readiness).
    assert_eq!(checks[1]["failures"], 0, "{r:#}");
    let deploy = checks.iter().find(|c| c["name"] == "deploy shop/frontend").unwrap();
    assert_eq!(deploy["kind"], "workload");
    assert_eq!(deploy["failures"], 0, "{r:#}");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs promtool"]
async fn health_metrics_follow_the_outage_and_promtool_accepts_them() {
    let w = World::new(Target::Sandbox).await;
    settled(&w).await;
    let config = with_health(
        &w,
        "application_outages_scenarios",
        "long_outage.yaml",
        "health_checks:\n    interval: 1\n    config:\n        - url: /api/v1/namespaces/shop/services/frontend:80/proxy/\n",
    );
    let report_path = w.dir.path().join("report.json");
    let mut child = Running(
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["run", "--headless", "--metrics-addr", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--report")
            .arg(&report_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = Lines::of(&mut child);
    assert!(lines.wait_for("FAILING 503", Duration::from_secs(60)), "{}", lines.rest());
    let log = lines.rest();
    let (_, text) = http(&served_addr(&log, "metrics: serving http://"), "GET", "/metrics");
    let labels = r#"{check="svc shop/frontend:80",kind="http"}"#;
    assert!(text.contains(&format!("chaosdeck_health_up{labels} 0")), "{text}");
    assert!(!text.contains(&format!("chaosdeck_health_failures_total{labels} 0")), "{text}");
    assert!(text.contains("# TYPE chaosdeck_health_latency_seconds histogram"), "{text}");
    assert_promtool_accepts(&text);
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(wait_exit(&mut child, Duration::from_secs(60)), Some(130), "{}", lines.rest());
    assert_eq!(w.outstanding(), 0);
    w.shutdown().await;
}

crate::on_both_targets! {
    /// No `health_checks:` section: the pod disruption's targets are still followed.
    async fn builtin_readiness_follows_the_targeted_deployment(target) {
        let w = World::new(target).await;
        settled(&w).await;
        let config = w.config("pod_disruption_scenarios", &["pod.yml"], true, 0);
        let report_path = w.dir.path().join("report.json");
        let mut child = run(&w, &config, &report_path);
        let mut lines = Lines::of(&mut child);
        let code = wait_exit(&mut child, Duration::from_secs(300));
        let log = lines.rest();
        assert!(code.is_some() && report_path.exists(), "{code:?}\n{log}");
        let r = read_json(&report_path);
        let checks = r["health"]["checks"].as_array().unwrap();
        let cart = checks.iter().find(|c| c["name"] == "deploy shop/cart");
        let cart = cart.unwrap_or_else(|| panic!("no readiness row for shop/cart: {r:#}"));
        assert_eq!(cart["kind"], "workload");
        assert!(cart["samples"].as_u64().unwrap() >= 1, "{r:#}");
        assert!(cart["last"].as_str().unwrap().ends_with("ready"), "{r:#}");
        w.shutdown().await;
    }
}

/// A health-check URL with credentials in it (user-info and a token in the query) is shown
/// redacted everywhere it appears: the run's log, `/metrics`, the report and JUnit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_a_health_check_url_appear_nowhere() {
    let w = World::new(Target::Sandbox).await;
    settled(&w).await;
    // Port 1 on loopback: nothing answers, the check fails, its name is printed each round.
    let config = with_health(
        &w,
        "application_outages_scenarios",
        "app_outage.yaml",
        "health_checks:\n    interval: 1\n    config:\n        - url: http://probe:pa55w0rd@127.0.0.1:1/healthz?token=t0k3n\n",
    );
    let report = w.dir.path().join("report.json");
    let junit = w.dir.path().join("junit.xml");
    let mut child = Running(
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["run", "--headless", "--metrics-addr", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--report")
            .arg(&report)
            .arg("--junit")
            .arg(&junit)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = Lines::of(&mut child);
    assert!(lines.wait_for("FAILING", Duration::from_secs(60)), "{}", lines.rest());
    let log = lines.rest();
    let (_, metrics) = http(&served_addr(&log, "metrics: serving http://"), "GET", "/metrics");
    let code = wait_exit(&mut child, Duration::from_secs(60));
    let log = format!("{log}{}", lines.rest());
    assert_eq!(code, Some(0), "{log}");
    let report = std::fs::read_to_string(&report).unwrap();
    let junit = std::fs::read_to_string(&junit).unwrap();
    for (what, text) in
        [("log", &log), ("metrics", &metrics), ("report", &report), ("junit", &junit)]
    {
        assert!(!text.contains("pa55w0rd") && !text.contains("t0k3n"), "{what}:\n{text}");
    }
    assert!(metrics.contains(r#"check="***@127.0.0.1:1/healthz?token=***""#), "{metrics}");
    w.shutdown().await;
}
