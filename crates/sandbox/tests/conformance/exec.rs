//! `pods/{name}/exec` answered before any upgrade: a missing pod, a container the pod does
//! not have, a pod not bound to a node, and a plain request that is not an upgrade. (The
//! streams themselves are driven by kubectl and kube-rs in `sandbox_kubectl` and the root
//! crate's `cluster_exec`, on both targets.)

use futures::FutureExt;
use serde_json::{Value, json};

use crate::ctx::Ctx;
use crate::{Interaction, case};

const QUERY: &str = "exec?command=ls&stdout=true&stderr=true";

async fn pod(c: &Ctx, node: Option<&str>) {
    let mut spec = json!({"containers": [{"name": "app", "image": "busybox:1"}]});
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec});
    assert_eq!(c.post(&c.core("pods"), pod).await.code, 201);
}

async fn exec(c: &Ctx, pod: &str, query: &str) -> Value {
    c.send("POST", &c.core(&format!("pods/{pod}/{query}")), "", None).await.obs(&[])
}

pub fn cases() -> Vec<Interaction> {
    vec![
        case("exec_missing_pod_is_404", |c| async move { exec(&c, "nope", QUERY).await }.boxed()),
        case("exec_unknown_container_is_400", |c| {
            async move {
                pod(&c, Some("sandbox-worker-1")).await;
                exec(&c, "p", &format!("{QUERY}&container=sidecar")).await
            }
            .boxed()
        }),
        case("exec_unbound_pod_is_400", |c| {
            async move {
                // A node name no node has: the scheduler leaves the pod alone.
                let spec = json!({"containers": [{"name": "app", "image": "busybox:1"}],
                    "schedulerName": "nobody"});
                let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec});
                assert_eq!(c.post(&c.core("pods"), pod).await.code, 201);
                exec(&c, "p", QUERY).await
            }
            .boxed()
        }),
        case("exec_without_upgrade_is_400", |c| {
            async move {
                pod(&c, Some("sandbox-worker-1")).await;
                exec(&c, "p", QUERY).await
            }
            .boxed()
        }),
    ]
}
