//! Deletes: preconditions, cascading through ownerReferences (the garbage collector), eviction
//! against a PodDisruptionBudget.

use futures::FutureExt;
use serde_json::{Value, json};

use crate::ctx::{Ctx, names};
use crate::{Interaction, case};

pub fn deployment(name: &str, replicas: u32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}},
        },
    })
}

fn replicaset(name: &str, replicas: u32) -> Value {
    let mut rs = deployment(name, replicas);
    rs["kind"] = json!("ReplicaSet");
    rs
}

fn pod(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1"}]},
    })
}

async fn pod_names(c: &Ctx, selector: &str) -> Vec<String> {
    names(&c.get(&format!("{}?labelSelector={selector}", c.core("pods"))).await.body)
}

/// A ReplicaSet `rs` of two pods, once both exist.
async fn replicaset_with_pods(c: &Ctx) {
    let made = c.post(&c.apis("apps/v1", "replicasets"), replicaset("rs", 2)).await;
    assert_eq!(made.code, 201, "{:?}", made.body);
    assert!(c.wait_for(|| async { pod_names(c, "app%3Drs").await.len() == 2 }).await);
}

/// Deletes `rs` with `policy`; the answer, then what is left once the collector is done.
async fn cascade(c: &Ctx, policy: &str) -> Value {
    replicaset_with_pods(c).await;
    let resp = c
        .delete(&c.apis("apps/v1", "replicasets/rs"), Some(json!({"propagationPolicy": policy})))
        .await;
    let answer = resp.obs(&["/metadata/finalizers"]);
    let deleting = resp.body.pointer("/metadata/deletionTimestamp").is_some();
    let rs_gone = c
        .wait_for(|| async { c.get(&c.apis("apps/v1", "replicasets/rs")).await.code == 404 })
        .await;
    let orphan = policy == "Orphan";
    let settled = c
        .wait_for(|| async {
            let left = pod_names(c, "app%3Drs").await.len();
            if orphan { left == 2 } else { left == 0 }
        })
        .await;
    let pods = c.get(&format!("{}?labelSelector=app%3Drs", c.core("pods"))).await.body;
    let owners: Vec<Value> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p.pointer("/metadata/ownerReferences").cloned().unwrap_or(json!([])))
        .collect();
    json!({
        "answer": answer,
        "answerHasDeletionTimestamp": deleting,
        "replicaSetGone": rs_gone,
        "podsSettled": settled,
        "podsLeft": names(&pods).len(),
        "ownerReferencesLeft": owners,
    })
}

async fn precondition(c: &Ctx, pre: impl FnOnce(&Value) -> Value) -> Value {
    let obj = c.configmap("a", json!({}), json!({})).await;
    let resp = c.delete(&c.core("configmaps/a"), Some(json!({"preconditions": pre(&obj)}))).await;
    let after = c.get(&c.core("configmaps/a")).await.code;
    json!({"delete": resp.obs(&["/metadata/name"]), "getAfter": after})
}

/// A PDB over two ready pods `p0`, `p1` (label app=guarded) with minAvailable `min`, once its
/// status counts them.
async fn guarded(c: &Ctx, min: u32) {
    for i in 0..2 {
        let made = c.post(&c.core("pods"), pod(&format!("p{i}"), json!({"app": "guarded"}))).await;
        assert_eq!(made.code, 201, "{:?}", made.body);
    }
    let pdb = json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "pdb"},
        "spec": {"minAvailable": min, "selector": {"matchLabels": {"app": "guarded"}}},
    });
    assert_eq!(c.post(&c.apis("policy/v1", "poddisruptionbudgets"), pdb).await.code, 201);
    let settled = c
        .wait_for(|| async {
            let pdb = c.get(&c.apis("policy/v1", "poddisruptionbudgets/pdb")).await.body;
            pdb.pointer("/status/currentHealthy").and_then(Value::as_i64) == Some(2)
                && pdb.pointer("/status/observedGeneration").and_then(Value::as_i64) == Some(1)
        })
        .await;
    assert!(settled, "the PDB never counted two healthy pods");
}

fn eviction(name: &str) -> Value {
    json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}})
}

