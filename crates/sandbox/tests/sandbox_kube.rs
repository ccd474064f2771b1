//! kube-rs against the sandbox: CRUD, Status errors, conflicts, patches.

use std::time::Duration;

use chaosdeck_sandbox::{Sandbox, SandboxOptions, Seed};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

async fn start(seed: Seed) -> (Sandbox, kube::Client) {
    start_with_delay(seed, Duration::from_millis(50)).await
}

async fn start_with_delay(seed: Seed, pod_ready_delay: Duration) -> (Sandbox, kube::Client) {
    let sb = Sandbox::start(SandboxOptions { seed, pod_ready_delay, ..Default::default() })
        .await
        .expect("sandbox starts");
    let client = sb.client().expect("client");
    (sb, client)
}

fn pod(name: &str, labels: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .expect("pod json")
}

fn api_code(err: kube::Error) -> (u16, String, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn crud_and_status_errors() {
    let (sb, client) = start(Seed::Empty).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    let created =
        pods.create(&PostParams::default(), &pod("web-1", json!({"app": "web"}))).await.unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    assert!(!uid.is_empty());
    assert!(created.metadata.resource_version.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    assert_eq!(created.status.clone().and_then(|s| s.phase).as_deref(), Some("Pending"));

    let (code, reason, msg) =
        api_code(pods.create(&PostParams::default(), &pod("web-1", json!({}))).await.unwrap_err());
    assert_eq!(
        (code, reason.as_str(), msg.as_str()),
        (409, "AlreadyExists", "pods \"web-1\" already exists")
    );

    let (code, reason, msg) = api_code(pods.get("nope").await.unwrap_err());
    assert_eq!((code, reason.as_str(), msg.as_str()), (404, "NotFound", "pods \"nope\" not found"));

    let (code, reason, _) = api_code(
        pods.create(&PostParams::default(), &pod("Bad_Name", json!({}))).await.unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));

    let elsewhere: Api<Pod> = Api::namespaced(client.clone(), "missing");
    let (code, _, msg) =
        api_code(elsewhere.create(&PostParams::default(), &pod("x", json!({}))).await.unwrap_err());
    assert_eq!((code, msg.as_str()), (404, "namespaces \"missing\" not found"));

    // Stale resourceVersion on update → 409 Conflict.
    let mut stale = created.clone();
    pods.patch(
        "web-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"v": "2"}}})),
    )
    .await
    .unwrap();
    stale.metadata.labels.get_or_insert_default().insert("v".into(), "3".into());
    let (code, reason, msg) =
        api_code(pods.replace("web-1", &PostParams::default(), &stale).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(msg.contains("the object has been modified"), "{msg}");

    // JSON patch and strategic merge.
    let p = pods
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(
                    json!([{"op": "add", "path": "/metadata/labels/j", "value": "x"}]),
                )
                .unwrap(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(p.metadata.labels.as_ref().unwrap()["j"], "x");
    let p = pods
        .patch(
            "web-1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"j": null}}})),
        )
        .await
        .unwrap();
    assert!(!p.metadata.labels.as_ref().unwrap().contains_key("j"));

    let listed = pods.list(&ListParams::default().labels("app=web")).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let listed = pods.list(&ListParams::default().labels("app!=web")).await.unwrap();
    assert!(listed.items.is_empty());

    // Delete precondition on uid.
    let dp = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some("wrong".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    let (code, _, _) = api_code(pods.delete("web-1", &dp).await.unwrap_err());
    assert_eq!(code, 409);
    pods.delete("web-1", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_code(pods.get("web-1").await.unwrap_err()).0, 404);

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "cfg-"}, "data": {"a": "1"}}))
            .unwrap();
    let cm = cms.create(&PostParams::default(), &cm).await.unwrap();
    assert!(cm.metadata.name.unwrap().starts_with("cfg-"));

    let nss: Api<Namespace> = Api::all(client.clone());
    assert!(nss.get("kube-system").await.is_ok());
    sb.shutdown().await;
}

#[tokio::test]
async fn demo_seed_has_nodes_and_deployments() {
    let (sb, client) = start(Seed::Demo).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes.list(&ListParams::default()).await.unwrap();
    assert!((3..=5).contains(&list.items.len()), "{} nodes", list.items.len());
    let deploys: Api<Deployment> = Api::all(client.clone());
    assert!(!deploys.list(&ListParams::default()).await.unwrap().items.is_empty());
    sb.shutdown().await;
}

/// Polls `check` until it returns Some, or panics with `what` after 10 s.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn running(pods: &Api<Pod>, selector: &str) -> Vec<Pod> {
    pods.list(&ListParams::default().labels(selector))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .collect()
}

