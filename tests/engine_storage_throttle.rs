//! `storage_throttle_scenarios` through the real binary on both targets: the helper limits the
//! I/O of the container on the claim (cgroup `io.max`, previous limit kept) for `duration`;
//! success, an injected failure, SIGKILL then `execute-rollback`, and SIGKILL with nobody undoing (the helper's own
//! deadline) all end with the limit lifted and no helper pod left.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use support::cluster::Target;
use support::helpers::{HELPER_SELECTOR, HelperNodes, rules};
use support::volumes;
use support::world::{World, until};

const LIMIT: &str = "io.max 253:0 rbps=1048576 wbps=524288 riops=100 wiops=50";

async fn no_helpers(w: &World) -> bool {
    let pods: Api<Pod> = Api::namespaced(w.client(), "payments");
    let selector = ListParams::default().labels(HELPER_SELECTOR);
    until(Duration::from_secs(10), async || pods.list(&selector).await.unwrap().items.is_empty())
        .await
        .is_some()
}

crate::on_both_targets! {
    async fn a_throttle_is_lifted_however_the_run_ends(target) {
        lifecycles(target).await;
    }
}

async fn lifecycles(target: Target) {
    let w = World::new(target).await;
    let _nodes = HelperNodes::start(&w.cluster);
    volumes::claim(&w.cluster, "payments", "ledger-data", "2Gi").await;
    let on = ("ledger", "/data");
    volumes::pod_on_claim(&w.cluster, "payments", "ledger-0", on, "ledger-data", &[]).await;
    let cfg = w.config("storage_throttle_scenarios", &["storage_throttle.yaml"], true, 0);

    // 1. Success.
    let (code, log) = w.run_to_exit(&cfg, None, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("io.max riops=100 wiops=50 rbps=1048576 wbps=524288 on the device of /data in container ledger of pod payments/ledger-0 (claim ledger-data)"),
        "{log}"
    );
    assert_eq!(w.outstanding(), 0, "{log}");
    assert!(rules(&w.cluster).is_empty(), "{:?}", rules(&w.cluster));
    assert!(no_helpers(&w).await, "{log}");

    // 2. An injected failure right after the helper is created: the rollback stops it.
    let (code, log) = w.run_to_exit(&cfg, Some("fail-after-change:1"), Duration::from_secs(120));
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("rollback done"), "{log}");
    assert_eq!(w.outstanding(), 0, "{log}");
    assert!(rules(&w.cluster).is_empty(), "{:?}", rules(&w.cluster));
    assert!(no_helpers(&w).await, "{log}");

    // 3. SIGKILL during the throttle, then execute-rollback.
    w.run_and_kill_after_change(&cfg, 1);
    let held = until(Duration::from_secs(10), async || rules(&w.cluster) == [LIMIT]).await;
    assert!(held.is_some(), "{:?}", rules(&w.cluster));
    let (code, out) = w.execute_rollback();
    assert_eq!(code, 0, "{out}");
    assert_eq!(w.outstanding(), 0, "{out}");
    assert!(rules(&w.cluster).is_empty(), "{:?}", rules(&w.cluster));
    assert!(no_helpers(&w).await, "{out}");

    // 4. SIGKILL with nobody undoing: lifted by the helper at duration 3 s + grace 10 s.
    w.run_and_kill_after_change(&cfg, 1);
    let killed = Instant::now();
    assert!(until(Duration::from_secs(10), async || rules(&w.cluster) == [LIMIT]).await.is_some());
    let lifted = until(Duration::from_secs(30), async || rules(&w.cluster).is_empty()).await;
    assert!(lifted.is_some(), "still throttled {:?} after the SIGKILL", killed.elapsed());
    assert!(killed.elapsed() <= Duration::from_secs(3 + 10 + 3), "{:?}", killed.elapsed());
    eprintln!(
        "throttle ({target:?}): lifted {:.2} s after the SIGKILL",
        killed.elapsed().as_secs_f64()
    );
    let (code, out) = w.execute_rollback();
    assert_eq!(code, 0, "{out}");
    assert!(no_helpers(&w).await, "{out}");
    w.shutdown().await;
}

crate::on_both_targets! {
    async fn krkn_throttle_files_are_lifted_natively(target) {
        krkn_throttle(target).await;
    }
}

