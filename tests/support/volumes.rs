//! Claims and the pods that mount them, for the tests of faults inside containers, on either
//! target: created through kube-rs's typed API and waited for until the claim is bound and the
//! pod runs (exec needs a running container).
//!
//! The sandbox binds a claim at once and models each container's files itself. The test bed's
//! control plane has no provisioner, so a claim there is bound to a PersistentVolume made for
//! it (the PersistentVolume controller binds the two), and its pods' exec goes to kwok, which
//! runs the stand-ins of `scripts/exec-standin` with what the pod's kwok `Exec` gives them:
//! the pod's own directory and, for each claim it mounts, the claim's directory and size, all
//! under the test bed's exec root.

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use super::cluster::{Target, TestCluster};

const LIMIT: Duration = Duration::from_secs(30);

/// Creates claim `ns/name` of `size` and waits until it is bound.
pub async fn claim(cluster: &TestCluster, ns: &str, name: &str, size: &str) {
    let client = cluster.client();
    let mut claim = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    });
    if cluster.target == Target::Real {
        let volume = format!("pv-{ns}-{name}");
        let pv = json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                "hostPath": {"path": format!("/nonexistent/chaosdeck/{ns}/{name}")},
                "claimRef": {"namespace": ns, "name": name},
            }
        });
        Api::<PersistentVolume>::all(client.clone())
            .create(&PostParams::default(), &serde_json::from_value(pv).unwrap())
            .await
            .unwrap();
        claim["spec"]["storageClassName"] = json!("");
        claim["spec"]["volumeName"] = json!(volume);
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client, ns);
    claims.create(&PostParams::default(), &serde_json::from_value(claim).unwrap()).await.unwrap();
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let c = claims.get(name).await.unwrap();
        if c.status.and_then(|s| s.phase).as_deref() == Some("Bound") {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "claim {ns}/{name} never bound");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates pod `ns/name` whose container `container` mounts `claim` at `mount`, plus any
/// `extra` containers, and waits until it runs; on the test bed, also its kwok `Exec`.
pub async fn pod_on_claim(
    cluster: &TestCluster,
    ns: &str,
    name: &str,
    (container, mount): (&str, &str),
    claim: &str,
    extra: &[Value],
) {
    let client = cluster.client();
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
    if cluster.exec_root().is_some() {
        let size = Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
            .get(claim)
            .await
            .unwrap()
            .status
            .and_then(|s| s.capacity)
            .and_then(|c| c.get("storage").map(|q| q.0.clone()))
            .unwrap();
        let names: Vec<&str> = std::iter::once(container)
            .chain(extra.iter().filter_map(|c| c.get("name").and_then(Value::as_str)))
            .collect();
        exec_target(cluster, ns, name, &names, Some((mount, bytes(&size), claim))).await;
    }
    let pods: Api<Pod> = Api::namespaced(client, ns);
    pods.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await.unwrap();
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let p = pods.get(name).await.unwrap();
        if p.status.and_then(|s| s.phase).as_deref() == Some("Running") {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{ns}/{name} never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// On the test bed, the kwok `Exec` of pod `ns/name`: one target per container, each with the
/// pod's own directory, the container's name and, when given, the claim it mounts (mount
/// path, size, claim name). The sandbox needs none.
pub async fn exec_target(
    cluster: &TestCluster,
    ns: &str,
    name: &str,
    containers: &[&str],
    volume: Option<(&str, u64, &str)>,
) {
    let Some(root) = cluster.exec_root() else { return };
    let pod_dir = root.join("pods").join(ns).join(name);
    std::fs::create_dir_all(&pod_dir).unwrap();
    let volumes = match volume {
        Some((mount, size, claim)) => {
            let claim_dir = root.join("claims").join(ns).join(claim);
            std::fs::create_dir_all(&claim_dir).unwrap();
            format!("{mount}={size}={}", claim_dir.display())
        }
        None => String::new(),
    };
    let execs: Vec<Value> = containers
        .iter()
        .map(|c| {
            json!({"containers": [c], "local": {
                "workDir": pod_dir,
                "envs": [
                    {"name": "CHAOSDECK_EXEC_ROOT", "value": root},
                    {"name": "CHAOSDECK_POD_ROOT", "value": pod_dir},
                    {"name": "CHAOSDECK_VOLUMES", "value": volumes},
                    {"name": "CHAOSDECK_POD_NAMESPACE", "value": ns},
                    {"name": "CHAOSDECK_POD_NAME", "value": name},
                    {"name": "CHAOSDECK_CONTAINER", "value": c},
                ],
            }})
        })
        .collect();
    let exec = json!({
        "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Exec",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"execs": execs},
    });
    let gvk = GroupVersionKind::gvk("kwok.x-k8s.io", "v1alpha1", "Exec");
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client(), ns, &ApiResource::from_gvk(&gvk));
    api.create(&PostParams::default(), &serde_json::from_value(exec).unwrap()).await.unwrap();
}

/// The kwok `Exec` of every pod in `ns` matching `selector` (pods a controller made).
pub async fn exec_targets_of(cluster: &TestCluster, ns: &str, selector: &str) {
    let pods: Api<Pod> = Api::namespaced(cluster.client(), ns);
    let list = pods.list(&kube::api::ListParams::default().labels(selector)).await.unwrap();
    for pod in list.items {
        let name = pod.metadata.name.unwrap_or_default();
        let containers: Vec<String> =
            pod.spec.iter().flat_map(|s| &s.containers).map(|c| c.name.clone()).collect();
        let names: Vec<&str> = containers.iter().map(String::as_str).collect();
        exec_target(cluster, ns, &name, &names, None).await;
    }
}

/// `2Gi`, `1Gi`, `512Mi` in bytes (the sizes these tests use).
fn bytes(quantity: &str) -> u64 {
    let (n, unit) =
        quantity.split_at(quantity.find(|c: char| !c.is_ascii_digit()).unwrap_or(quantity.len()));
    let n: u64 = n.parse().unwrap();
    n * match unit {
        "Gi" => 1 << 30,
        "Mi" => 1 << 20,
        "Ki" => 1 << 10,
        "" => 1,
        other => panic!("unit {other} of {quantity}"),
    }
}
