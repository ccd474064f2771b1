//! The scenario context enforces the plan's declared needs, a refused create retires its entry
//! as not applied, and the preflight works on the sandbox (which answers every access review
//! with "allowed").

use std::path::Path;
use std::sync::Arc;

use chaosdeck::cluster::ClusterOps;
use chaosdeck::journal::{EntryState, Journal, scan};
use chaosdeck::sandbox::{Sandbox, SandboxOptions};
use chaosdeck::scenarios::ctx::CtxParams;
use chaosdeck::scenarios::needs::{Forward, POD};
use chaosdeck::scenarios::{Need, Op, ScenarioCtx, ScenarioError};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

fn ctx(sandbox: &Sandbox, journal: &Path, needs: Vec<Need>) -> ScenarioCtx {
    let (_tx, paused) = tokio::sync::watch::channel(false);
    ScenarioCtx::new(CtxParams {
        ops: Arc::new(ClusterOps::new(sandbox.client().unwrap())),
        journal: Journal::open(journal).unwrap(),
        run_uuid: "8b0c3c7e-0000-4000-8000-000000000001".into(),
        scenario_type: "hog_scenarios".into(),
        scenario_file: "hog.yml".into(),
        index: 0,
        dry_run: false,
        cancel: tokio_util::sync::CancellationToken::new(),
        protected_namespaces: vec![],
        allow_protected: false,
        events: Arc::new(|_| {}),
        paused,
        needs,
        armed: None,
    })
}

fn pod(ns: &str, name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_operation_is_refused_before_any_entry_or_request() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let ctx = ctx(
        &sandbox,
        tmp.path(),
        vec![Need::new(Op::Change(Forward::Create), POD, Some("default"))],
    );

    let err = ctx.create("hog", pod("shop", "undeclared")).await.unwrap_err();
    assert!(
        matches!(&err, ScenarioError::Internal(m) if m.contains("declares no Create on v1 Pod in namespace shop")),
        "{err}"
    );
    let err = ctx.list_all::<Pod>(&Default::default()).await.unwrap_err();
    assert!(matches!(&err, ScenarioError::Internal(m) if m.contains("declares no List")), "{err}");
    assert!(ctx.context().is_none(), "no context directory for a refused operation");
    let pods: kube::Api<Pod> = kube::Api::namespaced(sandbox.client().unwrap(), "shop");
    assert!(pods.get_opt("undeclared").await.unwrap().is_none());

    let change = ctx.create("hog", pod("default", "declared")).await.unwrap();
    ctx.revert(&change).await.unwrap();
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_refused_with_already_exists_is_retired_as_not_applied() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let pods: kube::Api<Pod> = kube::Api::namespaced(sandbox.client().unwrap(), "default");
    let theirs: Pod = serde_json::from_value(pod("default", "taken")).unwrap();
    let theirs = pods.create(&Default::default(), &theirs).await.unwrap();
    let ctx = ctx(
        &sandbox,
        tmp.path(),
        vec![Need::new(Op::Change(Forward::Create), POD, Some("default"))],
    );

    let err = ctx.create("hog", pod("default", "taken")).await.unwrap_err();
    assert!(err.to_string().contains("already exists (HTTP 409 AlreadyExists)"), "{err}");
    let tree = scan(tmp.path()).unwrap();
    let entries: Vec<_> = tree.entries().map(|(_, e)| e.clone()).collect();
    assert_eq!(entries.len(), 1, "the entry was written ahead");
    assert_eq!(entries[0].state, EntryState::NotApplied);
    assert!(entries[0].file_name.ends_with(".yaml.executed"));
    assert_eq!(tree.outstanding(), 0);
    let audit = std::fs::read_to_string(tmp.path().join("audit.log")).unwrap();
    assert!(audit.contains("not-applied hog_scenarios_"), "{audit}");
    assert!(audit.contains("HTTP 409 AlreadyExists"), "{audit}");
    // Listing reads only headers: the state is the same there.
    let listed =
        chaosdeck::journal::scan_with(tmp.path(), chaosdeck::journal::Depth::Headers).unwrap();
    assert_eq!(listed.entries().next().unwrap().1.state, EntryState::NotApplied);
    // Their pod is untouched.
    let still = pods.get("taken").await.unwrap();
    assert_eq!(still.metadata.uid, theirs.metadata.uid);
    sandbox.shutdown().await;
}

#[test]
fn check_permissions_on_the_sandbox_grants_everything() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .current_dir(repo)
        .args(["check-permissions", "-c", "config/config.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("granted: create networkpolicies.networking.k8s.io in namespace"),
        "{text}"
    );
    assert!(text.contains("sandbox: no authorization"), "{text}");
    assert!(text.contains("chaosdeck execute-rollback / inspect"), "{text}");
    assert!(text.contains("every permission is granted"), "{text}");
    // Faults inside containers take exec (get and create: a WebSocket upgrade is both).
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .current_dir(repo)
        .args(["check-permissions", "-c", "config/containers.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for ns in ["inventory", "shop"] {
        for verb in ["get", "create"] {
            let line = format!("granted: {verb} pods/exec in namespace {ns}");
            assert!(text.contains(&line), "{line} missing from:\n{text}");
        }
    }
}
