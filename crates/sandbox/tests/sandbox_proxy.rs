//! The synthetic service proxy (`services/{name}:{port}/proxy/…`), through a real kube client
//! over HTTP: 200 while the Service has a Ready, non-isolated, non-hijacked endpoint, 503
//! otherwise.
//!
//! Sandbox-only on purpose: on a real control plane with kwok no pod process answers, so the
//! API server's proxy fails whatever the state; this behaviour is the sandbox's simulation.

use std::time::Duration;

use chaosdeck_sandbox::{Sandbox, SandboxOptions, Seed};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

const FRONTEND: &str = "/api/v1/namespaces/shop/services/frontend:80/proxy/healthz";

async fn start() -> (Sandbox, kube::Client) {
    let sb = Sandbox::start(SandboxOptions {
        seed: Seed::Demo,
        pod_ready_delay: Duration::from_millis(20),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    // kube retries 503 by default, for minutes: a test of 503s asks once.
    let mut config = kube::Config::new(sb.url().parse().expect("sandbox url"));
    config.default_retry = false;
    let client = kube::Client::try_from(config).expect("client");
    (sb, client)
}

async fn status_of(client: &kube::Client, path: &str) -> u16 {
    let req = http::Request::get(path).body(Vec::new()).expect("request");
    client.send(req.map(Into::into)).await.expect("the sandbox answers").status().as_u16()
}

/// Waits (bounded) for the answer the controllers will get to; the bound only stops a hang.
async fn eventually(client: &kube::Client, path: &str, want: u16) {
    let mut last = 0;
    for _ in 0..200 {
        last = status_of(client, path).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{path}: still {last}, expected {want}");
}

fn deny_all() -> NetworkPolicy {
    serde_json::from_value(json!({
        "metadata": {"name": "deny-frontend"},
        "spec": {"podSelector": {"matchLabels": {"app": "frontend"}}, "policyTypes": ["Ingress", "Egress"]},
    }))
    .expect("policy json")
}

#[tokio::test]
async fn a_deny_all_policy_turns_the_proxy_503_and_its_removal_200() {
    let (_sb, client) = start().await;
    eventually(&client, FRONTEND, 200).await;
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), "shop");
    policies.create(&PostParams::default(), &deny_all()).await.unwrap();
    assert_eq!(status_of(&client, FRONTEND).await, 503);
    // Another Service of the namespace is not affected.
    assert_eq!(status_of(&client, "/api/v1/namespaces/shop/services/cart:80/proxy/").await, 200);
    policies.delete("deny-frontend", &DeleteParams::default()).await.unwrap();
    assert_eq!(status_of(&client, FRONTEND).await, 200);
}

#[tokio::test]
async fn a_policy_with_ingress_rules_does_not_isolate() {
    let (_sb, client) = start().await;
    // payments/api-allow-shop (seeded) selects the api pods but lets shop in.
    eventually(&client, "/api/v1/namespaces/payments/services/api:http/proxy/", 200).await;
}

#[tokio::test]
async fn a_hijacked_service_is_503_until_its_selector_is_restored() {
    let (_sb, client) = start().await;
    eventually(&client, FRONTEND, 200).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let hijacker: Pod = serde_json::from_value(json!({
        "metadata": {"name": "hijacker", "labels": {"service-hijacking": "x1"}},
        "spec": {"containers": [{"name": "h", "image": "hijack"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &hijacker).await.unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), "shop");
    let point = |sel: serde_json::Value| Patch::Merge(json!({"spec": {"selector": sel}}));
    services
        .patch(
            "frontend",
            &PatchParams::default(),
            &point(json!({"app": null, "service-hijacking": "x1"})),
        )
        .await
        .unwrap();
    // Even once the hijacker pod is Ready, its answers are not the application's.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(status_of(&client, FRONTEND).await, 503);
    services
        .patch(
            "frontend",
            &PatchParams::default(),
            &point(json!({"app": "frontend", "service-hijacking": null})),
        )
        .await
        .unwrap();
    assert_eq!(status_of(&client, FRONTEND).await, 200);
}

#[tokio::test]
async fn no_ready_pod_unknown_port_and_unknown_service() {
    let (_sb, client) = start().await;
    eventually(&client, FRONTEND, 200).await;
    assert_eq!(
        status_of(&client, "/api/v1/namespaces/shop/services/frontend:9999/proxy/").await,
        503
    );
    assert_eq!(status_of(&client, "/api/v1/namespaces/shop/services/nope:80/proxy/").await, 404);
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "shop");
    deployments
        .patch("frontend", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 0}})))
        .await
        .unwrap();
    eventually(&client, FRONTEND, 503).await;
}
