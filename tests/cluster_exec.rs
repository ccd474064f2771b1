//! `ClusterOps::exec` through kube-rs over real HTTP and WebSocket against the sandbox: the
//! closed vocabulary reaches the container as argv, exit codes and errors come back as a user
//! would need them, and a dry run or a dropped fence cannot exec at all.

mod support;

use std::time::Duration;

use chaosdeck::cluster::exec::{ContainerPath, ContainerTarget, DiskUsage, ExecCommand, ExecError};
use chaosdeck::cluster::{ClusterOps, Fence, fenced, read_only};
use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::json;
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

/// A sandbox with pod payments/ledger-0 running, its container `ledger` mounting the 2 GiB
/// claim ledger-data at /data, and a distroless `metrics` container beside it.
async fn sandbox_with_ledger() -> (Sandbox, kube::Client) {
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Demo,
        pod_ready_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = sandbox.client().unwrap();
    volumes::claim(&client, "payments", "ledger-data", "2Gi").await;
    let metrics = json!({"name": "metrics", "image": "gcr.io/distroless/static:nonroot"});
    volumes::pod_on_claim(
        &client,
        "payments",
        "ledger-0",
        ("ledger", "/data"),
        "ledger-data",
        &[metrics],
    )
    .await;
    (sandbox, client)
}

async fn df(ops: &ClusterOps) -> DiskUsage {
    let (_, out) =
        ops.exec(&ledger(), &ExecCommand::disk_usage(path("/data")), LIMIT).await.unwrap();
    assert_eq!(out.code, 0, "{out:?}");
    DiskUsage::parse(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_fill_and_its_removal_show_in_df_through_kube_rs() {
    let (sandbox, client) = sandbox_with_ledger().await;
    let ops = ClusterOps::new(client);
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
    sandbox.shutdown().await;
}

#[tokio::test]
async fn errors_name_the_container_and_what_is_wrong() {
    let (sandbox, client) = sandbox_with_ledger().await;
    let ops = ClusterOps::new(client.clone());
    let df_cmd = ExecCommand::disk_usage(path("/"));
    let distroless = ContainerTarget { container: "metrics".into(), ..ledger() };
    let err = ops.exec(&distroless, &df_cmd, LIMIT).await.unwrap_err();
    assert!(matches!(err, ExecError::NoProgram { code: 127, .. }), "{err}");
    assert!(err.to_string().contains(
        "container metrics of pod payments/ledger-0: the container has no `df` (exit 127)"
    ));
    let missing = ContainerTarget { container: "sidecar".into(), ..ledger() };
    let err = ops.exec(&missing, &df_cmd, LIMIT).await.unwrap_err();
    assert!(matches!(err, ExecError::NoContainer(_)), "{err}");
    let gone = ContainerTarget { pod: "ledger-9".into(), ..ledger() };
    let err = ops.exec(&gone, &df_cmd, LIMIT).await.unwrap_err();
    assert!(err.is_gone(), "{err}");
    let other = ContainerTarget { uid: Some("0000-not-this-one".into()), ..ledger() };
    let err = ops.exec(&other, &df_cmd, LIMIT).await.unwrap_err();
    assert!(matches!(err, ExecError::PodReplaced { .. }), "{err}");
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
    sandbox.shutdown().await;
}

/// The attack: exec is a GET that upgrades, so a fence that lets every GET through would let
/// a dry run (or a run that lost its Lease) fill a disk or kill a container.
#[tokio::test]
async fn neither_a_dry_run_nor_a_dropped_fence_can_exec() {
    let (sandbox, client) = sandbox_with_ledger().await;
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
    sandbox.shutdown().await;
}
