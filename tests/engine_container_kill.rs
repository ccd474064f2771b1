//! `container_scenarios` through the real binary against the sandbox (its exec and its
//! kubelet, which starts a container again after its PID 1 ends) and the real control plane
//! (kwok's exec runs `scripts/exec-standin`, whose `kill` writes the kubelet's transitions into
//! the pod's status through the API server): the signalled containers
//! restart and are Ready within the recovery time, which the run checks and reports; a
//! container that never comes back fails the run, naming its pod; nothing is journaled.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use support::cluster::Target;
use support::world::World;

/// Restart counts of the frontend pods' containers, summed.
async fn frontend_restarts(world: &World) -> i32 {
    let pods: Api<Pod> = Api::namespaced(world.client(), "shop");
    let list = pods.list(&ListParams::default().labels("app=frontend")).await.unwrap();
    list.items
        .iter()
        .flat_map(|p| p.status.iter().flat_map(|s| s.container_statuses.iter().flatten()))
        .map(|c| c.restart_count)
        .sum()
}

crate::on_both_targets! {
    async fn container_kill_restarts_and_checks_recovery(target) {
        lifecycles(target).await;
    }
}

async fn lifecycles(target: Target) {
    let world = World::new(target).await;
    support::volumes::exec_targets_of(&world.cluster, "shop", "app=frontend").await;
    let config = world.config("container_scenarios", &["container.yml"], true, 0);
    let before = frontend_restarts(&world).await;
    let (code, log) = world.run_to_exit(&config, None, Duration::from_secs(60));
    assert_eq!(code, Some(0), "success run:\n{log}");
    assert!(log.contains("kill frontend container: 2 container(s) running again after"), "{log}");
    assert_eq!(frontend_restarts(&world).await, before + 2);
    assert!(!log.contains("journal: wrote"), "nothing to undo, nothing journaled:\n{log}");
    assert_eq!(world.outstanding(), 0);

    // A container that is not started again (restartPolicy Never): the run fails, naming it.
    let pods: Api<Pod> = Api::namespaced(world.client(), "shop");
    let oneshot = json!({"metadata": {"name": "oneshot", "labels": {"app": "oneshot"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "job", "image": "busybox"}]}});
    pods.create(&PostParams::default(), &serde_json::from_value(oneshot).unwrap()).await.unwrap();
    support::volumes::exec_target(&world.cluster, "shop", "oneshot", &["job"], None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pods.get("oneshot").await.unwrap().status.and_then(|s| s.phase).as_deref()
        != Some("Running")
    {
        assert!(tokio::time::Instant::now() < deadline, "oneshot never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let config = world.config("container_scenarios", &["container_never_restarts.yml"], true, 0);
    let (code, log) = world.run_to_exit(&config, None, Duration::from_secs(60));
    assert_eq!(code, Some(1), "failure run:\n{log}");
    assert!(
        log.contains("not running again within 3 s (restart count up and Ready): shop/oneshot"),
        "{log}"
    );
    let phase = pods.get("oneshot").await.unwrap().status.and_then(|s| s.phase);
    assert_eq!(phase.as_deref(), Some("Failed"));

    // An injected failure right after the first signal: the run fails, nothing is pending.
    let config = world.config("container_scenarios", &["container.yml"], true, 0);
    let (code, log) =
        world.run_to_exit(&config, Some("fail-after-change:1"), Duration::from_secs(60));
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("failpoint: injected failure after change 1"), "{log}");
    assert_eq!(world.outstanding(), 0);
    world.shutdown().await;
}
