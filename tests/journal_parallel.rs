//! The parallel executor through the real binary, against a sandbox 20 ms away: many
//! independent undos overlap, undos of one object keep newest-first order, and the end state
//! is the serial run's.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chaosdeck::journal::{EntryDraft, Journal, ObjectRef, UndoAction, scan};
use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

const INDEPENDENT: usize = 40;

/// The bare pod `phoenix`, telling which one it is by an annotation.
fn phoenix(which: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "phoenix", "namespace": "default", "annotations": {"v": which}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

fn configmap(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": value}})).unwrap()
}

async fn start() -> (Sandbox, tempfile::TempDir) {
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Empty,
        latency: Some("20ms".parse().unwrap()),
        record_requests: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    sandbox.write_kubeconfig(&dir.path().join("kubeconfig")).unwrap();
    (sandbox, dir)
}

/// A journal in which order matters for one object and not for the rest:
/// - 40 ConfigMaps chaosdeck created: delete each (by uid), independent of each other;
/// - Pod `phoenix`: chaosdeck deleted the original bare pod (older entry: re-create it from its
///   snapshot) and later created a namesake (newer entry: delete that one). Newest first, the
///   namesake goes and the original comes back; the other way round the re-create finds the
///   name taken and the final delete leaves nothing.
async fn journal(sandbox: &Sandbox, root: &Path) {
    let client = sandbox.client().unwrap();
    let target = chaosdeck::cluster::ClusterTarget {
        context: chaosdeck::sandbox::SANDBOX_CONTEXT.into(),
        server: sandbox.url(),
    };
    let identity = chaosdeck::cluster::identify(&client, &target).await;
    let journal = Journal::open(root).unwrap().for_cluster(identity);
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let ctx = journal.begin_context("run-parallel").unwrap();
    let draft = |step: String, undo: UndoAction| EntryDraft {
        scenario_type: "application_outages_scenarios".into(),
        scenario_file: None,
        step,
        undo: vec![undo],
    };
    let pods: Api<Pod> = Api::namespaced(api.clone().into_client(), "default");
    ctx.write(
        ctx.mint("application_outages_scenarios"),
        draft(
            "deleted Pod default/phoenix".into(),
            UndoAction::Create { object: phoenix("original") },
        ),
    )
    .unwrap();
    let namesake = pods
        .create(&PostParams::default(), &serde_json::from_value(phoenix("namesake")).unwrap())
        .await
        .unwrap();
    ctx.write(
        ctx.mint("application_outages_scenarios"),
        draft(
            "created Pod default/phoenix".into(),
            UndoAction::Delete {
                target: ObjectRef::new("v1", "Pod", Some("default"), "phoenix"),
                uid: namesake.metadata.uid,
                require_labels: BTreeMap::new(),
            },
        ),
    )
    .unwrap();
    for i in 0..INDEPENDENT {
        let name = format!("cm-{i}");
        let created = api.create(&PostParams::default(), &configmap(&name, "chaos")).await.unwrap();
        ctx.write(
            ctx.mint("application_outages_scenarios"),
            draft(
                format!("created ConfigMap default/{name}"),
                UndoAction::Delete {
                    target: ObjectRef::new("v1", "ConfigMap", Some("default"), &name),
                    uid: created.metadata.uid,
                    require_labels: BTreeMap::new(),
                },
            ),
        )
        .unwrap();
    }
}

/// What is left: each ConfigMap with its value, and each pod with its annotation.
async fn configmaps(sandbox: &Sandbox) -> Vec<(String, String)> {
    let pods: Api<Pod> = Api::namespaced(sandbox.client().unwrap(), "default");
    let left_pods = pods.list(&ListParams::default()).await.unwrap().items.into_iter().map(|p| {
        let v = p.metadata.annotations.and_then(|a| a.get("v").cloned()).unwrap_or_default();
        (p.metadata.name.unwrap_or_default(), v)
    });
    let api: Api<ConfigMap> = Api::namespaced(sandbox.client().unwrap(), "default");
    let mut found: Vec<(String, String)> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|c| c.metadata.name.as_deref() != Some("kube-root-ca.crt"))
        .map(|c| {
            let v = c.data.and_then(|d| d.get("v").cloned()).unwrap_or_default();
            (c.metadata.name.unwrap_or_default(), v)
        })
        .chain(left_pods)
        .collect();
    found.sort();
    found
}

async fn execute(dir: &Path, parallel: &str) -> (Option<i32>, String) {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"));
    cmd.args(["execute-rollback", "--parallel", parallel, "--dir"])
        .arg(dir.join("journal"))
        .arg("--kubeconfig")
        .arg(dir.join("kubeconfig"));
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_undo_keeps_per_object_order_and_ends_like_the_serial_run() {
    let mut end_states = Vec::new();
    for parallel in ["1", "16"] {
        let (sandbox, dir) = start().await;
        journal(&sandbox, &dir.path().join("journal")).await;
        let (code, out) = execute(dir.path(), parallel).await;
        assert_eq!(code, Some(0), "--parallel {parallel}:\n{out}");
        assert!(out.contains(&format!("{} executed, 0 failed", INDEPENDENT + 2)), "{out}");
        let state = configmaps(&sandbox).await;
        assert_eq!(
            state,
            vec![("phoenix".to_string(), "original".to_string())],
            "--parallel {parallel}: only the original phoenix is left"
        );
        // The namesake's DELETE reached the server before the original's re-create.
        let sent = sandbox.requests();
        let delete =
            sent.iter().position(|r| r.method == "DELETE" && r.path.ends_with("/pods/phoenix"));
        let create = sent.iter().rposition(|r| r.method == "POST" && r.path.ends_with("/pods"));
        assert!(delete.is_some() && create.is_some() && delete < create, "{sent:#?}");
        assert_eq!(scan(&dir.path().join("journal")).unwrap().outstanding(), 0);
        end_states.push(state);
        sandbox.shutdown().await;
    }
    assert_eq!(end_states[0], end_states[1]);
}

#[test]
fn parallel_is_bounded_on_the_command_line() {
    for bad in ["0", "257", "many"] {
        let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["execute-rollback", "--parallel", bad, "--dir", "/nonexistent"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--parallel {bad}");
    }
}
