//! What a fresh sandbox contains: `demo` (a small realistic cluster), `empty` (just the
//! system namespaces) or `scale:NODES:PODS` (a Krkn-sized cluster for benchmarks).
//!
//! Owns: the seed objects. Demo deployments are created bare and left to the controllers to
//! fill with pods, like a real cluster after `kubectl apply`; scale pods are loaded already
//! Running so seeding is fast. Must not run controllers.

use serde_json::{Value, json};

use super::Seed;
use super::meta;
use super::resources as r;
use super::status::ApiError;
use super::store::Store;

const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];
const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];

pub fn node(name: &str, zone: &str, index: usize, control_plane: bool) -> Value {
    let role = if control_plane { "control-plane" } else { "worker" };
    let mut node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
                format!("node-role.kubernetes.io/{role}"): "",
                "topology.kubernetes.io/region": "sandbox",
                "topology.kubernetes.io/zone": zone,
                "node.kubernetes.io/instance-type": "sandbox.large",
            },
        },
        "spec": {"podCIDR": format!("10.244.{}.0/24", index % 256), "providerID": format!("sandbox://{name}")},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "4", "memory": "15Gi", "pods": "110", "ephemeral-storage": "95Gi"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available"},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure"},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"},
            ],
            "addresses": [
                {"type": "InternalIP", "address": format!("10.0.{}.{}", (index / 250) % 256, index % 250 + 2)},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "kubeProxyVersion": "v1.32.0",
                "containerRuntimeVersion": "containerd://1.7.0",
                "osImage": "chaosdeck sandbox",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "kernelVersion": "6.1.0",
                "machineID": format!("{index:032x}"),
                "systemUUID": format!("{index:032x}"),
                "bootID": format!("{index:032x}"),
            },
        },
    });
    if control_plane {
        meta::set(
            &mut node,
            &["spec", "taints"],
            json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
        );
    }
    node
}

fn namespace(name: &str) -> Value {
    json!({"metadata": {"name": name}})
}

pub fn apply(store: &Store, seed: Seed) -> Result<(), ApiError> {
    for ns in SYSTEM_NAMESPACES {
        store.create(r::NAMESPACES, "", namespace(ns))?;
    }
    match seed {
        Seed::Empty => Ok(()),
        Seed::Demo => demo(store),
        Seed::Scale { nodes, pods } => {
            scale(store, nodes, pods);
            Ok(())
        }
    }
}

/// The demo cluster, from the same manifests a real control plane is given
/// (`seed/nodes.yaml`, `seed/demo.yaml`), plus a database on a claim (`seed/volumes.yaml`,
/// sandbox only): nodes get a kubelet-like status here, workloads are created bare for the
/// controllers to fill.
fn demo(store: &Store) -> Result<(), ApiError> {
    for (index, item) in manifest(NODES_YAML, "seed/nodes.yaml")?.into_iter().enumerate() {
        store.create(r::NODES, "", seeded_node(item, index)?)?;
    }
    for (text, file) in [(DEMO_YAML, "seed/demo.yaml"), (VOLUMES_YAML, "seed/volumes.yaml")] {
        for item in manifest(text, file)? {
            let kind = item.get("kind").and_then(Value::as_str).unwrap_or_default();
            let api_version = item.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
            let res = r::RESOURCES
                .iter()
                .position(|d| d.kind == kind && d.api_version() == api_version)
                .ok_or_else(|| seed_error(format!("{file}: {api_version} {kind} is not served")))?;
            let ns = meta::namespace(&item).to_string();
            store.create(res, &ns, item)?;
        }
    }
    Ok(())
}

const NODES_YAML: &str = include_str!("../seed/nodes.yaml");
const DEMO_YAML: &str = include_str!("../seed/demo.yaml");
const VOLUMES_YAML: &str = include_str!("../seed/volumes.yaml");

/// The `items` of a `kind: List` manifest.
fn manifest(text: &str, file: &str) -> Result<Vec<Value>, ApiError> {
    let list: Value =
        serde_saphyr::from_str(text).map_err(|e| seed_error(format!("{file}: {e}")))?;
    match list.get("items") {
        Some(Value::Array(items)) => Ok(items.clone()),
        _ => Err(seed_error(format!("{file}: not a List with items"))),
    }
}

/// A node of the manifest with the status a kubelet (or kwok) would report.
fn seeded_node(item: Value, index: usize) -> Result<Value, ApiError> {
    let name = meta::name(&item).to_string();
    let labels = item.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}));
    let zone =
        labels.get("topology.kubernetes.io/zone").and_then(Value::as_str).unwrap_or(ZONES[0]);
    let control_plane = labels.get("node-role.kubernetes.io/control-plane").is_some();
    if name.is_empty() {
        return Err(seed_error("seed/nodes.yaml: a node has no name".into()));
    }
    let mut node = node(&name, zone, index, control_plane);
    if let (Some(all), Some(extra)) =
        (node.pointer_mut("/metadata/labels").and_then(Value::as_object_mut), labels.as_object())
    {
        all.extend(extra.clone());
    }
    if let Some(annotations) = item.pointer("/metadata/annotations") {
        meta::set(&mut node, &["metadata", "annotations"], annotations.clone());
    }
    Ok(node)
}

fn seed_error(message: String) -> ApiError {
    ApiError::internal(message)
}

/// Namespaces used by the scale seed: one per 3,000 pods, at least one.
pub fn scale_namespaces(pods: usize) -> Vec<String> {
    let count = pods.div_ceil(3000).max(1);
    (0..count).map(|i| format!("scale-{i:03}")).collect()
}

fn scale(store: &Store, nodes: usize, pods: usize) {
    let node_names: Vec<String> = (0..nodes).map(|i| format!("node-{i:05}")).collect();
    store.bulk_load(
        node_names.iter().enumerate().map(|(i, n)| (r::NODES, node(n, ZONES[i % 3], i + 1, false))),
    );
    let namespaces = scale_namespaces(pods);
    store.bulk_load(namespaces.iter().map(|ns| {
        (
            r::NAMESPACES,
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }),
        )
    }));
    let now = meta::now_rfc3339();
    let build = |i: usize| {
        let ns = &namespaces[i % namespaces.len()];
        // Spread apps independently of namespaces so a labelled list selects a slice.
        let app = format!("app-{}", (i / namespaces.len()) % 40);
        let node = node_names.get(i % nodes.max(1)).map(String::as_str);
        let ready = json!({"type": "Ready", "status": "True", "lastTransitionTime": now});
        json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": format!("{app}-{i:07}"),
                    "namespace": ns,
                    "labels": {"app": app, "tier": if i.is_multiple_of(3) { "web" } else { "backend" }, "shard": (i % 7).to_string()},
                },
                "spec": {
                    "nodeName": node,
                    "containers": [{"name": "main", "image": "registry.example/app:1.0", "imagePullPolicy": "IfNotPresent"}],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "schedulerName": "default-scheduler",
                },
                "status": {
                    "phase": "Running",
                    "podIP": format!("10.{}.{}.{}", 64 + (i >> 16) % 64, (i >> 8) & 0xff, i & 0xff),
                    "conditions": [ready],
                    "containerStatuses": [{"name": "main", "ready": true, "restartCount": 0, "started": true, "state": {"running": {"startedAt": now}}}],
                },
        })
    };
    // Building the objects is the slow part: the store does it on every core.
    store.bulk_build(r::PODS, pods, build);
}