#[tokio::test]
async fn watcher_and_reflector_follow_changes() {
    use kube::runtime::{WatchStreamExt, reflector, watcher};
    let (sb, client) = start(Seed::Empty).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("before", json!({"app": "r"}))).await.unwrap();

    let (reader, writer) = reflector::store::<Pod>();
    let stream =
        reflector(writer, watcher(pods.clone(), watcher::Config::default().labels("app=r")))
            .applied_objects()
            .boxed();
    let task = tokio::spawn(async move {
        let mut stream = stream;
        while stream.next().await.is_some() {}
    });
    reader.wait_until_ready().await.unwrap();
    assert_eq!(reader.state().len(), 1);

    pods.create(&PostParams::default(), &pod("after", json!({"app": "r"}))).await.unwrap();
    pods.create(&PostParams::default(), &pod("other", json!({"app": "x"}))).await.unwrap();
    eventually("reflector sees the new pod", || async {
        (reader.state().len() == 2).then_some(())
    })
    .await;
    // Leaving the selection is a deletion for this watcher.
    pods.patch(
        "before",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "gone"}}})),
    )
    .await
    .unwrap();
    eventually("relabelled pod leaves the reflector", || async {
        let names: Vec<String> =
            reader.state().iter().filter_map(|p| p.metadata.name.clone()).collect();
        (names == ["after"]).then_some(())
    })
    .await;
    pods.delete("after", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() })
        .await
        .unwrap();
    eventually("deleted pod leaves the reflector", || async {
        reader.state().is_empty().then_some(())
    })
    .await;
    task.abort();
    sb.shutdown().await;
}

#[tokio::test]
async fn raw_watch_replays_from_a_resource_version_and_expires_old_ones() {
    use kube::api::{WatchEvent, WatchParams};
    // The scale seed bulk-loads without history, so anything older than it is gone.
    let (sb, client) = start(Seed::Scale { nodes: 1, pods: 3 }).await;
    let pods: Api<Pod> = Api::all(client.clone());
    let mut old = pods.watch(&WatchParams::default(), "1").await.unwrap().boxed();
    match old.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => assert_eq!(e.code, 410, "{e:?}"),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }

    let ns: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rv = sb.store().current_rv().to_string();
    ns.create(&PostParams::default(), &pod("w1", json!({}))).await.unwrap();
    ns.delete("w1", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() })
        .await
        .unwrap();
    // Opened after the fact, the watch still replays both changes from `rv`.
    let mut stream = ns.watch(&WatchParams::default(), &rv).await.unwrap().boxed();
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await {
            Ok(Ok(Some(WatchEvent::Added(p)))) if p.metadata.name.as_deref() == Some("w1") => {
                kinds.push("ADDED")
            }
            Ok(Ok(Some(WatchEvent::Deleted(p)))) if p.metadata.name.as_deref() == Some("w1") => {
                kinds.push("DELETED")
            }
            Ok(Ok(Some(_))) => {}
            other => panic!("watch ended early: {other:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED", "DELETED"]);
    sb.shutdown().await;
}

