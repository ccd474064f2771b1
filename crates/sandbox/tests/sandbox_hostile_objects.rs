//! Objects anyone with the sandbox's address can write, carrying numbers and shapes the real
//! API server would refuse (the sandbox validates less): its controllers must go on
//! reconciling and its printers must go on answering. Each object below used to panic the
//! controller task (stopping every controller) or the request.

use std::time::{Duration, Instant};

use chaosdeck_sandbox::{Sandbox, SandboxOptions, Seed};
use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const KUBECTL_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

async fn create<K>(api: &Api<K>, object: serde_json::Value) -> K
where
    K: kube::Resource
        + Clone
        + k8s_openapi::serde::de::DeserializeOwned
        + k8s_openapi::serde::Serialize
        + std::fmt::Debug,
{
    let object: K = serde_json::from_value(object).expect("object JSON");
    api.create(&PostParams::default(), &object).await.expect("create")
}

/// Waits until `deployment` in `default` reports `replicas` available.
async fn available(client: &kube::Client, deployment: &str, replicas: i32) -> Result<(), String> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = api.get(deployment).await.map_err(|e| e.to_string())?;
        let got = d.status.and_then(|s| s.available_replicas).unwrap_or(0);
        if got == replicas {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{deployment}: {got} of {replicas} available after 20 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn deployment(name: &str, replicas: i32) -> serde_json::Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_objects_do_not_stop_the_controllers_or_the_printers() {
    let sb = Sandbox::start(SandboxOptions {
        seed: Seed::Demo,
        pod_ready_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let client = sb.client().expect("client over HTTP");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // Before: a deployment comes up, so the controllers were running to begin with.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    create(&deployments, deployment("before", 2)).await;
    available(&client, "before", 2).await.expect("controllers run before");

    // A run-to-completion time no Duration holds.
    create(
        &pods,
        json!({"metadata": {"name": "forever", "annotations": {"sandbox.chaosdeck.io/run-seconds": "1e20"}},
               "spec": {"containers": [{"name": "c", "image": "i"}]}}),
    )
    .await;
    // A pod on a node that does not exist, reporting itself Ready with a container status that
    // is not an object (sent untyped: no typed client can say that).
    let untyped: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &ApiResource::erase::<Pod>(&()));
    create(
        &untyped,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ghost"},
               "spec": {"nodeName": "ghost", "containers": [{"name": "c", "image": "i"}]},
               "status": {"phase": "Running",
                          "conditions": [{"type": "Ready", "status": "True"}],
                          "containerStatuses": ["x"]}}),
    )
    .await;
    // Budgets with a percentage no multiplication holds and the most negative count.
    let pdbs: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::erase::<PodDisruptionBudget>(&()),
    );
    for (name, min) in [("pct", json!("9223372036854775807%")), ("neg", json!(i64::MIN))] {
        create(
            &pdbs,
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
                   "spec": {"minAvailable": min, "selector": {"matchLabels": {"app": "before"}}}}),
        )
        .await;
    }
    // Restart counts whose sum overflows, printed as kubectl's Table.
    let restarts = json!({"status": {"phase": "Running", "containerStatuses": [
        {"name": "c", "restartCount": i64::MAX}, {"name": "d", "restartCount": i64::MAX}]}});
    create(
        &pods,
        json!({"metadata": {"name": "restarts"},
               "spec": {"containers": [{"name": "c", "image": "i"}, {"name": "d", "image": "i"}]}}),
    )
    .await;
    untyped
        .patch_status("restarts", &PatchParams::default(), &Patch::Merge(&restarts))
        .await
        .expect("status patch");
    // A ReplicaSet status no sum holds, then a template change (a new revision) for the
    // deployment that owns it.
    let replicasets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let owned = replicasets
        .list(&ListParams::default().labels("app=before"))
        .await
        .expect("list replica sets");
    let rs = owned.items.first().and_then(|rs| rs.metadata.name.clone()).expect("an owned RS");
    let bad_status = json!({"status": {"replicas": 1, "availableReplicas": i64::MIN}});
    let untyped_rs: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &ApiResource::erase::<ReplicaSet>(&()));
    untyped_rs
        .patch_status(&rs, &PatchParams::default(), &Patch::Merge(&bad_status))
        .await
        .expect("replica set status patch");
    let annotate = json!({"metadata": {"annotations": {"deployment.kubernetes.io/revision": i64::MAX.to_string()}}});
    untyped_rs
        .patch(&rs, &PatchParams::default(), &Patch::Merge(&annotate))
        .await
        .expect("annotate");
    let new_image =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "j"}]}}}});
    deployments
        .patch("before", &PatchParams::default(), &Patch::Merge(&new_image))
        .await
        .expect("template change");

    // The printers answer.
    let req = http::Request::get("/api/v1/namespaces/default/pods")
        .header("Accept", KUBECTL_ACCEPT)
        .body(kube::client::Body::empty())
        .expect("request");
    let resp = client.send(req).await.expect("the Table request is answered");
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let table: serde_json::Value = serde_json::from_slice(&body).expect("Table JSON");
    let row = table["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["object"]["metadata"]["name"] == "restarts")
        .expect("the restarts pod has a row");
    assert_eq!(
        row["cells"][3],
        json!(i64::MAX.to_string()),
        "restarts saturate instead of wrapping: {row}"
    );

    // After: the controllers still reconcile a new deployment, and the forever pod runs.
    create(&deployments, deployment("after", 3)).await;
    available(&client, "after", 3).await.expect("controllers still run after the hostile objects");
    let forever = pods.get("forever").await.expect("forever pod");
    assert_eq!(forever.status.and_then(|s| s.phase).as_deref(), Some("Running"));
    // Each hostile object was itself reconciled, not skipped by a pass that gave up on it: the
    // ghost pod is marked not ready, and the budgets' numbers are clamped as the API server's
    // validation would have bounded them.
    let ghost = eventually("the ghost pod's Ready condition is False", || async {
        let pod = untyped.get("ghost").await.ok()?;
        let ready = pod.data["status"]["conditions"]
            .as_array()?
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "False");
        ready.then_some(pod)
    })
    .await;
    assert_eq!(ghost.data["status"]["containerStatuses"], json!(["x"]), "left as written");
    let budget = |name: &'static str| {
        let pdbs = pdbs.clone();
        move || {
            let pdbs = pdbs.clone();
            async move {
                let status = pdbs.get(name).await.ok()?.data["status"].clone();
                let expected = status["expectedPods"].as_i64()?;
                (expected == 2).then_some((expected, status["desiredHealthy"].as_i64()?))
            }
        }
    };
    let (expected, desired) = eventually("budget pct has a status", budget("pct")).await;
    assert_eq!(desired, expected, "a percentage over 100 counts as 100");
    let (_, desired) = eventually("budget neg has a status", budget("neg")).await;
    assert_eq!(desired, 0, "a negative count counts as 0");
}

/// Polls `probe` until it gives a value (10 s at most).
async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not after 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
