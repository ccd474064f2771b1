//! Watches: from a resourceVersion, from "0", with selectors, and too old (410 Gone).

use std::time::Duration;

use futures::FutureExt;
use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::ctx::{Ctx, Resp, str_at};
use crate::{Interaction, case, compacting_case};

/// The first `n` events (bookmarks skipped) of a watch on `path`, or fewer if none comes for
/// 5 s; each as type, name and data (a Status for ERROR).
async fn events(c: &Ctx, path: &str, n: usize) -> Value {
    let req = http::Request::builder()
        .uri(path)
        .header("Accept", "application/json")
        .body(kube::client::Body::from(Vec::new()))
        .unwrap();
    let resp = c.client.send(req).await.unwrap();
    let code = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let mut seen = Vec::new();
    while seen.len() < n {
        let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_secs(5), body.frame()).await
        else {
            break;
        };
        let Ok(data) = frame.into_data() else { continue };
        buf.extend_from_slice(&data);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let Ok(event) = serde_json::from_slice::<Value>(&line) else { continue };
            if code >= 300 {
                return Resp { code, body: event }.status_obs();
            }
            let kind = str_at(&event, "/type").to_string();
            match kind.as_str() {
                "BOOKMARK" => {}
                "ERROR" => seen.push(json!({"type": kind, "status": Resp { code: 0, body: event["object"].clone() }.status_obs()})),
                _ => seen.push(json!({"type": kind, "name": event.pointer("/object/metadata/name"), "data": event.pointer("/object/data")})),
            }
        }
    }
    if code >= 300 && seen.is_empty() {
        return Resp { code, body: serde_json::from_slice(&buf).unwrap_or(Value::Null) }
            .status_obs();
    }
    json!({"code": code, "events": seen})
}

fn rv(obj: &Value) -> String {
    str_at(obj, "/metadata/resourceVersion").to_string()
}

pub fn cases() -> Vec<Interaction> {
    vec![
        case("watch_from_resource_version", |c| {
            async move {
                let made = c.configmap("a", json!({"w": "1"}), json!({"n": "0"})).await;
                let from = rv(&made);
                for i in 1..=2 {
                    let p = c
                        .patch(
                            &c.core("configmaps/a"),
                            crate::ctx::MERGE,
                            json!({"data": {"n": i.to_string()}}),
                        )
                        .await;
                    assert_eq!(p.code, 200);
                }
                assert_eq!(c.delete(&c.core("configmaps/a"), None).await.code, 200);
                events(
                    &c,
                    &format!(
                        "{}?watch=1&labelSelector=w&resourceVersion={from}",
                        c.core("configmaps")
                    ),
                    3,
                )
                .await
            }
            .boxed()
        }),
        case("watch_from_zero_lists_current_objects", |c| {
            async move {
                c.configmap("a", json!({"w": "1"}), json!({})).await;
                c.configmap("b", json!({"w": "1"}), json!({})).await;
                let mut seen = events(
                    &c,
                    &format!("{}?watch=1&labelSelector=w&resourceVersion=0", c.core("configmaps")),
                    2,
                )
                .await;
                if let Some(list) = seen["events"].as_array_mut() {
                    list.sort_by_key(|e| e["name"].to_string());
                }
                seen
            }
            .boxed()
        }),
        case("watch_sees_new_objects", |c| {
            async move {
                let list = c.get(&c.core("configmaps")).await.body;
                let from = rv(&list);
                c.configmap("a", json!({"w": "1"}), json!({"k": "v"})).await;
                events(
                    &c,
                    &format!(
                        "{}?watch=1&labelSelector=w&resourceVersion={from}",
                        c.core("configmaps")
                    ),
                    1,
                )
                .await
            }
            .boxed()
        }),
        case("watch_by_field_selector", |c| {
            async move {
                let list = c.get(&c.core("configmaps")).await.body;
                let from = rv(&list);
                c.configmap("a", json!({}), json!({})).await;
                c.configmap("b", json!({}), json!({})).await;
                events(
                    &c,
                    &format!(
                        "{}?watch=1&fieldSelector=metadata.name%3Db&resourceVersion={from}",
                        c.core("configmaps")
                    ),
                    1,
                )
                .await
            }
            .boxed()
        }),
        case("watch_object_leaving_selection_is_deleted", |c| {
            async move {
                let made = c.configmap("a", json!({"w": "1"}), json!({})).await;
                let from = rv(&made);
                let p = c
                    .patch(
                        &c.core("configmaps/a"),
                        crate::ctx::MERGE,
                        json!({"metadata": {"labels": {"w": null}}}),
                    )
                    .await;
                assert_eq!(p.code, 200);
                events(
                    &c,
                    &format!(
                        "{}?watch=1&labelSelector=w&resourceVersion={from}",
                        c.core("configmaps")
                    ),
                    1,
                )
                .await
            }
            .boxed()
        }),
        case("watch_from_an_early_resource_version_replays", |c| {
            async move {
                c.configmap("a", json!({"w": "1"}), json!({})).await;
                events(
                    &c,
                    &format!("{}?watch=1&labelSelector=w&resourceVersion=2", c.core("configmaps")),
                    1,
                )
                .await
            }
            .boxed()
        }),
        compacting_case("watch_after_compaction_is_410", |c| {
            async move {
                let made = c.configmap("a", json!({}), json!({})).await;
                let p = c
                    .patch(&c.core("configmaps/a"), crate::ctx::MERGE, json!({"data": {"k": "v"}}))
                    .await;
                assert_eq!(p.code, 200);
                c.compact().await;
                events(
                    &c,
                    &format!("{}?watch=1&resourceVersion={}", c.core("configmaps"), rv(&made)),
                    1,
                )
                .await
            }
            .boxed()
        }),
        compacting_case("watch_after_compaction_from_the_start_is_410", |c| {
            async move {
                c.configmap("a", json!({"w": "1"}), json!({})).await;
                c.compact().await;
                events(
                    &c,
                    &format!("{}?watch=1&labelSelector=w&resourceVersion=2", c.core("configmaps")),
                    1,
                )
                .await
            }
            .boxed()
        }),
        compacting_case("watch_after_compaction_with_kube_rs", |c| {
            async move {
                c.compact().await;
                use futures::StreamExt;
                use kube::api::{Api, WatchParams};
                let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
                    Api::namespaced(c.client.clone(), &c.ns);
                let stream = api.watch(&WatchParams::default(), "2").await;
                match stream {
                    Err(kube::Error::Api(s)) => {
                        json!({"requestFailed": s.code, "reason": s.reason})
                    }
                    Err(e) => json!({"other": e.to_string()}),
                    Ok(stream) => {
                        let mut stream = Box::pin(stream);
                        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
                            Ok(Some(Err(kube::Error::Api(s)))) => {
                                json!({"streamError": s.code, "reason": s.reason})
                            }
                            Ok(Some(Ok(kube::api::WatchEvent::Error(s)))) => {
                                json!({"errorEvent": s.code, "reason": s.reason})
                            }
                            Ok(Some(Ok(_))) => json!("an event"),
                            Ok(Some(Err(e))) => json!({"other": e.to_string()}),
                            Ok(None) => json!("ended"),
                            Err(_) => json!("nothing"),
                        }
                    }
                }
            }
            .boxed()
        }),
        case("watch_missing_namespace_resource", |c| {
            async move {
                events(&c, "/api/v1/namespaces/cf-nowhere/configmaps?watch=1&resourceVersion=0", 1)
                    .await
            }
            .boxed()
        }),
    ]
}
