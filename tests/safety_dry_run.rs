//! `run --dry-run` changes nothing: every scenario type runs against a sandbox that records each
//! request it serves; not one mutating request may arrive, and the cluster reads the same after.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};
use serde_json::json;

/// What chaos could change, read through kube-rs: identities and the specs scenarios touch.
async fn state(client: &kube::Client) -> Vec<String> {
    let lp = ListParams::default();
    let mut lines = Vec::new();
    for n in Api::<Node>::all(client.clone()).list(&lp).await.unwrap() {
        let spec = serde_json::to_string(&n.spec).unwrap();
        lines.push(format!("node {} {spec}", n.metadata.name.unwrap()));
    }
    for p in Api::<Pod>::all(client.clone()).list(&lp).await.unwrap() {
        let m = p.metadata;
        lines.push(format!("pod {}/{} {}", m.namespace.unwrap(), m.name.unwrap(), m.uid.unwrap()));
    }
    for s in Api::<Service>::all(client.clone()).list(&lp).await.unwrap() {
        let selector = serde_json::to_string(&s.spec.and_then(|s| s.selector)).unwrap();
        lines.push(format!("service {} {selector}", s.metadata.name.unwrap()));
    }
    for c in Api::<ConfigMap>::all(client.clone()).list(&lp).await.unwrap() {
        lines.push(format!("configmap {}", c.metadata.name.unwrap()));
    }
    for np in Api::<NetworkPolicy>::all(client.clone()).list(&lp).await.unwrap() {
        lines.push(format!("networkpolicy {}", np.metadata.name.unwrap()));
    }
    for d in Api::<Deployment>::all(client.clone()).list(&lp).await.unwrap() {
        let replicas = d.spec.replicas;
        lines.push(format!("deployment {} {replicas:?}", d.metadata.name.unwrap()));
    }
    lines.sort();
    lines
}

