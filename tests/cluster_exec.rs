//! `ClusterOps::exec` through kube-rs over real HTTP and WebSocket, against the sandbox and
//! through the real kube-apiserver to kwok's exec (running `scripts/exec-standin`): the closed
//! vocabulary reaches the container as argv, exit codes and errors come back as a user would
//! need them, and a dry run or a dropped fence cannot exec at all.

mod support;

use std::time::Duration;

use chaosdeck::cluster::exec::{ContainerPath, ContainerTarget, DiskUsage, ExecCommand, ExecError};
use chaosdeck::cluster::{ClusterOps, Fence, fenced, read_only};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::json;
use support::cluster::{Seed, Target, TestCluster};
use support::volumes;

const LIMIT: Duration = Duration::from_secs(10);

fn path(p: &str) -> ContainerPath {
    ContainerPath::parse(p).unwrap()
}

fn ledger() -> ContainerTarget {
    ContainerTarget {
        namespace: "payments".into(),
        pod: "ledger-0".into(),
        container: "ledger".into(),
        uid: None,
        restarts: None,
    }
}

/// Pod payments/ledger-0 running, its container `ledger` mounting the 2 GiB claim ledger-data
/// at /data, and a distroless `metrics` container beside it.
async fn with_ledger(target: Target) -> TestCluster {
    let cluster = TestCluster::start(target, Seed::Demo).await;
    volumes::claim(&cluster, "payments", "ledger-data", "2Gi").await;
    let metrics = json!({"name": "metrics", "image": "gcr.io/distroless/static:nonroot"});
    let on = ("ledger", "/data");
    volumes::pod_on_claim(&cluster, "payments", "ledger-0", on, "ledger-data", &[metrics]).await;
    cluster
}

async fn df(ops: &ClusterOps) -> DiskUsage {
    let (_, out) =
        ops.exec(&ledger(), &ExecCommand::disk_usage(path("/data")), LIMIT).await.unwrap();
    assert_eq!(out.code, 0, "{out:?}");
    DiskUsage::parse(&out.stdout).unwrap()
}

crate::on_both_targets! {
    async fn a_fill_and_its_removal_show_in_df_through_kube_rs(target) {
        a_fill_and_its_removal(target).await;
    }

    async fn errors_name_the_container_and_what_is_wrong(target) {
        errors_name_the_container(target).await;
    }

    async fn neither_a_dry_run_nor_a_dropped_fence_can_exec(target) {
        no_exec_when_read_only(target).await;
    }
}

async fn a_fill_and_its_removal(target: Target) {
    let cluster = with_ledger(target).await;
    let ops = ClusterOps::new(cluster.client());
    let before = df(&ops).await;
    assert_eq!((before.size, before.used), (2 << 30, 0));
    let file = path("/data/chaosdeck-fill-0d6c5a1e7f.tmp");
    let (seen, out) =
        ops.exec(&ledger(), &ExecCommand::allocate(file.clone(), 1 << 30), LIMIT).await.unwrap();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(seen.restarts, 0);
    let filled = df(&ops).await;
    assert_eq!(filled.used, 1 << 30);
    assert_eq!(filled.percent_used(), 50.0);
    // Too much for what is left: the program's own error and exit code come back.
    let big = ExecCommand::allocate(path("/data/more"), 2 << 30);
    let (_, out) = ops.exec(&ledger(), &big, LIMIT).await.unwrap();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("No space left on device"), "{out:?}");
    let rm = ExecCommand::remove_tagged(file.clone(), "0d6c5a1e7f").unwrap();
    let (_, out) = ops.exec(&ledger(), &rm, LIMIT).await.unwrap();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(df(&ops).await.used, 0);
    // Removing it again says it is not there (rm without -f), which an undo reads as "gone".
    let (_, out) = ops.exec(&ledger(), &rm, LIMIT).await.unwrap();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("No such file or directory"), "{out:?}");
    cluster.shutdown().await;
}

