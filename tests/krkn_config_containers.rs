//! A Krkn `config.yaml` listing `container_scenarios`, `pvc_scenarios` and
//! `service_disruption_scenarios` (with Krkn's own scenario files and every section chaosdeck
//! does not read) runs unchanged through the binary against the sandbox: the three pass, and
//! the cluster — the claim's usage included — is as it was.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chaosdeck::cluster::ClusterOps;
use chaosdeck::cluster::exec::{ContainerPath, ContainerTarget, DiskUsage, ExecCommand};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::cluster::Target;
use support::volumes;
use support::world::{Running, World, wait_exit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn krkns_config_with_the_container_fault_types_runs_unchanged() {
    let world = World::new(Target::Sandbox).await;
    let client = world.client();
    let pp = PostParams::default();
    for ns in ["kraken", "openshift-etcd"] {
        let ns = json!({"metadata": {"name": ns}});
        Api::<Namespace>::all(client.clone())
            .create(&pp, &serde_json::from_value(ns).unwrap())
            .await
            .unwrap();
    }
    volumes::claim(&world.cluster, "kraken", "kraken-test-pvc", "1Gi").await;
    let on = ("app", "/data");
    volumes::pod_on_claim(&world.cluster, "kraken", "kraken-test-pod", on, "kraken-test-pvc", &[])
        .await;
    let etcd = json!({"metadata": {"name": "etcd-0", "labels": {"k8s-app": "etcd"}},
        "spec": {"containers": [{"name": "etcd", "image": "registry.k8s.io/etcd:3.6"}]}});
    Api::<Pod>::namespaced(client.clone(), "openshift-etcd")
        .create(&pp, &serde_json::from_value(etcd).unwrap())
        .await
        .unwrap();
    let before = world.steady();

    let config =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/krkn/config_in_containers.yaml");
    let out_path = world.dir.path().join("stdout");
    let err_path = world.dir.path().join("stderr");
    let mut child = Running(
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["run", "--headless", "--config"])
            .arg(&config)
            .arg("--kubeconfig")
            .arg(world.kubeconfig())
            .arg("--dir")
            .arg(world.journal())
            .args(world.confirmation())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let code = wait_exit(&mut child, Duration::from_secs(300));
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(stdout.matches("  passed ").count(), 3, "{stdout}");
    assert!(stderr.contains("block_size (chaosdeck allocates with fallocate, not dd)"), "{stderr}");
    assert_eq!(world.outstanding(), 0);
    assert_eq!(world.settle(&before), before, "the cluster is as it was");
    let target = ContainerTarget {
        namespace: "kraken".into(),
        pod: "kraken-test-pod".into(),
        container: "app".into(),
        uid: None,
        restarts: None,
    };
    let df = ExecCommand::disk_usage(ContainerPath::parse("/data").unwrap());
    let (_, out) =
        ClusterOps::new(world.client()).exec(&target, &df, Duration::from_secs(5)).await.unwrap();
    assert_eq!(DiskUsage::parse(&out.stdout).unwrap().used, 0);
    world.shutdown().await;
}
