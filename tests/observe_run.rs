//! Observability of a run, with the real binary, headless, against a sandbox held by the test:
//! `--metrics-addr` serves `chaosdeck_*` metrics that promtool accepts and a real Prometheus
//! server scrapes; the Krkn-compatible status endpoint pauses, resumes and stops the run;
//! `--report` and `--junit` describe it. One file, so one test binary to build.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::cluster::Target;
use support::observe::{assert_promtool_accepts, http, read_json, served_addr, tool};
use support::world::{Lines, World, wait_exit};

fn signal(child: &Child, sig: i32) {
    unsafe { libc::kill(child.id() as i32, sig) };
}

fn run_with(config: &Path, extra: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .args(["run", "--headless", "--config"])
        .arg(config)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `needle`, counting lines already read by `Lines::rest` (which `served_addr` needs).
fn until(lines: &mut Lines, needle: &str, within: Duration) -> bool {
    lines.rest().contains(needle) || lines.wait_for(needle, within)
}

fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs promtool"]
async fn metrics_endpoint_serves_chaosdeck_metrics_that_promtool_accepts() {
    let w = World::new(Target::Sandbox).await;
    let config = w.config(
        "application_outages_scenarios",
        &["app_outage.yaml", "app_outage.yaml"],
        true,
        300,
    );
    let mut child = run_with(&config, &["--metrics-addr", "127.0.0.1:0"]);
    let mut lines = Lines::of(&mut child);
    assert!(lines.wait_for("metrics: serving", Duration::from_secs(30)), "{}", lines.rest());
    assert!(lines.wait_for("engine Waiting", Duration::from_secs(60)), "{}", lines.rest());
    let addr = served_addr(&lines.rest(), "metrics: serving");
    let (status, text) = http(&addr, "GET", "/metrics");
    assert_eq!(status, 200, "{text}");

    let t = r#"{scenario_type="application_outages_scenarios"}"#;
    assert_eq!(sample(&text, &format!("chaosdeck_scenarios_run_total{t}")), Some(1.0), "{text}");
    assert_eq!(sample(&text, &format!("chaosdeck_scenarios_passed_total{t}")), Some(1.0), "{text}");
    assert_eq!(sample(&text, &format!("chaosdeck_scenarios_failed_total{t}")), Some(0.0), "{text}");
    assert_eq!(
        sample(&text, &format!("chaosdeck_scenario_duration_seconds_count{t}")),
        Some(1.0),
        "{text}"
    );
    let written = sample(&text, "chaosdeck_journal_entries_written_total").unwrap_or(0.0);
    assert!(written >= 1.0, "the outage writes an entry ahead of its change:\n{text}");
    assert_eq!(sample(&text, "chaosdeck_cluster_changes_total"), Some(written), "{text}");
    assert_eq!(sample(&text, "chaosdeck_journal_entries_pending"), Some(0.0), "{text}");
    assert_eq!(sample(&text, r#"chaosdeck_engine_state{state="waiting"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"chaosdeck_engine_state{state="running"}"#), Some(0.0), "{text}");
    assert_eq!(sample(&text, "chaosdeck_emergency_rollbacks_total"), Some(0.0), "{text}");
    assert!(text.contains("chaosdeck_rollback_duration_seconds_count"), "{text}");
    // Every family has help text, and every name is ours.
    for family in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let name = family.split_whitespace().next().unwrap_or_default();
        assert!(name.starts_with("chaosdeck_"), "{name}");
        assert!(text.contains(&format!("# HELP {name} ")), "no help for {name}:\n{text}");
    }

    assert_promtool_accepts(&text);

    signal(&child, libc::SIGINT);
    let code = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(code, Some(130), "{}", lines.rest());
    w.shutdown().await;
}

/// Kills the Prometheus server this test started, even when an assertion fails.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus"]
async fn a_real_prometheus_server_scrapes_the_run() {
    let prometheus = tool("prometheus");
    let w = World::new(Target::Sandbox).await;
    let config = w.config(
        "application_outages_scenarios",
        &["app_outage.yaml", "app_outage.yaml"],
        true,
        300,
    );
    let mut child = run_with(&config, &["--metrics-addr", "127.0.0.1:0"]);
    let mut lines = Lines::of(&mut child);
    assert!(lines.wait_for("metrics: serving", Duration::from_secs(30)), "{}", lines.rest());
    let addr = served_addr(&lines.rest(), "metrics: serving");

    let dir = tempfile::tempdir().unwrap();
    let prom_config = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: chaosdeck\n    static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    // Port 0, then the address Prometheus reports it bound: no window for another process
    // to take a port picked in advance.
    let mut server = Server(
        Command::new(&prometheus)
            .arg(format!("--config.file={}", prom_config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg("--web.listen-address=127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut prom_log = Lines::of(&mut server.0);
    let listening = "msg=\"Listening on\"";
    assert!(prom_log.wait_for(listening, Duration::from_secs(60)), "{}", prom_log.rest());
    let log_so_far = prom_log.rest();
    let web = log_so_far
        .lines()
        .find(|l| l.contains(listening))
        .and_then(|l| l.split("address=").nth(1))
        .and_then(|a| a.split_whitespace().next())
        .unwrap_or_else(|| panic!("no bound address in:\n{log_so_far}"))
        .to_string();

    assert!(until(&mut lines, "engine Waiting", Duration::from_secs(60)), "{}", lines.rest());
    // The first scenario passed; wait until Prometheus has scraped that.
    let query = "/api/v1/query?query=chaosdeck_scenarios_passed_total%7Bjob%3D%22chaosdeck%22%7D";
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    let found = loop {
        // Scrapes happen on Prometheus's schedule: poll its API, with the deadline as a guard.
        let (status, body) = http(&web, "GET", query);
        if status == 200
            && body.contains(r#""scenario_type":"application_outages_scenarios""#)
            && body.contains(r#","1"]"#)
        {
            break true;
        }
        last = body;
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(found, "Prometheus never saw the passed scenario: {last}\n{}", prom_log.rest());
    let (_, state) =
        http(&web, "GET", "/api/v1/query?query=chaosdeck_engine_state%7Bstate%3D%22waiting%22%7D");
    assert!(state.contains(r#""__name__":"chaosdeck_engine_state""#), "{state}");

    drop(server);
    signal(&child, libc::SIGINT);
    let code = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(code, Some(130), "{}", lines.rest());
    w.shutdown().await;
}

/// `config` with extra `kraken:` keys (World::config writes the common part).
fn with_kraken(config: &Path, keys: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    std::fs::write(config, text.replacen("kraken:\n", &format!("kraken:\n{keys}"), 1)).unwrap();
}

const STATUS_KEYS: &str =
    "    publish_kraken_status: True\n    signal_address: 127.0.0.1\n    port: 0\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_endpoint_starts_paused_and_post_run_resumes() {
    let w = World::new(Target::Sandbox).await;
    let config =
        w.config("application_outages_scenarios", &["app_outage.yaml", "app_outage.yaml"], true, 0);
    with_kraken(&config, &format!("{STATUS_KEYS}    signal_state: PAUSE\n"));
    let mut child = run_with(&config, &[]);
    let mut lines = Lines::of(&mut child);
    assert!(lines.wait_for("status: serving", Duration::from_secs(30)), "{}", lines.rest());
    let addr = served_addr(&lines.rest(), "status: serving");
    assert!(until(&mut lines, "engine Paused", Duration::from_secs(30)), "{}", lines.rest());
    assert_eq!(http(&addr, "GET", "/"), (200, "PAUSE".to_string()));
    assert!(
        !lines.wait_for("run finished", Duration::from_secs(4)),
        "a paused run must not finish:\n{}",
        lines.rest()
    );
    assert_eq!(http(&addr, "POST", "/RUN"), (200, "RUN".to_string()));
    assert_eq!(http(&addr, "GET", "/"), (200, "RUN".to_string()));
    let code = wait_exit(&mut child, Duration::from_secs(60));
    let log = lines.rest();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(log.matches("] passed").count(), 2, "{log}");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_endpoint_post_stop_stops_the_run_and_rolls_back() {
    let w = World::new(Target::Sandbox).await;
    let before = w.steady();
    let config = w.config("application_outages_scenarios", &["long_outage.yaml"], true, 0);
    with_kraken(&config, STATUS_KEYS);
    let mut child = run_with(&config, &[]);
    let mut lines = Lines::of(&mut child);
    assert!(lines.wait_for("status: serving", Duration::from_secs(30)), "{}", lines.rest());
    let addr = served_addr(&lines.rest(), "status: serving");
    assert!(until(&mut lines, "journal: wrote", Duration::from_secs(30)), "{}", lines.rest());
    assert_eq!(http(&addr, "GET", "/"), (200, "RUN".to_string()));
    assert_eq!(http(&addr, "POST", "/STOP"), (200, "STOP".to_string()));
    // The scenario lasts 300 s: exiting within the hang guard means /STOP stopped it.
    let code = wait_exit(&mut child, Duration::from_secs(60));
    let log = lines.rest();
    assert_eq!(code, Some(1), "stopped by the operator:\n{log}");
    assert!(log.contains("rollback done: 1 executed"), "{log}");
    assert_eq!(w.outstanding(), 0);
    assert_eq!(w.settle(&before), before);
    w.shutdown().await;
}

/// Crude well-formedness: every opened element is closed, in order.
fn assert_balanced(xml: &str) {
    let mut open = Vec::new();
    for tag in xml.split('<').skip(1).filter_map(|t| t.split_once('>').map(|(t, _)| t)) {
        if tag.starts_with('?') || tag.ends_with('/') {
            continue;
        }
        let name = tag.trim_start_matches('/').split_whitespace().next().unwrap_or_default();
        if tag.starts_with('/') {
            assert_eq!(open.pop(), Some(name.to_string()), "{xml}");
        } else {
            open.push(name.to_string());
        }
    }
    assert!(open.is_empty(), "unclosed {open:?}:\n{xml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_and_junit_describe_a_passed_run() {
    let w = World::new(Target::Sandbox).await;
    let config = w.config("application_outages_scenarios", &["app_outage.yaml"], true, 0);
    let report = w.dir.path().join("report.json");
    let junit = w.dir.path().join("junit.xml");
    let mut child = run_with(
        &config,
        &["--report", report.to_str().unwrap(), "--junit", junit.to_str().unwrap()],
    );
    let mut lines = Lines::of(&mut child);
    let code = wait_exit(&mut child, Duration::from_secs(60));
    let log = lines.rest();
    assert_eq!(code, Some(0), "{log}");
    let stdout =
        child.stdout.take().map(std::io::read_to_string).and_then(Result::ok).unwrap_or_default();

    let r = read_json(&report);
    let uuid = r["run_uuid"].as_str().unwrap_or_default();
    assert!(!uuid.is_empty() && stdout.contains(&format!("run {uuid} finished")), "{r}\n{stdout}");
    // Like the journal: the owner's only.
    for file in [&report, &junit] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    assert_eq!(r["config"].as_str(), config.to_str(), "{r}");
    assert_eq!(r["exit_code"], 0, "{r}");
    let scenarios = r["scenarios"].as_array().cloned().unwrap_or_default();
    assert_eq!(scenarios.len(), 1, "{r}");
    let s = &scenarios[0];
    assert_eq!(s["result"], "passed", "{r}");
    assert_eq!(s["scenario_type"], "application_outages_scenarios", "{r}");
    assert!(s["duration_secs"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
    assert!(s["started_at"].is_string() && s["finished_at"].is_string(), "{r}");
    assert!(!s["steps"].as_array().cloned().unwrap_or_default().is_empty(), "{r}");
    let entries = r["entries"].as_array().cloned().unwrap_or_default();
    assert!(!entries.is_empty(), "{r}");
    for e in &entries {
        assert_eq!(e["scenario"], 0, "{r}");
        assert!(e["fate"] == "retired" || e["fate"] == "executed", "{r}");
    }
    assert_eq!(r["pending"].as_array().map(Vec::len), Some(0), "{r}");

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{xml}");
    assert!(xml.contains("<testsuites name=\"chaosdeck\" tests=\"1\" failures=\"0\""), "{xml}");
    assert_eq!(xml.matches("<testcase classname=\"application_outages_scenarios\"").count(), 1);
    assert!(!xml.contains("<failure") && !xml.contains("<error"), "{xml}");
    assert_balanced(&xml);
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_lists_what_an_interrupted_run_left_pending() {
    let w = World::new(Target::Sandbox).await;
    let config = w.config("application_outages_scenarios", &["long_outage.yaml"], false, 0);
    let report = w.dir.path().join("report.json");
    let junit = w.dir.path().join("junit.xml");
    let mut child = run_with(
        &config,
        &["--report", report.to_str().unwrap(), "--junit", junit.to_str().unwrap()],
    );
    let mut lines = Lines::of(&mut child);
    assert!(lines.wait_for("journal: wrote", Duration::from_secs(30)), "{}", lines.rest());
    signal(&child, libc::SIGHUP);
    let code = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(code, Some(129), "{}", lines.rest());

    let r = read_json(&report);
    assert_eq!(r["exit_code"], 129, "{r}");
    assert_eq!(r["scenarios"][0]["result"], "stopped", "{r}");
    assert_eq!(r["scenarios"][0]["rolled_back"], false, "{r}");
    let pending = r["pending"].as_array().cloned().unwrap_or_default();
    assert_eq!(pending.len(), 1, "{r}");
    assert_eq!(w.outstanding(), 1);
    let entries = r["entries"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1, "{r}");
    assert_eq!(entries[0]["fate"], "pending", "{r}");
    assert_eq!(entries[0]["path"], pending[0], "{r}");

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("errors=\"1\""), "{xml}");
    assert!(xml.contains("<error message=\"stopped\""), "{xml}");
    assert_balanced(&xml);
    let (code, out) = w.execute_rollback();
    assert_eq!(code, 0, "{out}");
    w.shutdown().await;
}

/// Every `chaosdeck_*` sample name /metrics can serve (histograms with their suffixes).
fn served_names() -> std::collections::BTreeSet<String> {
    use chaosdeck::engine::{EngineEvent, ScenarioResult};
    let metrics = chaosdeck::observe::Metrics::new();
    // Labelled families appear once they have a series: one scenario creates them.
    metrics.observe(&EngineEvent::ScenarioStarted {
        index: 0,
        iteration: 1,
        scenario_type: "pod_disruption_scenarios".into(),
        file: "pod.yml".into(),
        expected: Duration::from_secs(1),
    });
    metrics.observe(&EngineEvent::ScenarioFinished { index: 0, result: ScenarioResult::Passed });
    let text = chaosdeck::observe::metrics::to_prometheus_text(&metrics.encode().unwrap());
    let mut names = std::collections::BTreeSet::new();
    for family in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let mut it = family.split_whitespace();
        let (Some(name), Some(kind)) = (it.next(), it.next()) else { continue };
        if kind == "histogram" {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        } else {
            names.insert(name.to_string());
        }
    }
    names
}

#[test]
fn grafana_dashboard_is_importable_and_queries_only_served_metrics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/grafana-dashboard.json");
    let d = read_json(&path);
    assert!(d["title"].is_string() && d["uid"].is_string(), "{d}");
    assert!(d["id"].is_null(), "an importable dashboard has no database id");
    let served = served_names();
    let panels = d["panels"].as_array().cloned().unwrap_or_default();
    assert!(panels.len() >= 4, "runs, failures, pending entries, rollback latency");
    let mut queried = std::collections::BTreeSet::new();
    let mut exprs: Vec<String> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    exprs.extend(
        d["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v["query"]["query"].as_str().map(str::to_string)),
    );
    for expr in &exprs {
        let mut rest = expr.as_str();
        let mut named = false;
        while let Some(at) = rest.find("chaosdeck_") {
            let name: String =
                rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            assert!(served.contains(&name), "{expr} names {name}, not served: {served:?}");
            queried.insert(name.clone());
            named = true;
            rest = &rest[at + name.len()..];
        }
        assert!(named, "{expr} queries no chaosdeck metric");
    }
    for needed in [
        "chaosdeck_scenarios_run_total",
        "chaosdeck_scenarios_failed_total",
        "chaosdeck_journal_entries_pending",
        "chaosdeck_rollback_duration_seconds_bucket",
    ] {
        assert!(queried.contains(needed), "the dashboard shows no {needed}");
    }
    for p in &panels {
        assert!(p["gridPos"]["w"].as_u64().is_some() && p["type"].is_string(), "{p}");
    }
}