pub fn cases() -> Vec<Interaction> {
    vec![
        case("delete_configmap", |c| {
            async move {
                c.configmap("a", json!({}), json!({})).await;
                let resp = c.delete(&c.core("configmaps/a"), None).await;
                json!({"delete": resp.obs(&["/metadata/name"]), "getAfter": c.get(&c.core("configmaps/a")).await.code})
            }
            .boxed()
        }),
        case("delete_missing_is_404", |c| {
            async move { c.delete(&c.core("configmaps/nope"), None).await.obs(&[]) }.boxed()
        }),
        case("delete_uid_precondition_mismatch_is_409", |c| {
            async move {
                precondition(&c, |_| json!({"uid": "00000000-0000-0000-0000-000000000000"})).await
            }
            .boxed()
        }),
        case("delete_resource_version_precondition_mismatch_is_409", |c| {
            async move { precondition(&c, |_| json!({"resourceVersion": "999999999"})).await }
                .boxed()
        }),
        case("delete_matching_preconditions", |c| {
            async move {
                precondition(&c, |obj| {
                    json!({"uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"]})
                })
                .await
            }
            .boxed()
        }),
        case("delete_pod_is_graceful", |c| {
            async move {
                assert_eq!(c.post(&c.core("pods"), pod("p", json!({}))).await.code, 201);
                let running = c
                    .wait_for(|| async {
                        crate::ctx::str_at(&c.get(&c.core("pods/p")).await.body, "/status/phase") == "Running"
                    })
                    .await;
                assert!(running, "pod p never ran");
                let resp = c.delete(&c.core("pods/p"), None).await;
                json!({"code": resp.code, "kind": resp.body.get("kind"), "graceSeconds": resp.body.pointer("/metadata/deletionGracePeriodSeconds")})
            }
            .boxed()
        }),
        case("delete_pod_grace_zero_is_immediate", |c| {
            async move {
                assert_eq!(c.post(&c.core("pods"), pod("p", json!({}))).await.code, 201);
                let resp =
                    c.delete(&c.core("pods/p"), Some(json!({"gracePeriodSeconds": 0}))).await;
                let gone =
                    c.wait_for(|| async { c.get(&c.core("pods/p")).await.code == 404 }).await;
                json!({"code": resp.code, "kind": resp.body.get("kind"), "gone": gone})
            }
            .boxed()
        }),
        case("delete_collection_by_label", |c| {
            async move {
                c.configmap("a", json!({"x": "1"}), json!({})).await;
                c.configmap("b", json!({"x": "1"}), json!({})).await;
                c.configmap("keep", json!({"x": "2"}), json!({})).await;
                let resp = c.delete(&format!("{}?labelSelector=x%3D1", c.core("configmaps")), None).await;
                let left = c.get(&format!("{}?labelSelector=x", c.core("configmaps"))).await;
                json!({"code": resp.code, "kind": resp.body.get("kind"), "deleted": names(&resp.body), "left": names(&left.body)})
            }
            .boxed()
        }),
        case("cascade_background", |c| async move { cascade(&c, "Background").await }.boxed()),
        case("cascade_foreground", |c| async move { cascade(&c, "Foreground").await }.boxed()),
        case("cascade_orphan", |c| async move { cascade(&c, "Orphan").await }.boxed()),
        case("cascade_deployment_takes_its_replicasets", |c| {
            async move {
                assert_eq!(c.post(&c.apis("apps/v1", "deployments"), deployment("web", 1)).await.code, 201);
                let rs_of = || async { names(&c.get(&c.apis("apps/v1", "replicasets")).await.body).len() };
                let made = c.wait_for(|| async { rs_of().await == 1 }).await;
                let resp = c.delete(&c.apis("apps/v1", "deployments/web"), None).await;
                let collected = c.wait_for(|| async { rs_of().await == 0 }).await;
                let pods_gone = c.wait_for(|| async { pod_names(&c, "app%3Dweb").await.is_empty() }).await;
                json!({"replicaSetMade": made, "code": resp.code, "replicaSetCollected": collected, "podsGone": pods_gone})
            }
            .boxed()
        }),
        case("owner_reference_to_missing_owner_is_collected", |c| {
            async move {
                let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "orphan"}});
                cm["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "00000000-0000-0000-0000-000000000001"}]);
                let made = c.post(&c.core("configmaps"), cm).await.code;
                let gone = c.wait_for(|| async { c.get(&c.core("configmaps/orphan")).await.code == 404 }).await;
                json!({"created": made, "collected": gone})
            }
            .boxed()
        }),
        case("evict_without_pdb", |c| {
            async move {
                assert_eq!(c.post(&c.core("pods"), pod("p", json!({}))).await.code, 201);
                c.post(&c.core("pods/p/eviction"), eviction("p")).await.obs(&[])
            }
            .boxed()
        }),
        case("evict_missing_pod_is_404", |c| {
            async move { c.post(&c.core("pods/nope/eviction"), eviction("nope")).await.obs(&[]) }
                .boxed()
        }),
        case("evict_blocked_by_pdb_is_429", |c| {
            async move {
                guarded(&c, 2).await;
                let resp = c.post(&c.core("pods/p0/eviction"), eviction("p0")).await;
                json!({"evict": resp.obs(&[]), "podStays": c.get(&c.core("pods/p0")).await.code})
            }
            .boxed()
        }),
        case("evict_allowed_by_pdb", |c| {
            async move {
                guarded(&c, 1).await;
                c.post(&c.core("pods/p0/eviction"), eviction("p0")).await.obs(&[])
            }
            .boxed()
        }),
        case("evict_name_mismatch_is_400", |c| {
            async move {
                assert_eq!(c.post(&c.core("pods"), pod("p", json!({}))).await.code, 201);
                c.post(&c.core("pods/p/eviction"), eviction("other")).await.obs(&[])
            }
            .boxed()
        }),
    ]
}
