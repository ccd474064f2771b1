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
use support::world::{Lines, World, until, wait_exit};

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
    let mut child = w.run(&cfg, None);
    let mut lines = Lines::of(&mut child);
    let code = wait_exit(&mut child, Duration::from_secs(120));
    let log = lines.rest();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("io.max riops=100 wiops=50 rbps=1048576 wbps=524288 on the device of /data in container ledger of pod payments/ledger-0 (claim ledger-data)"),
        "{log}"
    );
    assert_eq!(w.outstanding(), 0, "{log}");
    assert!(rules(&w.cluster).is_empty(), "{:?}", rules(&w.cluster));
    assert!(no_helpers(&w).await, "{log}");

    // 2. An injected failure right after the helper is created: the rollback stops it.
    let mut child = w.run(&cfg, Some("fail-after-change:1"));
    let mut lines = Lines::of(&mut child);
    let code = wait_exit(&mut child, Duration::from_secs(120));
    let log = lines.rest();
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
