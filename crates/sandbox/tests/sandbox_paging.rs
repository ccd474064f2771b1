//! Paged lists through kube-rs: every object once and in order, with and without selectors,
//! while the cluster changes under the walk.

use chaosdeck_sandbox::resources::{NAMESPACES, PODS};
use chaosdeck_sandbox::{Sandbox, SandboxOptions, Seed};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, ObjectList};
use serde_json::json;

const NAMESPACES_USED: [&str; 3] = ["alpha", "beta", "gamma"];
const PER_NAMESPACE: usize = 1_000;

async fn seeded() -> (Sandbox, kube::Client, Vec<(String, String)>) {
    let sb = Sandbox::start(SandboxOptions { seed: Seed::Empty, ..Default::default() })
        .await
        .expect("sandbox starts");
    let store = sb.store();
    let mut keys = Vec::new();
    for ns in NAMESPACES_USED {
        store.create(NAMESPACES, "", json!({"metadata": {"name": ns}})).expect("namespace");
        for i in 0..PER_NAMESPACE {
            let name = format!("pod-{i:05}");
            let parity = if i % 2 == 0 { "even" } else { "odd" };
            let pod = json!({
                "metadata": {"name": name, "labels": {"parity": parity}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            });
            store.create(PODS, ns, pod).expect("pod");
            keys.push((ns.to_string(), name));
        }
    }
    keys.sort();
    let client = kube::Client::new(sb.router(), "default");
    (sb, client, keys)
}

fn keys_of(list: &ObjectList<Pod>) -> Vec<(String, String)> {
    list.items
        .iter()
        .map(|p| {
            (
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Walks a list with limit 100; `between` runs after each page with the page number.
async fn walk(
    api: &Api<Pod>,
    params: ListParams,
    mut between: impl AsyncFnMut(usize),
) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for page_no in 0.. {
        let mut params = params.clone().limit(100);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = api.list(&params).await.expect("page");
        assert!(page.items.len() <= 100);
        seen.extend(keys_of(&page));
        token = page.metadata.continue_.clone().filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
        assert_eq!(page.items.len(), 100, "only the last page may be short");
        between(page_no).await;
    }
    seen
}

fn assert_strictly_ordered(seen: &[(String, String)]) {
    for pair in seen.windows(2) {
        assert!(pair[0] < pair[1], "{:?} then {:?}: out of order or repeated", pair[0], pair[1]);
    }
}

#[tokio::test]
async fn paging_returns_every_pod_once_in_order() {
    let (sb, client, keys) = seeded().await;
    let all: Api<Pod> = Api::all(client.clone());

    let first = all.list(&ListParams::default().limit(100)).await.expect("first page");
    assert_eq!(first.metadata.remaining_item_count, Some((keys.len() - 100) as i64));

    let seen = walk(&all, ListParams::default(), async |_| {}).await;
    assert_eq!(seen, keys);

    let even: Vec<_> = keys
        .iter()
        .filter(|(_, name)| name.trim_start_matches("pod-").parse::<usize>().unwrap() % 2 == 0)
        .cloned()
        .collect();
    let seen = walk(&all, ListParams::default().labels("parity=even"), async |_| {}).await;
    assert_eq!(seen, even);

    // One namespace, with a field selector as well.
    let beta: Api<Pod> = Api::namespaced(client.clone(), "beta");
    let seen = walk(&beta, ListParams::default(), async |_| {}).await;
    let beta_keys: Vec<_> = keys.iter().filter(|(ns, _)| ns == "beta").cloned().collect();
    assert_eq!(seen, beta_keys);
    let seen =
        walk(&beta, ListParams::default().fields("metadata.namespace=beta"), async |_| {}).await;
    assert_eq!(seen, beta_keys);
    sb.shutdown().await;
}

#[tokio::test]
async fn paging_survives_changes_mid_walk() {
    let (sb, client, keys) = seeded().await;
    let all: Api<Pod> = Api::all(client.clone());
    let store = sb.store();
    let added_ahead = ("gamma".to_string(), "zz-late".to_string());
    let added_behind = ("alpha".to_string(), "aa-early".to_string());
    let mut deleted = None;
    let seen = walk(&all, ListParams::default(), async |page_no| {
        if page_no == 4 {
            for (ns, name) in [&added_ahead, &added_behind] {
                let pod = json!({
                    "metadata": {"name": name},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                });
                store.create(PODS, ns, pod).expect("pod created mid-walk");
            }
            // The object the continue token points at goes away: the walk must not care.
            let last = &keys[499];
            let pods: Api<Pod> = Api::namespaced(client.clone(), &last.0);
            pods.delete(&last.1, &DeleteParams::default()).await.expect("delete");
            deleted = Some(last.clone());
        }
    })
    .await;
    assert_eq!(deleted.as_ref(), Some(&keys[499]), "the walk reached page 5");
    assert_strictly_ordered(&seen);
    // Pages read the store as it is: what was added ahead of the walk shows up, what was
    // added behind it does not, and nothing already returned comes back.
    let mut expected = keys.clone();
    expected.push(added_ahead);
    expected.sort();
    assert_eq!(seen, expected);
    assert!(!seen.contains(&added_behind));
    sb.shutdown().await;
}

#[tokio::test]
async fn a_bad_continue_token_is_refused() {
    let (sb, client, _) = seeded().await;
    let all: Api<Pod> = Api::all(client);
    let err = all.list(&ListParams::default().limit(10).continue_token("zz")).await.unwrap_err();
    match err {
        kube::Error::Api(status) => assert_eq!(status.code, 400),
        other => panic!("expected a 400, got {other}"),
    }
    sb.shutdown().await;
}