/// Krkn's `rollback_throttle` file, which Krkn's own copy cannot run: `execute-rollback` starts
/// chaosdeck's lift helper on the node of Krkn's privileged pod, waits for it to say the limit
/// is gone, deletes both pods and renames the file `.executed`. Without Krkn's pod (the only
/// record of the node) the file stays pending with the by-hand steps.
async fn krkn_throttle(target: Target) {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::PostParams;
    let w = World::new(target).await;
    let _nodes = HelperNodes::start(&w.cluster);
    let pods: Api<Pod> = Api::namespaced(w.client(), "payments");
    let krkn_pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "io-throttle-pod-abcde", "namespace": "payments"},
        "spec": {"containers": [{"name": "tools", "image": "quay.io/krkn-chaos/krkn:tools", "command": ["sleep", "infinity"]}]},
    });
    pods.create(&PostParams::default(), &serde_json::from_value(krkn_pod).unwrap()).await.unwrap();
    let running = until(Duration::from_secs(30), async || {
        let p = pods.get("io-throttle-pod-abcde").await.unwrap();
        p.status.and_then(|s| s.phase).as_deref() == Some("Running")
    })
    .await;
    assert!(running.is_some(), "Krkn's pod never ran");
    let cgroup = "/kubepods.slice/kubepods-burstable.slice/cri-containerd-4be1c9d07f3a.scope";
    // On the test bed, the limit Krkn wrote, in the stand-in cgroup tree the helper writes to.
    let iomax = w
        .cluster
        .exec_root()
        .map(|r| r.join("helpers/cgroup").join(cgroup.trim_start_matches('/')).join("io.max"));
    if let Some(file) = &iomax {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "8:16 rbps=1048576 wbps=max riops=max wiops=max\n").unwrap();
    }
    let root = w.dir.path().join("krkn-rollback");
    let payload = chaosdeck::journal::krkn::payload::encode_base64(
        serde_json::json!({"priv_pod_name": "io-throttle-pod-abcde", "maj_min": "8:16",
            "cgroup_path": cgroup, "cgroup_version": "v2"})
        .to_string()
        .as_bytes(),
    );
    let file = "storage_throttle_scenarios_1795315097812653975_mbmixfdj.py";
    let ctx = "1795315105699069697-7b5842f8-c142-4e90-8235-02cb0e1ec634";
    let text =
        support::krkn_file("rollback_throttle", &support::krkn_content("payments", &payload));
    let path = support::write_krkn(&root, ctx, file, &text);
    let execute = || {
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["execute-rollback", "--cluster-mismatch-ok", w.cluster.context(), "--dir"])
            .arg(&root)
            .arg("--kubeconfig")
            .arg(w.kubeconfig())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    // A pod that holds the lift helper's name but is someone else's: not read, not deleted,
    // the file stays pending.
    let stranger = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "chaosdeck-lift-io-throttle-pod-abcde", "namespace": "payments"},
        "spec": {"containers": [{"name": "app", "image": "busybox"}]},
    });
    pods.create(&PostParams::default(), &serde_json::from_value(stranger).unwrap()).await.unwrap();
    let (code, out) = execute();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("is not chaosdeck's lift helper"), "{out}");
    assert!(path.exists(), "{out}");
    let stranger = pods.get("chaosdeck-lift-io-throttle-pod-abcde").await.unwrap();
    assert!(stranger.metadata.deletion_timestamp.is_none(), "the stranger was deleted");
    pods.delete("chaosdeck-lift-io-throttle-pod-abcde", &Default::default()).await.unwrap();
    let stranger_gone = until(Duration::from_secs(30), async || {
        pods.get_opt("chaosdeck-lift-io-throttle-pod-abcde").await.unwrap().is_none()
    })
    .await;
    assert!(stranger_gone.is_some());

    let (code, out) = execute();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("lifted the I/O limits of 8:16 in cgroup"), "{out}");
    assert!(!path.exists() && path.with_extension("py.executed").exists(), "{out}");
    if let Some(file) = &iomax {
        assert_eq!(std::fs::read_to_string(file).unwrap(), "", "the limit is still there");
    }
    let gone = until(Duration::from_secs(10), async || {
        pods.list(&ListParams::default()).await.unwrap().items.iter().all(|p| {
            let name = p.metadata.name.as_deref().unwrap_or_default();
            name != "io-throttle-pod-abcde" && !name.starts_with("chaosdeck-lift-")
        })
    })
    .await;
    assert!(gone.is_some(), "Krkn's pod or the lift helper is left");

    // Krkn's pod gone: nothing says which node; the file stays pending, saying what to do.
    let path = support::write_krkn(&root, ctx, file, &text);
    let (code, out) = execute();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("is gone, and with it the only record of its node"), "{out}");
    assert!(path.exists(), "{out}");
    w.shutdown().await;
}
