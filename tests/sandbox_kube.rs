//! kube-rs against the sandbox: CRUD, Status errors, conflicts, patches.

use std::time::Duration;

use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

async fn start(seed: Seed) -> (Sandbox, kube::Client) {
    let sb = Sandbox::start(SandboxOptions {
        seed,
        pod_ready_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let client = sb.client().expect("client");
    (sb, client)
}

fn pod(name: &str, labels: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .expect("pod json")
}

fn api_code(err: kube::Error) -> (u16, String, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn crud_and_status_errors() {
    let (sb, client) = start(Seed::Empty).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    let created =
        pods.create(&PostParams::default(), &pod("web-1", json!({"app": "web"}))).await.unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    assert!(!uid.is_empty());
    assert!(created.metadata.resource_version.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    assert_eq!(created.status.clone().and_then(|s| s.phase).as_deref(), Some("Pending"));

    let (code, reason, msg) =
        api_code(pods.create(&PostParams::default(), &pod("web-1", json!({}))).await.unwrap_err());
    assert_eq!(
        (code, reason.as_str(), msg.as_str()),
        (409, "AlreadyExists", "pods \"web-1\" already exists")
    );

    let (code, reason, msg) = api_code(pods.get("nope").await.unwrap_err());
    assert_eq!((code, reason.as_str(), msg.as_str()), (404, "NotFound", "pods \"nope\" not found"));

    let (code, reason, _) = api_code(
        pods.create(&PostParams::default(), &pod("Bad_Name", json!({}))).await.unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));

    let elsewhere: Api<Pod> = Api::namespaced(client.clone(), "missing");
    let (code, _, msg) =
        api_code(elsewhere.create(&PostParams::default(), &pod("x", json!({}))).await.unwrap_err());
    assert_eq!((code, msg.as_str()), (404, "namespaces \"missing\" not found"));

    // Stale resourceVersion on update → 409 Conflict.
    let mut stale = created.clone();
    pods.patch(
        "web-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"v": "2"}}})),
    )
    .await
    .unwrap();
    stale.metadata.labels.get_or_insert_default().insert("v".into(), "3".into());
    let (code, reason, msg) =
        api_code(pods.replace("web-1", &PostParams::default(), &stale).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(msg.contains("the object has been modified"), "{msg}");

    // JSON patch and strategic merge.
    let p = pods
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(
                    json!([{"op": "add", "path": "/metadata/labels/j", "value": "x"}]),
                )
                .unwrap(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(p.metadata.labels.as_ref().unwrap()["j"], "x");
    let p = pods
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"j": null}}})),
        )
        .await
        .unwrap();
    assert!(!p.metadata.labels.as_ref().unwrap().contains_key("j"));

    let listed = pods.list(&ListParams::default().labels("app=web")).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let listed = pods.list(&ListParams::default().labels("app!=web")).await.unwrap();
    assert!(listed.items.is_empty());

    // Delete precondition on uid.
    let dp = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some("wrong".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    let (code, _, _) = api_code(pods.delete("web-1", &dp).await.unwrap_err());
    assert_eq!(code, 409);
    pods.delete("web-1", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_code(pods.get("web-1").await.unwrap_err()).0, 404);

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "cfg-"}, "data": {"a": "1"}}))
            .unwrap();
    let cm = cms.create(&PostParams::default(), &cm).await.unwrap();
    assert!(cm.metadata.name.unwrap().starts_with("cfg-"));

    let nss: Api<Namespace> = Api::all(client.clone());
    assert!(nss.get("kube-system").await.is_ok());
    sb.shutdown().await;
}

#[tokio::test]
async fn demo_seed_has_nodes_and_deployments() {
    let (sb, client) = start(Seed::Demo).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes.list(&ListParams::default()).await.unwrap();
    assert!((3..=5).contains(&list.items.len()), "{} nodes", list.items.len());
    let deploys: Api<Deployment> = Api::all(client.clone());
    assert!(!deploys.list(&ListParams::default()).await.unwrap().items.is_empty());
    sb.shutdown().await;
}
