//! Server-side printing: the `meta.k8s.io/v1` Table kubectl asks for, in the shape
//! kube-apiserver v1.36 answers (checked against `scripts/realcluster`): the pod printer's
//! columns, rows carrying `PartialObjectMetadata` unless `includeObject` says otherwise, the
//! paging metadata of a list; and the pods stored compactly answering every read alike.

use chaosdeck_sandbox::resources::{LEASES, NAMESPACES, PODS};
use chaosdeck_sandbox::{Sandbox, SandboxOptions, Seed};
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// What kubectl v1.36 sends for `kubectl get`.
const KUBECTL_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

async fn started() -> (Sandbox, kube::Client) {
    let sb = Sandbox::start(SandboxOptions { seed: Seed::Empty, ..Default::default() })
        .await
        .expect("sandbox starts");
    let store = sb.store();
    store.create(NAMESPACES, "", json!({"metadata": {"name": "t"}})).expect("namespace");
    for i in 0..3 {
        let pod = json!({
            "metadata": {"name": format!("p{i}"), "labels": {"app": "x"}},
            "spec": {
                "nodeName": "n1",
                "containers": [{"name": "c", "image": "i"}, {"name": "d", "image": "i"}],
                "readinessGates": [{"conditionType": "example.com/gate"}],
            },
        });
        store.create(PODS, "t", pod).expect("pod");
    }
    store
        .modify(PODS, "t", "p1", chaosdeck_sandbox::store::Part::All, |cur| {
            let mut p = cur.clone();
            p["status"] = json!({
                "phase": "Running",
                "podIP": "10.1.2.3",
                "nominatedNodeName": "n2",
                "conditions": [{"type": "example.com/gate", "status": "True"}],
                "containerStatuses": [
                    {"name": "c", "ready": true, "restartCount": 2},
                    {"name": "d", "ready": false, "restartCount": 1},
                ],
            });
            Ok(p)
        })
        .expect("status");
    let lease = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}});
    store.create(LEASES, "t", lease).expect("lease");
    let client = kube::Client::new(sb.router(), "default");
    (sb, client)
}

async fn get(client: &kube::Client, path: &str, accept: &str) -> (u16, Value) {
    let req = http::Request::get(path)
        .header("Accept", accept)
        .body(kube::client::Body::empty())
        .expect("request");
    let resp = client.send(req).await.expect("response");
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (code, serde_json::from_slice(&bytes).expect("JSON body"))
}

fn column_names(table: &Value) -> Vec<(String, String, i64)> {
    table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["type"].as_str().unwrap_or_default().to_string(),
                c["priority"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

#[tokio::test]
async fn pod_table_has_the_api_servers_columns_and_metadata_rows() {
    let (sb, client) = started().await;
    let (code, t) = get(&client, "/api/v1/namespaces/t/pods", KUBECTL_ACCEPT).await;
    assert_eq!(code, 200, "{t}");
    assert_eq!(
        (t["kind"].as_str(), t["apiVersion"].as_str()),
        (Some("Table"), Some("meta.k8s.io/v1"))
    );
    let cols: Vec<(String, String, i64)> = column_names(&t);
    let expected = [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ];
    let expected: Vec<(String, String, i64)> =
        expected.iter().map(|(n, p)| (n.to_string(), "string".to_string(), *p)).collect();
    assert_eq!(cols, expected);
    assert_eq!(t["columnDefinitions"][0]["format"], "name");
    let rows = t["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    let cells = &rows[1]["cells"];
    assert_eq!(cells[0], "p1");
    assert_eq!(cells[1], "1/2");
    assert_eq!(cells[2], "Running");
    assert_eq!(cells[3], "3");
    assert_eq!(
        &cells.as_array().expect("cells")[5..],
        [json!("10.1.2.3"), json!("n1"), json!("n2"), json!("1/1")]
    );
    assert_eq!(rows[0]["cells"][8], "0/1");
    let object = &rows[1]["object"];
    assert_eq!(object["kind"], "PartialObjectMetadata");
    assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(object["metadata"]["name"], "p1");
    assert_eq!(object["metadata"]["labels"], json!({"app": "x"}));
    assert!(object.get("spec").is_none() && object.get("status").is_none());
    sb.shutdown().await;
}

#[tokio::test]
async fn include_object_chooses_what_rows_carry() {
    let (sb, client) = started().await;
    let path = "/api/v1/namespaces/t/pods/p1";
    let (_, t) = get(&client, &format!("{path}?includeObject=Object"), KUBECTL_ACCEPT).await;
    assert_eq!(t["rows"][0]["object"]["kind"], "Pod");
    assert_eq!(t["rows"][0]["object"]["status"]["podIP"], "10.1.2.3");
    let (_, t) = get(&client, &format!("{path}?includeObject=None"), KUBECTL_ACCEPT).await;
    assert_eq!(t["rows"][0]["object"], Value::Null);
    let (code, s) = get(&client, &format!("{path}?includeObject=All"), KUBECTL_ACCEPT).await;
    assert_eq!((code, s["kind"].as_str()), (400, Some("Status")), "{s}");
    sb.shutdown().await;
}

#[tokio::test]
async fn paged_table_carries_continue_and_remaining_count() {
    let (sb, client) = started().await;
    let (_, t) = get(&client, "/api/v1/namespaces/t/pods?limit=2", KUBECTL_ACCEPT).await;
    assert_eq!(t["rows"].as_array().map(Vec::len), Some(2));
    assert_eq!(t["metadata"]["remainingItemCount"], 1);
    let token = t["metadata"]["continue"].as_str().expect("continue token").to_string();
    let (_, t) = get(
        &client,
        &format!("/api/v1/namespaces/t/pods?limit=2&continue={token}"),
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(t["rows"][0]["cells"][0], "p2");
    assert!(t["metadata"].get("continue").is_none());
    sb.shutdown().await;
}

#[tokio::test]
async fn lease_table_names_its_holder() {
    let (sb, client) = started().await;
    let (_, t) =
        get(&client, "/apis/coordination.k8s.io/v1/namespaces/t/leases", KUBECTL_ACCEPT).await;
    let names: Vec<String> = column_names(&t).into_iter().map(|c| c.0).collect();
    assert_eq!(names, ["Name", "Holder", "Age"]);
    assert_eq!(t["rows"][0]["cells"][1], "me");
    sb.shutdown().await;
}

/// Pods are kept as JSON bytes: a plain JSON list, a get and a selector list answer the same
/// objects, and updates and deletes work on them as on any other.
#[tokio::test]
async fn compactly_stored_pods_read_back_the_same() {
    let (sb, client) = started().await;
    let (_, list) = get(&client, "/api/v1/namespaces/t/pods", "application/json").await;
    let items = list["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 3);
    for item in &items {
        let name = item["metadata"]["name"].as_str().expect("name");
        let (_, one) =
            get(&client, &format!("/api/v1/namespaces/t/pods/{name}"), "application/json").await;
        assert_eq!(&one, item);
    }
    let (_, selected) = get(
        &client,
        "/api/v1/namespaces/t/pods?fieldSelector=metadata.name%3Dp1",
        "application/json",
    )
    .await;
    assert_eq!(selected["items"], json!([items[1].clone()]));
    let store = sb.store();
    store
        .delete(
            PODS,
            "t",
            "p0",
            &chaosdeck_sandbox::store::DeleteOpts { grace_seconds: Some(0), ..Default::default() },
        )
        .expect("delete");
    assert_eq!(store.list(PODS, Some("t")).0.len(), 2);
    sb.shutdown().await;
}