#[tokio::test]
async fn deployment_scale_replace_and_cascade() {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    let (sb, client) = start(Seed::Demo).await;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rses: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }))
    .unwrap();
    deploys.create(&PostParams::default(), &d).await.unwrap();
    let first = eventually("3 running pods", || async {
        let r = running(&pods, "app=web").await;
        (r.len() == 3).then_some(r)
    })
    .await;
    for p in &first {
        let owner = &p.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.kind, "ReplicaSet");
        assert!(p.metadata.labels.as_ref().unwrap().contains_key("pod-template-hash"));
        assert!(p.spec.as_ref().unwrap().node_name.is_some());
    }
    eventually("deployment status", || async {
        let d = deploys.get("web").await.ok()?;
        (d.status?.available_replicas == Some(3)).then_some(())
    })
    .await;

    // Scale subresource.
    let scale = deploys.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(3));
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=web"));
    deploys
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    eventually("scaled down to 1", || async {
        (running(&pods, "app=web").await.len() == 1).then_some(())
    })
    .await;

    // A replaced pod gets a new name.
    let victim = running(&pods, "app=web").await[0].metadata.name.clone().unwrap();
    pods.delete(&victim, &DeleteParams::default()).await.unwrap();
    eventually("replacement", || async {
        let r = running(&pods, "app=web").await;
        (r.len() == 1 && r[0].metadata.name.as_deref() != Some(victim.as_str())).then_some(())
    })
    .await;

    // Orphan propagation leaves the replicaset (without owner) and its pods alone.
    deploys
        .delete(
            "web",
            &DeleteParams {
                propagation_policy: Some(kube::api::PropagationPolicy::Orphan),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let rs = rses.list(&ListParams::default().labels("app=web")).await.unwrap().items;
    assert_eq!(rs.len(), 1);
    assert!(rs[0].metadata.owner_references.as_ref().is_none_or(|o| o.is_empty()));
    // Background (the default) takes the pods with the replicaset.
    rses.delete(rs[0].metadata.name.as_deref().unwrap(), &DeleteParams::default()).await.unwrap();
    assert!(pods.list(&ListParams::default().labels("app=web")).await.unwrap().items.is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn jobs_complete_and_unschedulable_pods_stay_pending() {
    use k8s_openapi::api::batch::v1::Job;
    let (sb, client) = start(Seed::Demo).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "once"},
        "spec": {"completions": 2, "parallelism": 1, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "sleep 0.1"]}]}}},
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let done = eventually("job completes", || async {
        let j = jobs.get("once").await.ok()?;
        let s = j.status?;
        (s.succeeded == Some(2)).then_some(s)
    })
    .await;
    let conds = done.conditions.unwrap_or_default();
    assert!(conds.iter().any(|c| c.type_ == "Complete" && c.status == "True"), "{conds:?}");
    assert!(done.completion_time.is_some());

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut stuck = pod("stuck", json!({}));
    stuck.spec.as_mut().unwrap().node_selector =
        Some([("disktype".to_string(), "ssd".to_string())].into());
    pods.create(&PostParams::default(), &stuck).await.unwrap();
    let msg = eventually("unschedulable condition", || async {
        let p = pods.get("stuck").await.ok()?;
        let c = p.status?.conditions?.into_iter().find(|c| c.type_ == "PodScheduled")?;
        (c.status == "False").then_some(c.message.unwrap_or_default())
    })
    .await;
    assert!(msg.starts_with("0/4 nodes are available"), "{msg}");
    assert!(msg.contains("untolerated taint"), "{msg}");
    assert_eq!(pods.get("stuck").await.unwrap().status.unwrap().phase.as_deref(), Some("Pending"));

    // Tolerating the control-plane taint and selecting it lands the pod there.
    let mut cp = pod("on-cp", json!({}));
    let spec = cp.spec.as_mut().unwrap();
    spec.node_selector =
        Some([("node-role.kubernetes.io/control-plane".to_string(), String::new())].into());
    spec.tolerations = Some(vec![serde_json::from_value(json!({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"})).unwrap()]);
    pods.create(&PostParams::default(), &cp).await.unwrap();
    eventually("pod on the control plane", || async {
        let p = pods.get("on-cp").await.ok()?;
        (p.spec?.node_name.as_deref() == Some("sandbox-control-plane")).then_some(())
    })
    .await;
    sb.shutdown().await;
}

#[tokio::test]
async fn eviction_respects_pdb_and_deletecollection_and_namespace_teardown() {
    use kube::api::EvictParams;
    // Slow enough that the evicted pod's replacement cannot be Ready before the second try.
    let (sb, client) = start_with_delay(Seed::Demo, Duration::from_millis(1500)).await;
    // kube-rs retries 429s by default (after Retry-After); see the refusal itself here.
    let mut config = kube::Config::new(sb.url().parse().unwrap());
    config.default_retry = false;
    let no_retry = kube::Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::namespaced(no_retry, "payments");
    let ready = eventually("payments api ready", || async {
        let r: Vec<Pod> = running(&pods, "app=api")
            .await
            .into_iter()
            .filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .collect();
        (r.len() == 3).then_some(r)
    })
    .await;
    let names: Vec<String> = ready.iter().filter_map(|p| p.metadata.name.clone()).collect();
    pods.evict(&names[0], &EvictParams::default()).await.unwrap();
    let (code, reason, msg) =
        api_code(pods.evict(&names[1], &EvictParams::default()).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (429, "TooManyRequests"));
    assert!(msg.contains("disruption budget"), "{msg}");

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    for i in 0..3 {
        let cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": format!("tmp-{i}"), "labels": {"tmp": "yes"}}}),
        )
        .unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    cms.delete_collection(&DeleteParams::default(), &ListParams::default().labels("tmp=yes"))
        .await
        .unwrap();
    assert!(cms.list(&ListParams::default().labels("tmp=yes")).await.unwrap().items.is_empty());
    assert_eq!(
        cms.list(&ListParams::default()).await.unwrap().items.len(),
        1,
        "frontend-config survives"
    );

    let nss: Api<Namespace> = Api::all(client.clone());
    nss.delete("shop", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_code(nss.get("shop").await.unwrap_err()).0, 404);
    assert!(cms.list(&ListParams::default()).await.unwrap().items.is_empty());
    let (code, _, _) = api_code(
        cms.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "late"}})).unwrap(),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(code, 404);
    sb.shutdown().await;
}

#[tokio::test]
async fn in_process_router_pagination_events_and_dry_run() {
    use k8s_openapi::api::core::v1::Event;
    let sb =
        Sandbox::start(SandboxOptions { seed: Seed::Demo, ..Default::default() }).await.unwrap();
    // No socket: kube talks to the router directly.
    let client = kube::Client::new(sb.router(), "default");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..7 {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("page-{i}")}})).unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let first = cms.list(&ListParams::default().limit(3)).await.unwrap();
    assert_eq!(first.items.len(), 3);
    let token = first.metadata.continue_.clone().expect("continue token");
    assert_eq!(first.metadata.remaining_item_count, Some(4));
    let second = cms.list(&ListParams::default().limit(3).continue_token(&token)).await.unwrap();
    let third = cms
        .list(
            &ListParams::default()
                .limit(3)
                .continue_token(second.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    assert!(third.metadata.continue_.is_none());
    let mut all: Vec<String> = [first, second, third]
        .into_iter()
        .flat_map(|l| l.items)
        .filter_map(|c| c.metadata.name)
        .collect();
    all.dedup();
    assert_eq!(all.len(), 7);

    // Server-side dry run stores nothing.
    let dry: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "dry"}})).unwrap();
    let made = cms.create(&PostParams { dry_run: true, ..Default::default() }, &dry).await.unwrap();
    assert!(made.metadata.uid.is_some());
    assert_eq!(api_code(cms.get("dry").await.unwrap_err()).0, 404);

    // Controllers leave events behind, and clients can add their own.
    let events: Api<Event> = Api::namespaced(client.clone(), "shop");
    let scheduled = eventually("Scheduled events", || async {
        let list = events.list(&ListParams::default().fields("reason=Scheduled")).await.ok()?;
        (!list.items.is_empty()).then_some(list.items)
    })
    .await;
    assert!(
        scheduled[0].message.as_deref().unwrap_or("").starts_with("Successfully assigned shop/")
    );
    let ev: Event = serde_json::from_value(json!({
        "metadata": {"name": "chaos.1"},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "x"},
        "reason": "ChaosInjected", "message": "pod kill", "type": "Warning",
    }))
    .unwrap();
    events.create(&PostParams::default(), &ev).await.unwrap();
    let mine = events.list(&ListParams::default().fields("involvedObject.name=x")).await.unwrap();
    assert_eq!(mine.items.len(), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn node_failure_and_no_execute_taints_affect_pods() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    let (sb, client) = start(Seed::Demo).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "payments");
    let nodes: Api<Node> = Api::all(client.clone());
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "payments");
    let api_pods = eventually("api pods running", || async {
        let r = running(&pods, "app=api").await;
        (r.len() == 3).then_some(r)
    })
    .await;
    let node = api_pods[0].spec.as_ref().unwrap().node_name.clone().unwrap();
    let pod_name = api_pods[0].metadata.name.clone().unwrap();
    let is_ready = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };

    // The node stops reporting Ready: its pods turn NotReady and the budget shrinks.
    let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletStopped"}]}});
    nodes.patch_status(&node, &PatchParams::default(), &Patch::Merge(not_ready)).await.unwrap();
    eventually("pod NotReady", || async {
        (!is_ready(&pods.get(&pod_name).await.ok()?)).then_some(())
    })
    .await;
    eventually("PDB without disruptions", || async {
        (pdbs.get("api-pdb").await.ok()?.status?.disruptions_allowed == Some(0)).then_some(())
    })
    .await;
    let ready = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
    nodes.patch_status(&node, &PatchParams::default(), &Patch::Merge(ready)).await.unwrap();
    eventually("pod Ready again", || async {
        is_ready(&pods.get(&pod_name).await.ok()?).then_some(())
    })
    .await;

    // A NoExecute taint evicts what does not tolerate it; replacements land elsewhere.
    let taint =
        json!({"spec": {"taints": [{"key": "chaos", "value": "on", "effect": "NoExecute"}]}});
    nodes.patch(&node, &PatchParams::default(), &Patch::Merge(taint)).await.unwrap();
    eventually("api pods off the tainted node", || async {
        let r = running(&pods, "app=api").await;
        let elsewhere = r
            .iter()
            .all(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) != Some(node.as_str()));
        (r.len() == 3 && elsewhere).then_some(())
    })
    .await;
    assert_eq!(api_code(pods.get(&pod_name).await.unwrap_err()).0, 404);
    sb.shutdown().await;
}

#[tokio::test]
async fn big_lists_stream_whole_and_parse() {
    let (sb, client) = start(Seed::Scale { nodes: 3, pods: 4_500 }).await;
    let pods: Api<Pod> = Api::all(client.clone());
    let all = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 4_500);
    assert!(
        all.items
            .iter()
            .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    );
    let web = pods.list(&ListParams::default().labels("tier=web")).await.unwrap();
    assert_eq!(web.items.len(), 1_500);
    let nodes: Api<Node> = Api::all(client.clone());
    assert_eq!(nodes.list(&ListParams::default()).await.unwrap().items.len(), 3);
    sb.shutdown().await;
}
