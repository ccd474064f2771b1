//! Merge, JSON, strategic-merge and server-side-apply patches.

use futures::FutureExt;
use serde_json::{Value, json};

use crate::ctx::{Ctx, JSON_PATCH, MERGE, STRATEGIC};
use crate::{Interaction, case};

async fn patched(c: &Ctx, content_type: &str, patch: Value) -> Value {
    c.configmap("a", json!({"app": "x", "keep": "me"}), json!({"k": "v", "other": "o"})).await;
    c.patch(&c.core("configmaps/a"), content_type, patch).await.obs(&["/metadata/labels", "/data"])
}

/// A deployment with two containers, app and sidecar, scaled to 0 (no pods needed).
async fn two_containers(c: &Ctx) {
    let mut d = crate::delete::deployment("web", 0);
    d["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "app", "image": "nginx:1"},
        {"name": "sidecar", "image": "busybox:1"},
    ]);
    let made = c.post(&c.apis("apps/v1", "deployments"), d).await;
    assert_eq!(made.code, 201, "{:?}", made.body);
}

async fn containers_after(c: &Ctx, content_type: &str, patch: Value) -> Value {
    two_containers(c).await;
    c.patch(&c.apis("apps/v1", "deployments/web"), content_type, patch).await.obs(&[
        "/spec/template/spec/containers/0/name",
        "/spec/template/spec/containers/0/image",
        "/spec/template/spec/containers/1/name",
        "/spec/template/spec/containers/1/image",
    ])
}

const APPLIED: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    app: x\ndata:\n  k: v\n";

pub fn cases() -> Vec<Interaction> {
    vec![
        case("merge_patch_sets_fields", |c| {
            async move {
                patched(
                    &c,
                    MERGE,
                    json!({"metadata": {"labels": {"new": "1"}}, "data": {"k": "w"}}),
                )
                .await
            }
            .boxed()
        }),
        case("merge_patch_null_removes", |c| {
            async move {
                patched(
                    &c,
                    MERGE,
                    json!({"metadata": {"labels": {"keep": null}}, "data": {"other": null}}),
                )
                .await
            }
            .boxed()
        }),
        case("merge_patch_missing_is_404", |c| {
            async move {
                c.patch(&c.core("configmaps/nope"), MERGE, json!({"data": {"k": "v"}}))
                    .await
                    .obs(&[])
            }
            .boxed()
        }),
        case("merge_patch_replaces_lists", |c| {
            async move { containers_after(&c, MERGE, json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}})).await }.boxed()
        }),
        case("merge_patch_not_json_is_400", |c| {
            async move {
                c.configmap("a", json!({}), json!({})).await;
                let resp =
                    c.send("PATCH", &c.core("configmaps/a"), MERGE, Some(b"{oops".to_vec())).await;
                json!({"code": resp.code, "reason": resp.body.get("reason")})
            }
            .boxed()
        }),
        case("patch_unsupported_media_type_is_415", |c| {
            async move {
                c.configmap("a", json!({}), json!({})).await;
                let resp = c
                    .send("PATCH", &c.core("configmaps/a"), "text/plain", Some(b"{}".to_vec()))
                    .await;
                json!({"code": resp.code, "reason": resp.body.get("reason")})
            }
            .boxed()
        }),
        case("json_patch_add_replace_remove", |c| {
            async move {
                patched(
                    &c,
                    JSON_PATCH,
                    json!([
                        {"op": "add", "path": "/metadata/labels/new", "value": "1"},
                        {"op": "replace", "path": "/data/k", "value": "w"},
                        {"op": "remove", "path": "/data/other"},
                    ]),
                )
                .await
            }
            .boxed()
        }),
        case("json_patch_test_passes", |c| {
            async move {
                patched(
                    &c,
                    JSON_PATCH,
                    json!([
                        {"op": "test", "path": "/data/k", "value": "v"},
                        {"op": "replace", "path": "/data/k", "value": "tested"},
                    ]),
                )
                .await
            }
            .boxed()
        }),
        case("json_patch_test_fails_is_422", |c| {
            async move {
                patched(
                    &c,
                    JSON_PATCH,
                    json!([
                        {"op": "test", "path": "/data/k", "value": "wrong"},
                        {"op": "replace", "path": "/data/k", "value": "never"},
                    ]),
                )
                .await
            }
            .boxed()
        }),
        case("json_patch_remove_missing_is_422", |c| {
            async move {
                patched(&c, JSON_PATCH, json!([{"op": "remove", "path": "/data/absent"}])).await
            }
            .boxed()
        }),
        case("json_patch_not_a_list_is_400", |c| {
            async move {
                let seen = patched(&c, JSON_PATCH, json!({"op": "add"})).await;
                json!({"code": seen["code"], "reason": seen["reason"]})
            }
            .boxed()
        }),
        case("strategic_merge_keeps_other_containers", |c| {
            async move { containers_after(&c, STRATEGIC, json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}})).await }.boxed()
        }),
        case("strategic_merge_delete_directive", |c| {
            async move { containers_after(&c, STRATEGIC, json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}})).await }.boxed()
        }),
        case("strategic_merge_on_configmap", |c| {
            async move {
                patched(
                    &c,
                    STRATEGIC,
                    json!({"metadata": {"labels": {"new": "1"}}, "data": {"other": null}}),
                )
                .await
            }
            .boxed()
        }),
        case("apply_creates", |c| {
            async move {
                c.apply(&format!("{}?fieldManager=conf", c.core("configmaps/a")), APPLIED)
                    .await
                    .obs(&["/metadata/name", "/metadata/labels", "/data"])
            }
            .boxed()
        }),
        case("apply_updates_and_removes_owned_fields", |c| {
            async move {
                let path = format!("{}?fieldManager=conf", c.core("configmaps/a"));
                assert_eq!(c.apply(&path, APPLIED).await.code, 201);
                let second =
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: w\n";
                c.apply(&path, second).await.obs(&["/metadata/labels", "/data"])
            }
            .boxed()
        }),
        case("apply_without_field_manager_is_400", |c| {
            async move { c.apply(&c.core("configmaps/a"), APPLIED).await.obs(&[]) }.boxed()
        }),
        case("apply_conflict_between_managers_is_409", |c| {
            async move {
                let first = format!("{}?fieldManager=one", c.core("configmaps/a"));
                assert_eq!(c.apply(&first, APPLIED).await.code, 201);
                let other =
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: theirs\n";
                c.apply(&format!("{}?fieldManager=two", c.core("configmaps/a")), other)
                    .await
                    .obs(&["/data"])
            }
            .boxed()
        }),
        case("apply_force_takes_over", |c| {
            async move {
                let first = format!("{}?fieldManager=one", c.core("configmaps/a"));
                assert_eq!(c.apply(&first, APPLIED).await.code, 201);
                let other =
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: theirs\n";
                c.apply(&format!("{}?fieldManager=two&force=true", c.core("configmaps/a")), other)
                    .await
                    .obs(&["/data"])
            }
            .boxed()
        }),
        case("apply_name_mismatch_is_400", |c| {
            async move {
                c.apply(&format!("{}?fieldManager=conf", c.core("configmaps/b")), APPLIED)
                    .await
                    .obs(&[])
            }
            .boxed()
        }),
    ]
}
