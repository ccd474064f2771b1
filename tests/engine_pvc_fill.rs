//! `pvc_scenarios` through the real binary against the sandbox (its exec and its model of
//! each claim's filesystem) and the real control plane (kube-apiserver's exec to kwok, which
//! runs `scripts/exec-standin`): the fill reaches the percentage `df` reports, and every way a run
//! can end — success, an injected failure, SIGKILL after the fill — leaves the claim as empty
//! as before, the last one through `execute-rollback`, also after the pod that was filled is
//! replaced by another pod mounting the claim elsewhere.

mod support;

use std::time::Duration;

use chaosdeck::cluster::ClusterOps;
use chaosdeck::cluster::exec::{ContainerPath, ContainerTarget, DiskUsage, ExecCommand};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use support::cluster::Target;
use support::volumes;
use support::world::World;

const LIMIT: Duration = Duration::from_secs(10);

async fn create_pod(world: &World, name: &str, mount: &str) {
    let on = ("ledger", mount);
    volumes::pod_on_claim(&world.cluster, "payments", name, on, "ledger-data", &[]).await;
}

/// The 2 GiB claim payments/ledger-data, mounted at /data by pod ledger-0.
async fn ledger(world: &World) {
    volumes::claim(&world.cluster, "payments", "ledger-data", "2Gi").await;
    create_pod(world, "ledger-0", "/data").await;
}

async fn usage(world: &World, pod: &str, mount: &str) -> DiskUsage {
    let ops = ClusterOps::new(world.client());
    let target = ContainerTarget {
        namespace: "payments".into(),
        pod: pod.into(),
        container: "ledger".into(),
        uid: None,
        restarts: None,
    };
    let df = ExecCommand::disk_usage(ContainerPath::parse(mount).unwrap());
    let (_, out) = ops.exec(&target, &df, LIMIT).await.unwrap();
    DiskUsage::parse(&out.stdout).unwrap()
}

/// `ls -l` of `dir` in ledger-0, through exec.
async fn list(world: &World, dir: &str) -> String {
    let ops = ClusterOps::new(world.client());
    let target = ContainerTarget {
        namespace: "payments".into(),
        pod: "ledger-0".into(),
        container: "ledger".into(),
        uid: None,
        restarts: None,
    };
    let ls = ExecCommand::list(ContainerPath::parse(dir).unwrap());
    let (_, out) = ops.exec(&target, &ls, LIMIT).await.unwrap();
    out.stdout
}

crate::on_both_targets! {
    async fn pvc_fill_lifecycles(target) {
        lifecycles(target).await;
    }
}

async fn lifecycles(target: Target) {
    let world = World::new(target).await;
    ledger(&world).await;
    let config = world.config("pvc_scenarios", &["pvc_fill.yaml"], true, 0);

    // 1. Success: filled to 60% (as df measures it), then back to empty.
    let (code, log) = world.run_to_exit(&config, None, Duration::from_secs(60));
    assert_eq!(code, Some(0), "success run:\n{log}");
    assert!(log.contains("journal: wrote"), "{log}");
    assert!(log.contains("0.0% used before, 60.0% filled, 0.0% after"), "{log}");
    assert_eq!(world.outstanding(), 0);
    assert_eq!(usage(&world, "ledger-0", "/data").await.used, 0);

    // 2. A failure right after the fill: the auto rollback removes it.
    let (code, log) =
        world.run_to_exit(&config, Some("fail-after-change:1"), Duration::from_secs(60));
    assert_eq!(code, Some(1), "failure run:\n{log}");
    assert!(log.contains("rollback done"), "{log}");
    assert_eq!(world.outstanding(), 0, "{log}");
    assert_eq!(usage(&world, "ledger-0", "/data").await.used, 0);

    // 3. SIGKILL with the claim full: the entry was durable before the fill, and
    //    execute-rollback removes exactly that file.
    world.run_and_kill_after_change(&config, 1);
    let full = usage(&world, "ledger-0", "/data").await;
    assert!(full.percent_used() >= 59.5, "{full:?}");
    let listed = list(&world, "/data").await;
    assert!(listed.contains("chaosdeck-fill-") && listed.trim().ends_with(".tmp"), "{listed}");
    let (code, out) = world.execute_rollback();
    assert_eq!(code, 0, "execute-rollback:\n{out}");
    assert!(out.contains("removed /data/chaosdeck-fill-"), "{out}");
    assert_eq!(world.outstanding(), 0);
    assert_eq!(usage(&world, "ledger-0", "/data").await.used, 0);

    // 4. SIGKILL, then the pod is replaced by one mounting the claim at another path: the undo
    //    finds the file through it.
    world.run_and_kill_after_change(&config, 1);
    let pods: Api<Pod> = Api::namespaced(world.client(), "payments");
    pods.delete("ledger-0", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() })
        .await
        .unwrap();
    create_pod(&world, "ledger-1", "/var/lib/ledger").await;
    assert!(usage(&world, "ledger-1", "/var/lib/ledger").await.percent_used() >= 59.5);
    let (code, out) = world.execute_rollback();
    assert_eq!(code, 0, "execute-rollback:\n{out}");
    assert!(out.contains("removed /var/lib/ledger/chaosdeck-fill-"), "{out}");
    assert!(out.contains("through pod ledger-1"), "{out}");
    assert_eq!(usage(&world, "ledger-1", "/var/lib/ledger").await.used, 0);

    // 5. No pod on the claim at all: the entry stays pending and says why.
    world.run_and_kill_after_change(&world.config("pvc_scenarios", &["pvc_fill.yaml"], true, 0), 1);
    pods.delete("ledger-1", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, out) = world.execute_rollback();
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("no running pod mounts claim payments/ledger-data now"), "{out}");
    assert_eq!(world.outstanding(), 1);
    create_pod(&world, "ledger-2", "/data").await;
    let (code, out) = world.execute_rollback();
    assert_eq!(code, 0, "{out}");
    assert_eq!(usage(&world, "ledger-2", "/data").await.used, 0);
    world.shutdown().await;
}
