//! Bad requests against the sandbox: random and malformed bodies, in every content type the
//! API accepts, sent to existing objects, must come back as a 4xx `Status`, never a panic,
//! a 5xx or a dropped connection.

use std::sync::OnceLock;

use chaosdeck_sandbox::{Sandbox, SandboxOptions, Seed};
use proptest::prelude::*;
use serde_json::json;

struct World {
    rt: tokio::runtime::Runtime,
    client: kube::Client,
    _sandbox: Sandbox,
}

/// One sandbox for all cases, with the objects the requests target.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let sandbox = rt
            .block_on(Sandbox::start(SandboxOptions { seed: Seed::Demo, ..Default::default() }))
            .expect("sandbox");
        let store = sandbox.store();
        use chaosdeck_sandbox::resources as r;
        store.create(r::CONFIGMAPS, "default", json!({"metadata": {"name": "x"}})).expect("cm");
        store
            .create(r::DEPLOYMENTS, "default", json!({"metadata": {"name": "x"}, "spec": {
                "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
            .expect("deployment");
        store
            .create(r::PODS, "default", json!({"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}))
            .expect("pod");
        let client = rt.block_on(async { sandbox.client() }).expect("client");
        World { rt, client, _sandbox: sandbox }
    })
}

fn path() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "/api/v1/namespaces/default/pods",
        "/api/v1/namespaces/default/configmaps/x",
        "/apis/apps/v1/namespaces/default/deployments/x/scale",
        "/api/v1/namespaces/default/pods/x/eviction",
        "/api/v1/namespaces",
        "/api/v1/nodes/sandbox-worker-1/status",
    ])
}

fn content_type() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "application/json",
        "application/yaml",
        "application/vnd.kubernetes.protobuf",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
        "text/plain",
    ])
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        Just(b"k8s\x00\x0a\x02\x0a\x00\x12\x05\x0a\xff\xff\xff\xff".to_vec()),
        Just(b"[1,2,3]".to_vec()),
        Just(b"{\"metadata\": 5}".to_vec()),
        Just(b"{\"metadata\": {\"name\": 7, \"labels\": [1]}}".to_vec()),
        Just(b"{\"spec\": {\"replicas\": \"many\"}}".to_vec()),
        Just(b"null".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn answered_with_a_status(
        path in path(),
        method in prop::sample::select(vec!["POST", "PUT", "PATCH"]),
        ct in content_type(),
        body in body(),
    ) {
        let w = world();
        let result = w.rt.block_on(async {
            let req = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", ct)
                .body(body.clone())
                .expect("request");
            w.client.request_text(req).await
        });
        match result {
            Err(kube::Error::Api(status)) => {
                prop_assert!((400..500).contains(&status.code), "{} {} {:?}: {:?}", method, path, ct, status);
            }
            Ok(text) => {
                // A few random bodies are valid (e.g. `{}` as a merge patch); then the
                // answer is a JSON object.
                prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "{}", text);
            }
            Err(other) => prop_assert!(false, "{} {} {:?}: transport error {:?}", method, path, ct, other),
        }
    }
}