/// Waits until every pod is Running, so the "before" state is not a moving target.
async fn settled(client: &kube::Client) {
    for _ in 0..200 {
        let pods = Api::<Pod>::all(client.clone()).list(&ListParams::default()).await.unwrap();
        if pods
            .items
            .iter()
            .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sandbox's pods never all reached Running");
}

/// The demo cluster plus a bare pod, so pod disruption would snapshot and re-create it (the
/// riskiest undo); every pod Running.
async fn sandbox_with_bare_pod() -> (Sandbox, kube::Client) {
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Demo,
        pod_ready_delay: Duration::from_millis(50),
        record_requests: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let client = sandbox.client().unwrap();
    let solo = serde_json::from_value(json!({"metadata": {"name": "solo"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    Api::<Pod>::namespaced(client.clone(), "shop")
        .create(&Default::default(), &solo)
        .await
        .unwrap();
    // A claim and a pod on it, for the PVC fill.
    let claim = json!({"metadata": {"name": "ledger-data"}, "spec": {"accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "2Gi"}}}});
    Api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>::namespaced(
        client.clone(),
        "payments",
    )
    .create(&Default::default(), &serde_json::from_value(claim).unwrap())
    .await
    .unwrap();
    let ledger = json!({"metadata": {"name": "ledger-0"}, "spec": {
        "containers": [{"name": "ledger", "image": "busybox",
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "ledger-data"}}]}});
    Api::<Pod>::namespaced(client.clone(), "payments")
        .create(&Default::default(), &serde_json::from_value(ledger).unwrap())
        .await
        .unwrap();
    settled(&client).await;
    (sandbox, client)
}

fn config(dir: &Path, kubeconfig: &Path) -> std::path::PathBuf {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/engine");
    let scenarios = [
        ("application_outages_scenarios", "app_outage.yaml"),
        ("hog_scenarios", "cpu-hog.yml"),
        ("service_hijacking_scenarios", "service_hijacking.yaml"),
        ("syn_flood_scenarios", "syn_flood.yaml"),
        ("http_load_scenarios", "http_load.yml"),
        ("pod_disruption_scenarios", "pod.yml"),
        ("node_scenarios", "node.yml"),
        ("node_scenarios", "node_drain.yml"),
        ("pvc_scenarios", "pvc_fill.yaml"),
        ("container_scenarios", "container.yml"),
        ("service_disruption_scenarios", "service_disruption.yaml"),
        ("network_chaos_ng_scenarios", "pod_network_filter.yaml"),
        ("network_chaos_ng_scenarios", "node_interface_down.yaml"),
        ("storage_throttle_scenarios", "storage_throttle.yaml"),
    ];
    let mut text = format!(
        "kraken:\n    kubeconfig_path: {}\n    rollback_versions_directory: {}\n    chaos_scenarios:\n",
        kubeconfig.display(),
        dir.join("journal").display()
    );
    for (scenario_type, file) in scenarios {
        text.push_str(&format!(
            "        - {scenario_type}:\n            - {}\n",
            data.join(file).display()
        ));
    }
    text.push_str(
        "tunings:\n    wait_duration: 0\n    iterations: 1\nchaosdeck:\n    cluster: kubeconfig\n",
    );
    let path = dir.join("all-types.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_of_every_scenario_type_sends_no_mutating_request() {
    let (sandbox, client) = sandbox_with_bare_pod().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("sandbox.kubeconfig");
    sandbox.write_kubeconfig(&kubeconfig).unwrap();
    let before = state(&client).await;
    let served_before = sandbox.requests().len();

    let config = config(dir.path(), &kubeconfig);
    let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .args(["run", "--headless", "--dry-run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");

    // Each type got as far as deciding on its changes.
    for expected in [
        "dry run: would create NetworkPolicy shop/",
        "dry run: would create Pod default/cpu-hog-",
        "dry run: would patch Service shop/frontend",
        "dry run: would create Pod default/",
        "dry run: would delete Pod shop/solo",
        "dry run: would patch Node sandbox-worker-3",
        "dry run: would add",
        "dry run: would evict Pod ",
        "dry run: would allocate the fill in /data of container ledger of pod payments/ledger-0",
        "dry run: would send signal 9 to PID 1 of container frontend of pod shop/frontend-",
        "dry run: would delete Deployment payments/api (deleted Deployment payments/api); entry: re-create it from a snapshot",
        "dry run: would start a helper pod in shop to apply DROP tcp port 8080 ingress of pod shop/frontend-",
        r#""command":["chaosdeck","helper","filter","--tag","<entry id>","--pod-uid""#,
        r#""capabilities":{"add":["NET_ADMIN","SYS_ADMIN","SYS_PTRACE"],"drop":["ALL"]}"#,
        "dry run: would start a helper pod in default to apply link down eth0 of node sandbox-worker-2 for 3 s",
        "dry run: would start a helper pod in payments to apply io.max riops=100 wiops=50 rbps=1048576 wbps=524288 on the device of /data in container ledger of pod payments/ledger-0",
        r#""hostPath":{"path":"/sys/fs/cgroup","type":"Directory"}"#,
    ] {
        assert!(log.contains(expected), "missing {expected:?} in:\n{log}");
    }

    let sent = sandbox.requests();
    assert!(sent.len() > served_before, "the run reached the sandbox");
    let mutating: Vec<String> = sent[served_before..]
        .iter()
        .filter(|r| r.is_mutating() && !r.is_server_dry_run())
        .map(|r| r.to_string())
        .collect();
    assert!(mutating.is_empty(), "a dry run sent changes: {mutating:#?}");
    assert_eq!(state(&client).await, before, "the cluster changed");
    let journal = dir.path().join("journal");
    let entries = chaosdeck::journal::scan(&journal).map(|t| t.entries().count());
    assert!(matches!(entries, Ok(0)) || !journal.exists(), "entries written: {entries:?}");
    sandbox.shutdown().await;
}

/// The second wall: the client a dry run gets refuses a change even when code calls it
/// directly, before the request leaves the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_client_refuses_changes_before_they_are_sent() {
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Demo,
        record_requests: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let client = chaosdeck::cluster::read_only(sandbox.client().unwrap());
    let pods: Api<Pod> = Api::namespaced(client, "shop");
    assert!(!pods.list(&ListParams::default()).await.unwrap().items.is_empty());
    let err = pods.delete("anything", &Default::default()).await.unwrap_err();
    assert!(err.to_string().contains("dry run: refused to send DELETE"), "{err}");
    let solo = serde_json::from_value(json!({"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    let params = kube::api::PostParams { dry_run: true, ..Default::default() };
    pods.create(&params, &solo).await.unwrap();
    let sent = sandbox.requests();
    assert!(sent.iter().all(|r| !r.is_mutating() || r.is_server_dry_run()), "{sent:#?}");
    assert!(sent.iter().any(|r| r.is_server_dry_run()), "the server-side dry run went through");
    sandbox.shutdown().await;
}

/// A dry run against a cluster that is not the sandbox asks for the context name like a real
/// run: the same command line without `--dry-run` is one edit away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_on_a_real_cluster_needs_its_context_named() {
    let (sandbox, _) = sandbox_with_bare_pod().await;
    let served_before = sandbox.requests().len();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("prod.kubeconfig");
    // Same server, another context name: treated as a real cluster.
    std::fs::write(&kubeconfig, sandbox.kubeconfig_yaml().replace("chaosdeck-sandbox", "prod-eu"))
        .unwrap();
    let config = config(dir.path(), &kubeconfig);
    let run = |extra: &[&str]| {
        Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["run", "--headless", "--dry-run", "--config"])
            .arg(&config)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(log.contains("pass --yes-i-mean-it prod-eu"), "{log}");
    assert!(!log.contains("dry run: would"), "nothing may run unconfirmed:\n{log}");
    let out = run(&["--yes-i-mean-it", "prod-eu"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let sent = sandbox.requests();
    assert!(sent[served_before..].iter().all(|r| !r.is_mutating()), "{sent:#?}");
    sandbox.shutdown().await;
}
