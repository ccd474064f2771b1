//! Create, get, update and their errors (404, 409, 400, 422), and `dryRun=All`.

use futures::FutureExt;
use serde_json::{Value, json};

use crate::ctx::norm_text;
use crate::{Interaction, case};

const CM_FIELDS: &[&str] =
    &["/apiVersion", "/metadata/name", "/metadata/namespace", "/metadata/labels", "/data"];

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

pub fn cases() -> Vec<Interaction> {
    vec![
        case("create_configmap", |c| {
            async move {
                let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"app": "x"}}, "data": {"k": "v"}});
                c.post(&c.core("configmaps"), body).await.obs(CM_FIELDS)
            }
            .boxed()
        }),
        case("get_configmap", |c| {
            async move {
                c.configmap("a", json!({"app": "x"}), json!({"k": "v"})).await;
                c.get(&c.core("configmaps/a")).await.obs(CM_FIELDS)
            }
            .boxed()
        }),
        case("get_missing_configmap_is_404", |c| {
            async move { c.get(&c.core("configmaps/nope")).await.obs(&[]) }.boxed()
        }),
        case("get_missing_deployment_is_404", |c| {
            async move { c.get(&c.apis("apps/v1", "deployments/nope")).await.obs(&[]) }.boxed()
        }),
        case("get_in_missing_namespace_is_404", |c| {
            async move { c.get("/api/v1/namespaces/cf-nowhere/configmaps/a").await.obs(&[]) }
                .boxed()
        }),
        case("create_in_missing_namespace_is_404", |c| {
            async move { c.post("/api/v1/namespaces/cf-nowhere/configmaps", cm("a")).await.obs(&[]) }
                .boxed()
        }),
        case("create_duplicate_is_409", |c| {
            async move {
                c.configmap("a", json!({}), json!({})).await;
                c.post(&c.core("configmaps"), cm("a")).await.obs(&[])
            }
            .boxed()
        }),
        case("create_duplicate_deployment_is_409", |c| {
            async move {
                let d = crate::delete::deployment("web", 0);
                assert_eq!(c.post(&c.apis("apps/v1", "deployments"), d.clone()).await.code, 201);
                c.post(&c.apis("apps/v1", "deployments"), d).await.obs(&[])
            }
            .boxed()
        }),
        case("create_with_generate_name", |c| {
            async move {
                let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}});
                let resp = c.post(&c.core("configmaps"), body).await;
                let name = resp.body.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
                json!({"code": resp.code, "prefixed": name.starts_with("gen-"), "length": name.len()})
            }
            .boxed()
        }),
        case("create_without_name_is_422", |c| {
            async move {
                let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
                c.post(&c.core("configmaps"), body).await.obs(&[])
            }
            .boxed()
        }),
        case("create_uppercase_name_is_422", |c| {
            async move { c.post(&c.core("configmaps"), cm("Not_Valid")).await.obs(&[]) }.boxed()
        }),
        case("create_namespace_with_dots_is_422", |c| {
            async move {
                let body =
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}});
                c.post("/api/v1/namespaces", body).await.obs(&[])
            }
            .boxed()
        }),
        case("create_namespace_mismatch_is_400", |c| {
            async move {
                let mut body = cm("a");
                body["metadata"]["namespace"] = json!("elsewhere");
                c.post(&c.core("configmaps"), body).await.obs(&[])
            }
            .boxed()
        }),
        case("update_configmap", |c| {
            async move {
                let mut obj = c.configmap("a", json!({}), json!({"k": "v"})).await;
                obj["data"] = json!({"k": "w"});
                c.put(&c.core("configmaps/a"), obj).await.obs(CM_FIELDS)
            }
            .boxed()
        }),
        case("update_stale_resource_version_is_409", |c| {
            async move {
                let obj = c.configmap("a", json!({}), json!({"k": "v"})).await;
                let mut newer = obj.clone();
                newer["data"] = json!({"k": "w"});
                assert_eq!(c.put(&c.core("configmaps/a"), newer).await.code, 200);
                let mut stale = obj;
                stale["data"] = json!({"k": "stale"});
                c.put(&c.core("configmaps/a"), stale).await.obs(&[])
            }
            .boxed()
        }),
        case("update_name_mismatch_is_400", |c| {
            async move {
                c.configmap("a", json!({}), json!({})).await;
                c.put(&c.core("configmaps/a"), cm("b")).await.obs(&[])
            }
            .boxed()
        }),
        case("update_missing_is_404", |c| {
            async move { c.put(&c.core("configmaps/nope"), cm("nope")).await.obs(&[]) }.boxed()
        }),
        case("create_bad_json_is_400", |c| {
            async move {
                let resp = c
                    .send(
                        "POST",
                        &c.core("configmaps"),
                        "application/json",
                        Some(b"{not json".to_vec()),
                    )
                    .await;
                json!({"code": resp.code, "reason": resp.body.get("reason")})
            }
            .boxed()
        }),
        case("dry_run_create_stores_nothing", |c| {
            async move {
                let made = c.post(&format!("{}?dryRun=All", c.core("configmaps")), cm("a")).await;
                let after = c.get(&c.core("configmaps/a")).await;
                json!({"create": made.obs(CM_FIELDS), "get": after.code})
            }
            .boxed()
        }),
        case("dry_run_create_invalid_is_422", |c| {
            async move {
                c.post(&format!("{}?dryRun=All", c.core("configmaps")), cm("Bad_Name"))
                    .await
                    .obs(&[])
            }
            .boxed()
        }),
        case("dry_run_delete_keeps_the_object", |c| {
            async move {
                c.configmap("a", json!({}), json!({"k": "v"})).await;
                let del = c.delete(&format!("{}?dryRun=All", c.core("configmaps/a")), None).await;
                let after = c.get(&c.core("configmaps/a")).await;
                json!({"delete": del.obs(CM_FIELDS), "get": after.code})
            }
            .boxed()
        }),
        case("dry_run_patch_changes_nothing", |c| {
            async move {
                c.configmap("a", json!({}), json!({"k": "v"})).await;
                let path = format!("{}?dryRun=All", c.core("configmaps/a"));
                let patched =
                    c.patch(&path, crate::ctx::MERGE, json!({"data": {"k": "dry"}})).await;
                let after = c.get(&c.core("configmaps/a")).await;
                json!({"patch": patched.obs(&["/data"]), "after": after.obs(&["/data"])})
            }
            .boxed()
        }),
        case("dry_run_bogus_value_is_400", |c| {
            async move {
                let resp = c.post(&format!("{}?dryRun=Bogus", c.core("configmaps")), cm("a")).await;
                json!({"code": resp.code, "reason": resp.body.get("reason"), "message": resp.body.get("message").and_then(Value::as_str).map(norm_text)})
            }
            .boxed()
        }),
    ]
}
