//! An entry only ever touches the cluster it was made on: entries record the cluster (context,
//! server, kube-system uid) and `execute-rollback` refuses another one unless the operator names
//! it with `--cluster-mismatch-ok <context>`.

mod support;

use std::path::Path;
use std::process::Command;

use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::json;
use support::cluster::Target;
use support::world::World;

/// A pod `shop/solo` that is there and not on its way out.
async fn solo_exists(sandbox: &Sandbox) -> bool {
    let pods: Api<Pod> = Api::namespaced(sandbox.client().unwrap(), "shop");
    pods.get_opt("solo").await.unwrap().is_some_and(|p| p.metadata.deletion_timestamp.is_none())
}

fn execute(journal: &Path, kubeconfig: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .args(["execute-rollback", "--dir"])
        .arg(journal)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(extra)
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// Cluster A: a bare pod `shop/solo` is killed by pod disruption and the run is SIGKILLed right
/// after, so its entry ("re-create Pod shop/solo") stays pending.
async fn solo_killed_then_sigkill() -> World {
    let a = World::new(Target::Sandbox).await;
    let pods: Api<Pod> = Api::namespaced(a.client(), "shop");
    let solo = serde_json::from_value(json!({"metadata": {"name": "solo"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    pods.create(&Default::default(), &solo).await.unwrap();
    let config = a.config("pod_disruption_scenarios", &["pod.yml"], true, 0);
    a.run_and_kill_after_change(&config, 1);
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_taken_on_one_cluster_is_never_recreated_on_another() {
    let a = solo_killed_then_sigkill().await;
    assert!(!solo_exists(a.cluster.sandbox().unwrap()).await, "the kill happened");
    let entry = std::fs::read_to_string(
        chaosdeck::journal::scan(&a.journal()).unwrap().entries().next().unwrap().1.path.clone(),
    )
    .unwrap();
    assert!(entry.contains("# Cluster: context chaosdeck-sandbox at http://127.0.0.1:"), "{entry}");
    assert!(entry.contains("kube_system_uid:"), "{entry}");

    // Cluster B: same context name, another server and kube-system uid.
    let b =
        Sandbox::start(SandboxOptions { seed: Seed::Demo, ..Default::default() }).await.unwrap();
    let b_kubeconfig = a.dir.path().join("b.kubeconfig");
    b.write_kubeconfig(&b_kubeconfig).unwrap();

    let (code, out) = execute(&a.journal(), &b_kubeconfig, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("REFUSED"), "{out}");
    assert!(
        out.contains(&format!(
            "made on another cluster (context chaosdeck-sandbox at {}",
            a.cluster.sandbox().unwrap().url()
        )),
        "{out}"
    );
    assert!(out.contains(&format!("this is context chaosdeck-sandbox at {}", b.url())), "{out}");
    assert!(out.contains("--cluster-mismatch-ok chaosdeck-sandbox"), "{out}");
    assert!(!solo_exists(&b).await, "the snapshot was replayed on the wrong cluster");
    assert_eq!(chaosdeck::journal::scan(&a.journal()).unwrap().outstanding(), 1);

    // Naming another context than the one connected is refused as bad input.
    let (code, out) = execute(&a.journal(), &b_kubeconfig, &["--cluster-mismatch-ok", "prod"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(!solo_exists(&b).await);

    // On its own cluster it runs with no flag.
    let (code, out) = execute(&a.journal(), a.kubeconfig(), &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(solo_exists(a.cluster.sandbox().unwrap()).await, "{out}");
    assert!(!solo_exists(&b).await);
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_the_target_executes_a_foreign_entry_there() {
    let a = solo_killed_then_sigkill().await;

    let b =
        Sandbox::start(SandboxOptions { seed: Seed::Demo, ..Default::default() }).await.unwrap();
    let b_kubeconfig = a.dir.path().join("b.kubeconfig");
    b.write_kubeconfig(&b_kubeconfig).unwrap();
    let (code, out) =
        execute(&a.journal(), &b_kubeconfig, &["--cluster-mismatch-ok", "chaosdeck-sandbox"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(solo_exists(&b).await, "the operator named this cluster: {out}");
    b.shutdown().await;
    a.shutdown().await;
}

#[test]
fn the_sandbox_demo_journals_apart_from_real_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .args(["list-rollback", "-c"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/config.yaml"))
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = dir.path().join("chaosdeck/sandbox-rollback");
    assert!(
        text.contains(&expected.display().to_string()),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
