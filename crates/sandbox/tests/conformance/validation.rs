//! 422 Invalid: Pod, NetworkPolicy, labels, Deployment, PersistentVolumeClaim.

use futures::FutureExt;
use serde_json::{Value, json};

use crate::ctx::Ctx;
use crate::{Interaction, case};

async fn create_pod(c: &Ctx, spec: Value) -> Value {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec});
    c.post(&c.core("pods"), pod).await.obs(&[
        "/metadata/name",
        "/spec/containers/0/name",
        "/spec/containers/0/image",
    ])
}

async fn create_netpol(c: &Ctx, spec: Value) -> Value {
    let np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"}, "spec": spec});
    c.post(&c.apis("networking.k8s.io/v1", "networkpolicies"), np).await.obs(&[
        "/metadata/name",
        "/spec/podSelector",
        "/spec/policyTypes",
        "/spec/ingress",
    ])
}

async fn create_labelled(c: &Ctx, labels: Value) -> Value {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": labels}});
    c.post(&c.core("configmaps"), cm).await.obs(&["/metadata/labels"])
}

async fn create_deployment(c: &Ctx, edit: fn(&mut Value)) -> Value {
    let mut d = crate::delete::deployment("web", 0);
    edit(&mut d);
    c.post(&c.apis("apps/v1", "deployments"), d).await.obs(&["/spec/replicas"])
}

async fn create_pvc(c: &Ctx, spec: Value) -> Value {
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": spec});
    c.post(&c.core("persistentvolumeclaims"), pvc).await.obs(&[
        "/metadata/name",
        "/spec/accessModes",
        "/spec/resources",
        "/spec/volumeMode",
        "/status/phase",
    ])
}

pub fn cases() -> Vec<Interaction> {
    vec![
        case("pvc_valid", |c| {
            async move {
                create_pvc(&c, json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}})).await
            }
            .boxed()
        }),
        case("pvc_without_size_is_422", |c| {
            async move { create_pvc(&c, json!({"accessModes": ["ReadWriteOnce"]})).await }.boxed()
        }),
        case("pvc_without_access_modes_is_422", |c| {
            async move {
                create_pvc(&c, json!({"resources": {"requests": {"storage": "1Gi"}}})).await
            }
            .boxed()
        }),
        case("pod_valid", |c| {
            async move {
                create_pod(&c, json!({"containers": [{"name": "c", "image": "nginx:1"}]})).await
            }
            .boxed()
        }),
        case("pod_without_image_is_422", |c| {
            async move { create_pod(&c, json!({"containers": [{"name": "c"}]})).await }.boxed()
        }),
        case("pod_without_containers_is_422", |c| {
            async move { create_pod(&c, json!({"containers": []})).await }.boxed()
        }),
        case("pod_duplicate_container_names_is_422", |c| {
            async move {
                create_pod(&c, json!({"containers": [{"name": "c", "image": "a:1"}, {"name": "c", "image": "b:1"}]})).await
            }
            .boxed()
        }),
        case("pod_bad_container_name_is_422", |c| {
            async move {
                create_pod(&c, json!({"containers": [{"name": "Bad_Name", "image": "a:1"}]})).await
            }
            .boxed()
        }),
        case("pod_bad_restart_policy_is_422", |c| {
            async move {
                create_pod(&c, json!({"restartPolicy": "Sometimes", "containers": [{"name": "c", "image": "a:1"}]})).await
            }
            .boxed()
        }),
        case("netpol_valid", |c| {
            async move {
                create_netpol(&c, json!({
                    "podSelector": {"matchLabels": {"app": "db"}},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 5432, "protocol": "TCP"}]}],
                })).await
            }
            .boxed()
        }),
        case("netpol_deny_all", |c| {
            async move {
                create_netpol(&c, json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
                    .await
            }
            .boxed()
        }),
        case("netpol_bogus_policy_type_is_422", |c| {
            async move { create_netpol(&c, json!({"podSelector": {}, "policyTypes": ["Bogus"]})).await }.boxed()
        }),
        case("netpol_bad_protocol_is_422", |c| {
            async move {
                create_netpol(&c, json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "ICMP"}]}]})).await
            }
            .boxed()
        }),
        case("netpol_bad_cidr_is_422", |c| {
            async move {
                create_netpol(&c, json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/99"}}]}]})).await
            }
            .boxed()
        }),
        case("netpol_without_pod_selector_is_422", |c| {
            async move { create_netpol(&c, json!({"policyTypes": ["Ingress"]})).await }.boxed()
        }),
        case("label_key_with_space_is_422", |c| {
            async move { create_labelled(&c, json!({"bad key": "x"})).await }.boxed()
        }),
        case("label_value_too_long_is_422", |c| {
            async move { create_labelled(&c, json!({"k": "v".repeat(64)})).await }.boxed()
        }),
        case("label_value_with_slash_is_422", |c| {
            async move { create_labelled(&c, json!({"k": "a/b"})).await }.boxed()
        }),
        case("label_prefixed_key_is_valid", |c| {
            async move { create_labelled(&c, json!({"example.com/tier": "a", "k": ""})).await }
                .boxed()
        }),
        case("deployment_selector_mismatch_is_422", |c| {
            async move {
                create_deployment(&c, |d| {
                    d["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"})
                })
                .await
            }
            .boxed()
        }),
        case("deployment_negative_replicas_is_422", |c| {
            async move { create_deployment(&c, |d| d["spec"]["replicas"] = json!(-1)).await }
                .boxed()
        }),
    ]
}
