//! Every scenario through the real binary, against the sandbox and against a real control
//! plane: success, an injected failure (auto rollback), and SIGKILL right after each change
//! followed by `execute-rollback`. The cluster is compared before and after through kube-rs's
//! typed API (not chaosdeck's client).

mod support;

use std::time::Duration;

use serde_json::json;
use support::world::{Lines, World, wait_exit};

/// The three lifecycles for one scenario file making `changes` cluster changes.
async fn exercise(world: &World, scenario_type: &str, file: &str, changes: usize) {
    let before = world.steady();
    let config = world.config(scenario_type, &[file], true, 0);

    // 1. Success: the change is made and reverted by the scenario; nothing stays pending.
    let (code, log) = world.run_to_exit(&config, None, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{scenario_type} success run:\n{log}");
    assert!(log.contains("journal: wrote"), "{scenario_type} made no journaled change:\n{log}");
    assert_eq!(world.outstanding(), 0);
    assert_eq!(
        world.settle(&before),
        before,
        "{scenario_type}: cluster not restored after success"
    );

    // 2. Failure injected right after the first change: auto rollback undoes what was done,
    //    entries become `.executed`.
    let executed_before = world.executed();
    let (code, log) =
        world.run_to_exit(&config, Some("fail-after-change:1"), Duration::from_secs(60));
    assert_eq!(code, Some(1), "{scenario_type} failure run:\n{log}");
    assert!(log.contains("rollback done"), "{scenario_type}: no rollback:\n{log}");
    assert!(world.executed() > executed_before);
    assert_eq!(world.outstanding(), 0, "{scenario_type}: entries left after auto rollback:\n{log}");
    assert_eq!(
        world.settle(&before),
        before,
        "{scenario_type}: cluster not restored by auto rollback"
    );

    // 3. SIGKILL right after each change; `execute-rollback` restores the cluster.
    for k in 1..=changes {
        world.run_and_kill_after_change(&config, k);
        let (code, out) = world.execute_rollback();
        assert_eq!(code, 0, "{scenario_type} k={k}: execute-rollback:\n{out}");
        assert_eq!(world.outstanding(), 0);
        assert_eq!(
            world.settle(&before),
            before,
            "{scenario_type}: cluster not restored after SIGKILL at change {k}"
        );
    }
}

crate::on_both_targets! {
    async fn application_outage_lifecycles(target) {
        let w = World::new(target).await;
        exercise(&w, "application_outages_scenarios", "app_outage.yaml", 1).await;
        w.shutdown().await;
    }

    async fn hog_lifecycles(target) {
        let w = World::new(target).await;
        exercise(&w, "hog_scenarios", "cpu-hog.yml", 2).await;
        w.shutdown().await;
    }

    async fn service_hijacking_lifecycles(target) {
        let w = World::new(target).await;
        exercise(&w, "service_hijacking_scenarios", "service_hijacking.yaml", 3).await;
        w.shutdown().await;
    }

    async fn syn_flood_lifecycles(target) {
        let w = World::new(target).await;
        exercise(&w, "syn_flood_scenarios", "syn_flood.yaml", 2).await;
        w.shutdown().await;
    }

    async fn http_load_lifecycles(target) {
        let w = World::new(target).await;
        exercise(&w, "http_load_scenarios", "http_load.yml", 2).await;
        w.shutdown().await;
    }

    // payments: Service api, a StatefulSet and a DaemonSet added here, and Deployment api (its
    // ReplicaSet goes and comes back with it). Each comes back with the spec it had.
    async fn service_disruption_lifecycles_recreate_what_they_deleted(target) {
        use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
        use k8s_openapi::api::core::v1::Service;
        let w = World::new(target).await;
        let template = json!({"metadata": {"labels": {"app": "ledger"}},
            "spec": {"containers": [{"name": "ledger", "image": "ledger:1"}]}});
        let sts = json!({"metadata": {"name": "ledger", "labels": {"app": "ledger"}}, "spec": {
            "replicas": 1, "serviceName": "api", "selector": {"matchLabels": {"app": "ledger"}},
            "template": template}});
        let ds = json!({"metadata": {"name": "audit"}, "spec": {
            "selector": {"matchLabels": {"app": "audit"}},
            "template": {"metadata": {"labels": {"app": "audit"}},
                "spec": {"containers": [{"name": "audit", "image": "audit:1"}]}}}});
        let pp = kube::api::PostParams::default();
        let sets: kube::Api<StatefulSet> = kube::Api::namespaced(w.client(), "payments");
        sets.create(&pp, &serde_json::from_value(sts).unwrap()).await.unwrap();
        let daemons: kube::Api<DaemonSet> = kube::Api::namespaced(w.client(), "payments");
        daemons.create(&pp, &serde_json::from_value(ds).unwrap()).await.unwrap();
        let specs = || async {
            let services: kube::Api<Service> = kube::Api::namespaced(w.client(), "payments");
            let deployments: kube::Api<Deployment> = kube::Api::namespaced(w.client(), "payments");
            vec![
                serde_json::to_value(sets.get("ledger").await.unwrap().spec).unwrap(),
                serde_json::to_value(daemons.get("audit").await.unwrap().spec).unwrap(),
                serde_json::to_value(services.get("api").await.unwrap().spec).unwrap(),
                serde_json::to_value(deployments.get("api").await.unwrap().spec).unwrap(),
            ]
        };
        let before = specs().await;
        exercise(&w, "service_disruption_scenarios", "service_disruption.yaml", 4).await;
        assert_eq!(specs().await, before, "every object back with its spec");
        // Two runs on the one namespace (Krkn's `runs: 2`): the second finds it empty.
        exercise(&w, "service_disruption_scenarios", "service_disruption_twice.yaml", 4).await;
        assert_eq!(specs().await, before, "every object back with its spec");
        w.shutdown().await;
    }

    async fn pod_disruption_lifecycles_recreate_bare_pods(target) {
        let w = World::new(target).await;
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(w.client(), "shop");
        let solo = serde_json::from_value(json!({"metadata": {"name": "solo"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
        pods.create(&Default::default(), &solo).await.unwrap();
        exercise(&w, "pod_disruption_scenarios", "pod.yml", 2).await;
        w.shutdown().await;
    }

    async fn node_cordon_and_taint_lifecycles(target) {
        let w = World::new(target).await;
        exercise(&w, "node_scenarios", "node.yml", 2).await;
        w.shutdown().await;
    }

    /// `execute-rollback` started while a run's change is in flight (its entry on disk, the
    /// request not sent yet) waits for the change and then undoes it. Marking the entry done
    /// before the change exists would leave the outage in the cluster with nothing pending.
    async fn execute_rollback_waits_for_a_change_in_flight_and_undoes_it(target) {
        let w = World::new(target).await;
        let before = w.steady();
        let config = w.config("application_outages_scenarios", &["app_outage.yaml"], true, 0);
        let mut run = w.run(&config, Some("slow-change:1"));
        let mut lines = Lines::of(&mut run);
        assert!(
            lines.wait_for("failpoint: entry written, change 1 held back", Duration::from_secs(60)),
            "{}",
            lines.rest()
        );
        let (code, out) = w.execute_rollback();
        assert_eq!(code, 0, "execute-rollback:\n{out}");
        assert!(out.contains("1 executed"), "{out}");
        // It undid the outage itself, not an entry whose object did not exist yet.
        assert!(!out.contains("already gone"), "undone before the change was made:\n{out}");
        let code = wait_exit(&mut run, Duration::from_secs(60));
        let log = lines.rest();
        assert_eq!(code, Some(0), "{log}");
        assert!(log.contains("already executed by another process"), "{log}");
        assert_eq!(w.outstanding(), 0, "{log}");
        assert_eq!(w.settle(&before), before, "the outage stayed:\n{log}");
        w.shutdown().await;
    }
}