async fn errors_name_the_container(target: Target) {
    let cluster = with_ledger(target).await;
    let ops = ClusterOps::new(cluster.client());
    let df_cmd = ExecCommand::disk_usage(path("/"));
    let missing = ContainerTarget { container: "sidecar".into(), ..ledger() };
    let err = ops.exec(&missing, &df_cmd, LIMIT).await.unwrap_err();
    assert!(matches!(err, ExecError::NoContainer(_)), "{err}");
    let gone = ContainerTarget { pod: "ledger-9".into(), ..ledger() };
    let err = ops.exec(&gone, &df_cmd, LIMIT).await.unwrap_err();
    assert!(err.is_gone(), "{err}");
    let other = ContainerTarget { uid: Some("0000-not-this-one".into()), ..ledger() };
    let err = ops.exec(&other, &df_cmd, LIMIT).await.unwrap_err();
    assert!(matches!(err, ExecError::PodReplaced { .. }), "{err}");
    cluster.shutdown().await;
}

/// The sandbox's own model: a distroless container has no programs, and a signal to PID 1
/// restarts the container (kwok runs no container to restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_and_a_restart_are_named() {
    let cluster = with_ledger(Target::Sandbox).await;
    let client = cluster.client();
    let ops = ClusterOps::new(client.clone());
    let df_cmd = ExecCommand::disk_usage(path("/"));
    let distroless = ContainerTarget { container: "metrics".into(), ..ledger() };
    let err = ops.exec(&distroless, &df_cmd, LIMIT).await.unwrap_err();
    assert!(matches!(err, ExecError::NoProgram { code: 127, .. }), "{err}");
    let text = err.to_string();
    let says = "container metrics of pod payments/ledger-0: the container has no `df` (exit 127)";
    assert!(text.contains(says), "{text}");
    // A signal to PID 1 restarts the container; a command meant for the container as it was
    // is refused, naming both restart counts.
    let (seen, out) =
        ops.exec(&ledger(), &ExecCommand::signal_pid1(9).unwrap(), LIMIT).await.unwrap();
    assert_eq!(out.code, 0);
    let pods: Api<Pod> = Api::namespaced(client, "payments");
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let status = pods.get("ledger-0").await.unwrap().status.unwrap();
        let ledger = status.container_statuses.unwrap_or_default().into_iter().next().unwrap();
        if ledger.restart_count == 1 && ledger.ready {
            let last = ledger.last_state.and_then(|s| s.terminated).unwrap();
            assert_eq!(last.exit_code, 137);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "ledger never restarted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before_restart = ContainerTarget { restarts: Some(seen.restarts), ..ledger() };
    let err = ops.exec(&before_restart, &df_cmd, LIMIT).await.unwrap_err();
    assert!(err.to_string().contains("restarted (0 restarts recorded, 1 now)"), "{err}");
    cluster.shutdown().await;
}

/// The attack: exec is a GET that upgrades, so a fence that lets every GET through would let
/// a dry run (or a run that lost its Lease) fill a disk or kill a container.
async fn no_exec_when_read_only(target: Target) {
    let cluster = with_ledger(target).await;
    let client = cluster.client();
    let fill = ExecCommand::allocate(path("/data/dry"), 1 << 20);
    let dry = ClusterOps::new(read_only(client.clone()));
    let err = dry.exec(&ledger(), &fill, LIMIT).await.unwrap_err();
    assert!(err.to_string().contains("dry run: refused to send GET"), "{err}");
    let fence = Fence::new();
    fence.drop_with("lease lost");
    let fenced = ClusterOps::new(fenced(client.clone(), fence));
    let err = fenced.exec(&ledger(), &fill, LIMIT).await.unwrap_err();
    assert!(err.to_string().contains("read-only: refused to send GET"), "{err}");
    // Reads still pass, and nothing was written.
    assert_eq!(df(&ClusterOps::new(client)).await.used, 0);
    cluster.shutdown().await;
}
