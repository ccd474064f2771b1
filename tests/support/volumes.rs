//! Claims and the pods that mount them, for the tests of faults inside containers: created
//! through kube-rs's typed API, and waited for until the pod runs (exec needs a running
//! container).

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

/// Creates claim `ns/name` of `size` (the sandbox binds it at once with that capacity).
pub async fn claim(client: &kube::Client, ns: &str, name: &str, size: &str) {
    let claim = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    });
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &serde_json::from_value(claim).unwrap())
        .await
        .unwrap();
}

/// Creates pod `ns/name` whose container `container` mounts `claim` at `mount`, plus any
/// `extra` containers, and waits until it runs.
pub async fn pod_on_claim(
    client: &kube::Client,
    ns: &str,
    name: &str,
    (container, mount): (&str, &str),
    claim: &str,
    extra: &[Value],
) {
    let mut containers = vec![json!({"name": container, "image": "registry.example/ledger:1.4",
        "volumeMounts": [{"name": "data", "mountPath": mount}]})];
    containers.extend(extra.iter().cloned());
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "ledger"}},
        "spec": {
            "containers": containers,
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
        }
    });
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let p = pods.get(name).await.unwrap();
        if p.status.and_then(|s| s.phase).as_deref() == Some("Running") {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{ns}/{name} never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
