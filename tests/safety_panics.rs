//! A panic never hangs a run, numbers from files are bounded at load time, and exit codes keep
//! bad input (2) apart from the environment (3) and from bugs (4).

mod support;

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};
use support::cluster::Target;
use support::world::{Lines, World, wait_exit};

async fn policies_in_shop(w: &World) -> usize {
    let api: Api<NetworkPolicy> = Api::namespaced(w.client(), "shop");
    api.list(&ListParams::default()).await.unwrap().items.len()
}

fn pending(w: &World) -> usize {
    chaosdeck::journal::scan(&w.journal()).expect("the journal scans").outstanding()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_after_a_change_rolls_back_and_exits_4() {
    let w = World::new(Target::Sandbox).await;
    let before = policies_in_shop(&w).await;
    let config = w.config("application_outages_scenarios", &["long_outage.yaml"], true, 0);
    let mut child = w.run(&config, Some("panic-after-change:1"));
    let mut lines = Lines::of(&mut child);
    // Generous: only a guard against a hang, which is the defect under test.
    let code = wait_exit(&mut child, Duration::from_secs(60));
    let log = lines.rest();
    assert_eq!(code, Some(4), "{log}");
    assert!(log.contains("panicked: failpoint: injected panic after change 1"), "{log}");
    assert!(log.contains("rollback done: 1 executed, 0 failed"), "{log}");
    assert_eq!(pending(&w), 0, "{log}");
    assert_eq!(policies_in_shop(&w).await, before, "the deny-all policy was not removed");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_without_auto_rollback_lists_what_is_pending_and_exits_4() {
    let w = World::new(Target::Sandbox).await;
    let config = w.config(
        "application_outages_scenarios",
        &["long_outage.yaml", "app_outage.yaml"],
        false,
        0,
    );
    let mut child = w.run(&config, Some("panic-after-change:1"));
    let mut lines = Lines::of(&mut child);
    let mut stdout = child.stdout.take().unwrap();
    let code = wait_exit(&mut child, Duration::from_secs(60));
    let log = lines.rest();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
    assert_eq!(code, Some(4), "{log}");
    assert_eq!(pending(&w), 1, "{log}");
    assert!(out.contains("1 entry of this run still pending"), "{out}");
    assert!(out.contains("undo them with: chaosdeck execute-rollback"), "{out}");
    // After a bug the run does not go on to the next scenario.
    assert_eq!(log.matches("started (iteration").count(), 1, "{log}");
    assert_eq!(policies_in_shop(&w).await, 1, "the outage is still in place, as listed");
    w.shutdown().await;
}

#[test]
fn an_absurd_duration_is_a_load_error_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("outage.yaml");
    std::fs::write(
        &scenario,
        "application_outage:\n  namespace: shop\n  duration: 18446744073709551615\n",
    )
    .unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "kraken:\n  chaos_scenarios:\n    - application_outages_scenarios:\n        - {}\n",
            scenario.display()
        ),
    )
    .unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .args(["run", "--headless", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{}:3:", scenario.display())), "{err}");
    assert!(err.contains("out of range: at most 2592000"), "{err}");
    assert!(err.contains("nothing was run"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_an_environment_error_not_bad_input() {
    let w = World::new(Target::Sandbox).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let config = w.config("application_outages_scenarios", &["app_outage.yaml"], true, 0);
    let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .args(["run", "--headless", "--metrics-addr", &addr, "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("cannot listen for /metrics on {addr}")), "{err}");
    assert_eq!(policies_in_shop(&w).await, 0, "nothing ran");
    w.shutdown().await;
}

#[test]
fn help_lists_the_exit_codes() {
    let out =
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck")).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for code in [
        "0 done",
        "1 a scenario or an undo failed",
        "2 bad input",
        "3 environment",
        "4 internal error",
    ] {
        assert!(text.contains(code), "--help lacks {code:?}:\n{text}");
    }
}
