//! kubectl (built from the same release as the real control plane) against both servers.

use futures::FutureExt;
use serde_json::json;

use crate::{Interaction, kubectl_case};

const CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    app: x\ndata:\n  k: v\n";

pub fn cases() -> Vec<Interaction> {
    vec![
        kubectl_case("kubectl_apply_validates", |c| {
            async move {
                let first = c.kubectl(&["apply", "-f", "-"], Some(CM)).await;
                let again =
                    c.kubectl(&["apply", "-f", "-"], Some(&CM.replace("k: v", "k: w"))).await;
                let get =
                    c.kubectl(&["get", "configmap", "a", "-o", "jsonpath={.data.k}"], None).await;
                json!([first, again, get])
            }
            .boxed()
        }),
        kubectl_case("kubectl_apply_server_side", |c| {
            async move {
                let first = c.kubectl(&["apply", "--server-side", "-f", "-"], Some(CM)).await;
                let get = c
                    .kubectl(
                        &["get", "configmap", "a", "-o", "jsonpath={.metadata.labels.app}"],
                        None,
                    )
                    .await;
                json!([first, get])
            }
            .boxed()
        }),
        kubectl_case("kubectl_create_duplicate", |c| {
            async move {
                let first =
                    c.kubectl(&["create", "configmap", "a", "--from-literal=k=v"], None).await;
                let again =
                    c.kubectl(&["create", "configmap", "a", "--from-literal=k=v"], None).await;
                json!([first, again])
            }
            .boxed()
        }),
        kubectl_case("kubectl_get_missing", |c| {
            async move { c.kubectl(&["get", "configmap", "nope"], None).await }.boxed()
        }),
        kubectl_case("kubectl_get_by_selector", |c| {
            async move {
                c.configmap("a", json!({"app": "x"}), json!({})).await;
                c.configmap("b", json!({"app": "y"}), json!({})).await;
                c.kubectl(&["get", "configmaps", "-l", "app in (x)", "-o", "name"], None).await
            }
            .boxed()
        }),
        kubectl_case("kubectl_bad_selector", |c| {
            async move { c.kubectl(&["get", "configmaps", "-l", "app in x", "-o", "name"], None).await }.boxed()
        }),
        kubectl_case("kubectl_delete_dry_run_server", |c| {
            async move {
                c.configmap("a", json!({}), json!({})).await;
                let del = c.kubectl(&["delete", "configmap", "a", "--dry-run=server"], None).await;
                let get = c.kubectl(&["get", "configmap", "a", "-o", "name"], None).await;
                json!([del, get])
            }
            .boxed()
        }),
        kubectl_case("kubectl_label_bad_key", |c| {
            async move {
                c.configmap("a", json!({}), json!({})).await;
                c.kubectl(&["label", "configmap", "a", "bad key=x"], None).await
            }
            .boxed()
        }),
        kubectl_case("kubectl_apply_invalid_pod", |c| {
            async move {
                let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n";
                c.kubectl(&["apply", "-f", "-"], Some(pod)).await
            }
            .boxed()
        }),
        kubectl_case("kubectl_apply_unknown_field", |c| {
            async move {
                let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\nbogus: 1\n";
                c.kubectl(&["apply", "-f", "-"], Some(cm)).await
            }
            .boxed()
        }),
        kubectl_case("kubectl_patch_json_test_fails", |c| {
            async move {
                c.configmap("a", json!({}), json!({"k": "v"})).await;
                c.kubectl(
                    &[
                        "patch",
                        "configmap",
                        "a",
                        "--type=json",
                        "-p",
                        r#"[{"op":"test","path":"/data/k","value":"no"}]"#,
                    ],
                    None,
                )
                .await
            }
            .boxed()
        }),
    ]
}
