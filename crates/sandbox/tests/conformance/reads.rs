//! Lists: label and field selectors, pagination with continue tokens, discovery, the seed.

use futures::FutureExt;
use serde_json::{Value, json};

use crate::ctx::{Ctx, Resp, names, str_at};
use crate::{Interaction, case, compacting_case};

/// Five NetworkPolicies (a kind no controller adds to a new namespace, unlike ConfigMaps):
/// c0..c4 with tier=a|b|a|b|a, c2 also canary=yes.
async fn five(c: &Ctx) {
    for i in 0..5 {
        let tier = if i % 2 == 0 { "a" } else { "b" };
        let mut labels = json!({"set": "five", "tier": tier});
        if i == 2 {
            labels["canary"] = json!("yes");
        }
        let np = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": format!("c{i}"), "labels": labels},
            "spec": {"podSelector": {}},
        });
        let made = c.post(&netpols(c), np).await;
        assert_eq!(made.code, 201, "{:?}", made.body);
    }
}

fn netpols(c: &Ctx) -> String {
    c.apis("networking.k8s.io/v1", "networkpolicies")
}

async fn select(c: &Ctx, query: &str) -> Value {
    five(c).await;
    list_obs(&c.get(&format!("{}?{query}", netpols(c))).await)
}

fn list_obs(resp: &Resp) -> Value {
    if resp.code != 200 {
        return resp.status_obs();
    }
    json!({
        "code": resp.code,
        "kind": resp.body.get("kind"),
        "names": names(&resp.body),
        "continue": !str_at(&resp.body, "/metadata/continue").is_empty(),
        "remainingItemCount": resp.body.pointer("/metadata/remainingItemCount"),
    })
}

