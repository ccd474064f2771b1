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

fn deployment(name: &str, replicas: i64, image: &str, extra_labels: Value) -> Value {
    let mut labels = json!({"app": name});
    if let (Some(l), Some(extra)) = (labels.as_object_mut(), extra_labels.as_object()) {
        l.extend(extra.clone());
    }
    json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 8080}]}]},
            },
        },
    })
}

fn service(name: &str) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    })
}

fn create_all(store: &Store, items: Vec<(usize, &str, Value)>) -> Result<(), ApiError> {
    for (res, ns, obj) in items {
        store.create(res, ns, obj)?;
    }
    Ok(())
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

fn demo(store: &Store) -> Result<(), ApiError> {
    store.create(r::NODES, "", node("sandbox-control-plane", ZONES[0], 0, true))?;
    for i in 1..=3 {
        store.create(
            r::NODES,
            "",
            node(&format!("sandbox-worker-{i}"), ZONES[(i - 1) % 3], i, false),
        )?;
    }
    for ns in ["shop", "payments"] {
        store.create(r::NAMESPACES, "", namespace(ns))?;
    }
    create_all(
        store,
        vec![
            (
                r::DEPLOYMENTS,
                "kube-system",
                deployment(
                    "coredns",
                    2,
                    "registry.k8s.io/coredns/coredns:v1.11.1",
                    json!({"k8s-app": "kube-dns"}),
                ),
            ),
            (
                r::DEPLOYMENTS,
                "shop",
                deployment("frontend", 3, "nginx:1.27", json!({"tier": "web"})),
            ),
            (r::DEPLOYMENTS, "shop", deployment("cart", 2, "redis:7", json!({"tier": "backend"}))),
            (
                r::DEPLOYMENTS,
                "payments",
                deployment(
                    "api",
                    3,
                    "ghcr.io/example/payments-api:1.4",
                    json!({"tier": "backend"}),
                ),
            ),
            (r::SERVICES, "shop", service("frontend")),
            (r::SERVICES, "shop", service("cart")),
            (r::SERVICES, "payments", service("api")),
            (
                r::CONFIGMAPS,
                "shop",
                json!({"metadata": {"name": "frontend-config"}, "data": {"THEME": "dark", "CART_URL": "http://cart"}}),
            ),
            (
                r::PDBS,
                "payments",
                json!({
                    "metadata": {"name": "api-pdb"},
                    "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "api"}}},
                }),
            ),
            (
                r::NETWORKPOLICIES,
                "payments",
                json!({
                    "metadata": {"name": "api-allow-shop"},
                    "spec": {
                        "podSelector": {"matchLabels": {"app": "api"}},
                        "policyTypes": ["Ingress"],
                        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}}]}],
                    },
                }),
            ),
        ],
    )
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
        (
            r::PODS,
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
            }),
        )
    };
    // Building the objects is the slow part; do it on every core, then insert in one go.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = pods.div_ceil(threads).max(1);
    let built: Vec<Vec<(usize, Value)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..pods)
            .step_by(chunk)
            .map(|start| {
                let build = &build;
                scope.spawn(move || {
                    (start..(start + chunk).min(pods)).map(build).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    store.bulk_load(built.into_iter().flatten());
}