pub fn cases() -> Vec<Interaction> {
    vec![
        case("list_by_label_equality", |c| {
            async move { select(&c, "labelSelector=tier%3Da").await }.boxed()
        }),
        case("list_by_label_inequality", |c| {
            async move { select(&c, "labelSelector=set%3Dfive,tier!%3Da").await }.boxed()
        }),
        case("list_by_label_set_in", |c| {
            async move { select(&c, "labelSelector=tier+in+(a,b),canary").await }.boxed()
        }),
        case("list_by_label_set_notin", |c| {
            async move { select(&c, "labelSelector=set%3Dfive,tier+notin+(a)").await }.boxed()
        }),
        case("list_by_label_absent", |c| {
            async move { select(&c, "labelSelector=set,!canary").await }.boxed()
        }),
        case("list_label_selector_parse_error_is_400", |c| {
            async move { select(&c, "labelSelector=tier+in+a").await }.boxed()
        }),
        case("list_label_selector_bad_value_is_400", |c| {
            async move { select(&c, "labelSelector=tier%3Dnot%20ok").await }.boxed()
        }),
        case("list_by_field_name", |c| {
            async move { select(&c, "fieldSelector=metadata.name%3Dc3").await }.boxed()
        }),
        case("list_by_field_name_inequality", |c| {
            async move { select(&c, "labelSelector=set&fieldSelector=metadata.name!%3Dc3").await }
                .boxed()
        }),
        case("list_by_unsupported_field_is_400", |c| {
            async move { select(&c, "fieldSelector=data.k%3Dv").await }.boxed()
        }),
        case("list_pods_by_node_field", |c| {
            async move {
                let all = c.get("/api/v1/pods?fieldSelector=spec.nodeName%3Dnowhere").await;
                list_obs(&all)
            }
            .boxed()
        }),
        case("list_first_page", |c| async move { select(&c, "limit=2").await }.boxed()),
        case("list_pages_follow_continue", |c| {
            async move {
                five(&c).await;
                let mut pages = Vec::new();
                let mut token = String::new();
                loop {
                    let path = format!("{}?limit=2&continue={token}", netpols(&c));
                    let resp = c.get(&path).await;
                    pages.push(list_obs(&resp));
                    token = str_at(&resp.body, "/metadata/continue").to_string();
                    if token.is_empty() || pages.len() > 5 {
                        break;
                    }
                }
                Value::Array(pages)
            }
            .boxed()
        }),
        case("list_page_with_selector_has_no_count", |c| {
            async move { select(&c, "labelSelector=tier%3Da&limit=1").await }.boxed()
        }),
        case("list_bad_continue_is_400", |c| {
            async move { select(&c, "limit=2&continue=garbage").await }.boxed()
        }),
        case("list_exact_old_resource_version_is_410", |c| {
            async move { select(&c, "resourceVersion=2&resourceVersionMatch=Exact").await }.boxed()
        }),
        compacting_case("list_exact_after_compaction_is_410", |c| {
            async move {
                five(&c).await;
                let list = c.get(&netpols(&c)).await.body;
                let rv = str_at(&list, "/metadata/resourceVersion").to_string();
                c.configmap("later", json!({}), json!({})).await;
                c.compact().await;
                list_obs(
                    &c.get(&format!(
                        "{}?resourceVersion={rv}&resourceVersionMatch=Exact",
                        netpols(&c)
                    ))
                    .await,
                )
            }
            .boxed()
        }),
        case("list_nodes", |c| {
            async move {
                let resp = c.get("/api/v1/nodes").await;
                let mut seen = list_obs(&resp);
                let zones: Vec<Value> = resp.body["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        n.pointer("/metadata/labels/topology.kubernetes.io~1zone")
                            .cloned()
                            .unwrap_or(Value::Null)
                    })
                    .collect();
                seen["zones"] = Value::Array(zones);
                seen
            }
            .boxed()
        }),
        case("get_node", |c| {
            async move {
                c.get("/api/v1/nodes/sandbox-worker-1").await.obs(&[
                    "/metadata/name",
                    "/metadata/labels/topology.kubernetes.io~1zone",
                    "/metadata/labels/kubernetes.io~1hostname",
                ])
            }
            .boxed()
        }),
        case("get_missing_node_is_404", |c| {
            async move { c.get("/api/v1/nodes/nope").await.obs(&[]) }.boxed()
        }),
        case("list_demo_deployments", |c| {
            async move { list_obs(&c.get("/apis/apps/v1/namespaces/shop/deployments").await) }
                .boxed()
        }),
        case("namespace_gets_kube_root_ca", |c| {
            async move {
                let path = c.core("configmaps/kube-root-ca.crt");
                let found = match c.target {
                    crate::support::Target::Real => {
                        c.wait_for(|| async { c.get(&path).await.code == 200 }).await
                    }
                    crate::support::Target::Sandbox => c.get(&path).await.code == 200,
                };
                json!({"found": found})
            }
            .boxed()
        }),
        case("discovery_core", |c| {
            async move {
                let resp = c.get("/api/v1").await;
                resources(
                    &resp.body,
                    &[
                        "pods",
                        "pods/eviction",
                        "pods/status",
                        "configmaps",
                        "namespaces",
                        "nodes",
                        "services",
                    ],
                )
            }
            .boxed()
        }),
        case("discovery_apps_and_policy", |c| {
            async move {
                let apps = c.get("/apis/apps/v1").await;
                let policy = c.get("/apis/policy/v1").await;
                let net = c.get("/apis/networking.k8s.io/v1").await;
                json!([
                    resources(&apps.body, &["deployments", "deployments/scale", "replicasets"]),
                    resources(&policy.body, &["poddisruptionbudgets"]),
                    resources(&net.body, &["networkpolicies"]),
                ])
            }
            .boxed()
        }),
        case("unknown_group_is_404", |c| {
            async move {
                let resp = c.get("/apis/nope.example.com/v1/namespaces/default/things").await;
                json!({"code": resp.code})
            }
            .boxed()
        }),
    ]
}

/// For each resource name: its kind and scope, or null when not served.
fn resources(list: &Value, wanted: &[&str]) -> Value {
    let served = list.get("resources").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = serde_json::Map::new();
    for w in wanted {
        let row = served.iter().find(|r| r.get("name").and_then(Value::as_str) == Some(w));
        out.insert(
            (*w).into(),
            row.map_or(
                Value::Null,
                |r| json!({"kind": r.get("kind"), "namespaced": r.get("namespaced")}),
            ),
        );
    }
    Value::Object(out)
}
