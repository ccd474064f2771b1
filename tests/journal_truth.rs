//! The journal commands tell the truth, through the real binary: invalid entries are
//! outstanding work, an unreachable cluster is named as such, Krkn's directory stays Krkn's,
//! Krkn's default directory is found from a Krkn config, state changes wait for the context
//! lock, audit lines are written first and where they belong, and shell hints quote what
//! files say. Cluster state is checked with kube-rs against the in-process sandbox (no
//! outside program needed).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use chaosdeck::cluster::ClusterOps;
use chaosdeck::journal::entry::ENTRY_LABEL;
use chaosdeck::journal::executor::{self, ExecuteOptions, Outcome};
use chaosdeck::journal::krkn::payload::{encode_base64, python_json_dumps};
use chaosdeck::journal::lock::lock_context_blocking;
use chaosdeck::journal::{EntryDraft, EntryState, Filter, Journal, ObjectRef, UndoAction, scan};
use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
use predicates::prelude::PredicateBooleanExt;
use serde_json::{Value, json};

const RUN: &str = "7b5842f8-c142-4e90-8235-02cb0e1ec634";

fn chaosdeck() -> Command {
    Command::cargo_bin("chaosdeck").unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The entry of a pod chaos created, written before its uid was known: it deletes the pod that
/// carries its entry label (here the pod's name), as chaosdeck's own entries do.
fn delete_pod(ns: &str, pod: &str) -> EntryDraft {
    EntryDraft {
        scenario_type: "hog_scenarios".into(),
        scenario_file: None,
        step: format!("created Pod {ns}/{pod}"),
        undo: vec![UndoAction::Delete {
            target: ObjectRef::new("v1", "Pod", Some(ns), pod),
            uid: None,
            require_labels: BTreeMap::from([(ENTRY_LABEL.to_string(), pod.to_string())]),
        }],
    }
}

fn draft(undo: UndoAction) -> EntryDraft {
    EntryDraft {
        scenario_type: "node_scenarios".into(),
        scenario_file: None,
        step: "changed something".into(),
        undo: vec![undo],
    }
}

struct Env {
    sandbox: Sandbox,
    kubeconfig: tempfile::NamedTempFile,
    ops: ClusterOps,
}

async fn sandbox() -> Env {
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Empty,
        pod_ready_delay: Duration::from_millis(20),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let kubeconfig = tempfile::NamedTempFile::new().unwrap();
    sandbox.write_kubeconfig(kubeconfig.path()).unwrap();
    let ops = ClusterOps::new(sandbox.client().unwrap());
    Env { sandbox, kubeconfig, ops }
}

impl Env {
    async fn create(&self, object: Value) {
        self.ops.create(&object).await.unwrap().expect("created");
    }

    /// A pod labelled as [`delete_pod`]'s entry expects (plus `labels`).
    async fn pod(&self, ns: &str, name: &str, labels: Value, volumes: Value) {
        let mut labels = labels;
        labels[ENTRY_LABEL] = json!(name);
        self.create(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], "volumes": volumes}}))
            .await;
    }

    async fn exists(&self, kind: &str, api_version: &str, ns: &str, name: &str) -> bool {
        self.ops.get(&ObjectRef::new(api_version, kind, Some(ns), name)).await.unwrap().is_some()
    }

    /// `execute-rollback --dir D --kubeconfig K extra…` in a blocking task (the sandbox is
    /// served by this process's runtime).
    async fn execute(&self, dir: &Path, extra: &[&str]) -> Output {
        let mut cmd = chaosdeck();
        // These entries were written without a cluster identity: name the sandbox as the target.
        cmd.args(["execute-rollback", "--cluster-mismatch-ok", "chaosdeck-sandbox", "--dir"])
            .arg(dir)
            .arg("--kubeconfig")
            .arg(self.kubeconfig.path())
            .args(extra);
        tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
    }
}

// ---------------------------------------------------------------- A. invalid entries

#[test]
fn a_journal_whose_only_pending_file_is_garbage_is_not_nothing_pending() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-garbage").unwrap();
    let garbage = ctx.dir().join("hog_scenarios_5_brokenaa.yaml");
    std::fs::write(&garbage, "format: 1\nrun_uuid: [unclosed\n").unwrap();
    let out = chaosdeck()
        .args(["execute-rollback", "--dir"])
        .arg(journal.root())
        // No cluster is needed (nor used) to report a file that cannot be read.
        .env("KUBECONFIG", dir.path().join("no-such-kubeconfig"))
        .output()
        .unwrap();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("nothing pending"), "{text}");
    assert!(text.contains("INVALID   hog_scenarios_5_brokenaa.yaml"), "{text}");
    assert!(text.contains("line 2"), "the reason is given: {text}");
    assert!(text.contains("0 executed, 0 failed, 1 invalid (not executed), 0 skipped"), "{text}");
    assert!(garbage.exists(), "never deleted, never renamed");
    chaosdeck()
        .args(["list-rollback", "--dir"])
        .arg(journal.root())
        .assert()
        .success()
        // Counted as invalid, not as pending: nothing can execute it.
        .stdout(predicates::str::contains("  1 invalid\n"))
        .stdout(predicates::str::contains("pending").not());
    // The dry run says the same and exits 1 too.
    let out = chaosdeck()
        .args(["execute-rollback", "--dry-run", "--dir"])
        .arg(journal.root())
        .output()
        .unwrap();
    let dry = self::text(&out);
    assert_eq!(out.status.code(), Some(1), "{dry}");
    assert!(dry.contains("would NOT be executed: invalid entry"), "{dry}");
}

#[test]
fn without_a_cluster_invalid_entries_are_still_counted() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-nocluster").unwrap();
    let good = ctx.write(ctx.mint("hog_scenarios"), delete_pod("default", "a")).unwrap();
    std::fs::write(ctx.dir().join("hog_scenarios_5_brokenaa.yaml"), "not: [an entry").unwrap();
    let out = chaosdeck()
        .args(["execute-rollback", "--dir"])
        .arg(journal.root())
        .arg("--kubeconfig")
        .arg(dir.path().join("no-such-kubeconfig"))
        .output()
        .unwrap();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("1 entry left pending"), "{text}");
    assert!(text.contains("0 executed, 0 failed, 1 invalid (not executed), 0 skipped"), "{text}");
    assert!(good.path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nineteen_good_and_one_corrupt_entry_exit_1_and_say_so() {
    let env = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-19").unwrap();
    let mut written = Vec::new();
    for i in 0..19 {
        let pod = format!("hog-{i:02}");
        env.pod("default", &pod, json!({}), json!([])).await;
        written.push(ctx.write(ctx.mint("hog_scenarios"), delete_pod("default", &pod)).unwrap());
    }
    // The corrupt one stands for a change that is still in the cluster.
    env.pod("default", "hog-corrupt", json!({}), json!([])).await;
    let corrupt = ctx.dir().join("hog_scenarios_9999999999999999999_corrupta.yaml");
    std::fs::write(&corrupt, "format: 1\nundo: {{{{\n").unwrap();

    let out = env.execute(journal.root(), &[]).await;
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("19 executed, 0 failed, 1 invalid (not executed), 0 skipped"), "{text}");
    assert!(text.contains("INVALID   hog_scenarios_9999999999999999999_corrupta.yaml"), "{text}");
    for w in &written {
        assert!(!w.path.exists(), "{} executed", w.path.display());
    }
    for i in 0..19 {
        assert!(!env.exists("Pod", "v1", "default", &format!("hog-{i:02}")).await);
    }
    assert!(corrupt.exists());
    assert!(env.exists("Pod", "v1", "default", "hog-corrupt").await, "nothing guessed");
    let tree = scan(journal.root()).unwrap();
    assert_eq!(tree.invalid(), 1);
    env.sandbox.shutdown().await;
}

// ---------------------------------------------------------------- B. unreachable cluster

fn kubeconfig_for(path: &Path, server: &str) {
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: {server}\n\
             contexts:\n- name: gone\n  context:\n    cluster: gone\n    user: u\n\
             current-context: gone\nusers:\n- name: u\n  user: {{}}\n"
        ),
    )
    .unwrap();
}

#[test]
fn an_unreachable_api_server_is_named_with_its_cause_and_entries_stay_pending() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let server = format!("http://127.0.0.1:{port}");
    let kubeconfig = dir.path().join("kubeconfig");
    kubeconfig_for(&kubeconfig, &server);
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-gone").unwrap();
    let netpol = ctx
        .write(
            ctx.mint("application_outages_scenarios"),
            draft(UndoAction::Delete {
                target: ObjectRef::new("networking.k8s.io/v1", "NetworkPolicy", Some("d"), "deny"),
                uid: Some("uid-of-deny".into()),
                require_labels: BTreeMap::new(),
            }),
        )
        .unwrap();
    let pods: Vec<_> = ["a", "b"]
        .iter()
        .map(|p| ctx.write(ctx.mint("hog_scenarios"), delete_pod("default", p)).unwrap())
        .collect();

    let started = std::time::Instant::now();
    let out = chaosdeck()
        .args(["execute-rollback", "--cluster-mismatch-ok", "gone", "--dir"])
        .arg(journal.root())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("cannot reach the API server at {server}")), "{text}");
    assert!(text.to_lowercase().contains("connection refused"), "{text}");
    assert!(!text.contains("does not serve"), "not a discovery verdict: {text}");
    assert!(
        text.contains("0 executed, 1 failed, 0 skipped, 2 not attempted (cluster unreachable)"),
        "{text}"
    );
    for w in pods.iter().chain([&netpol]) {
        assert!(w.path.exists(), "{} still pending", w.path.display());
    }
    let tree = scan(journal.root()).unwrap();
    assert_eq!(tree.outstanding(), 3);
    eprintln!("execute-rollback against a closed port took {elapsed:?}");
}

/// A server on loopback that answers every request with `status` and a Kubernetes Status body
/// (read once, answer, close), for the answers the sandbox never gives.
fn answering(status: u16, reason: &str) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{reason}","reason":"{reason}","code":{status}}}"#
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut buf = [0u8; 8192];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(response.as_bytes());
        }
    });
    port
}

fn two_pending_pods(root: &Path) -> Vec<PathBuf> {
    let journal = Journal::open(root).unwrap();
    let ctx = journal.begin_context("run-auth").unwrap();
    ["a", "b"]
        .iter()
        .map(|p| ctx.write(ctx.mint("hog_scenarios"), delete_pod("default", p)).unwrap().path)
        .collect()
}

#[test]
fn refused_credentials_tls_and_dns_failures_name_the_server_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let run = |server: &str, name: &str| {
        let kubeconfig = dir.path().join(format!("{name}.kubeconfig"));
        kubeconfig_for(&kubeconfig, server);
        let root = dir.path().join(name);
        let pending = two_pending_pods(&root);
        let out = chaosdeck()
            .args(["execute-rollback", "--cluster-mismatch-ok", "gone", "--dir"])
            .arg(&root)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .output()
            .unwrap();
        for p in &pending {
            assert!(p.exists(), "{} still pending", p.display());
        }
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        text(&out)
    };
    // 401: the credentials are refused; every other request would be refused too.
    let server = format!("http://127.0.0.1:{}", answering(401, "Unauthorized"));
    let out = run(&server, "unauthorized");
    assert!(out.contains(&format!("not authorised by the API server at {server}")), "{out}");
    assert!(out.contains("HTTP 401"), "{out}");
    assert!(out.contains("1 not attempted"), "{out}");
    assert!(!out.contains("does not serve"), "{out}");
    // TLS: https to a server that does not speak it.
    let server = format!("https://127.0.0.1:{}", answering(200, "OK"));
    let out = run(&server, "tls");
    assert!(out.contains(&format!("cannot reach the API server at {server}")), "{out}");
    assert!(!out.contains("does not serve"), "{out}");
    // DNS: `.invalid` never resolves (RFC 6761).
    let server = "https://chaosdeck-no-such-host.invalid:6443";
    let out = run(server, "dns");
    assert!(out.contains(&format!("cannot reach the API server at {server}")), "{out}");
    assert!(out.to_lowercase().contains("dns"), "{out}");
}

/// An entry asking to delete a kind no scenario creates is refused before any request: it
/// stays pending, and the line says why (an entry is data whoever wrote the file chose).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_of_a_change_no_scenario_makes_is_refused_before_anything_is_sent() {
    let env = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-widget").unwrap();
    let widget = ctx
        .write(
            ctx.mint("node_scenarios"),
            draft(UndoAction::Delete {
                target: ObjectRef::new("example.com/v1", "Widget", Some("default"), "w"),
                uid: Some("u".into()),
                require_labels: BTreeMap::new(),
            }),
        )
        .unwrap();
    let out = env.execute(journal.root(), &[]).await;
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("an undo may not delete example.com/v1 Widget"), "{text}");
    assert!(text.contains("1 refused"), "{text}");
    assert!(widget.path.exists(), "refused entries stay pending");
    assert!(!text.contains("does not serve"), "nothing was asked of the cluster: {text}");
    env.sandbox.shutdown().await;
}

// ---------------------------------------------------------------- Krkn files

fn b64(value: &Value) -> String {
    encode_base64(python_json_dumps(value).as_bytes())
}

use support::write_krkn;

/// Krkn's file-name rule (§1.3): `<type>_<digits>_<8 alnum>.py`, or that `.executed`.
fn krkn_named(name: &str) -> bool {
    let base = name.strip_suffix(".executed").unwrap_or(name);
    let Some(stem) = base.strip_suffix(".py") else { return false };
    let mut parts = stem.rsplitn(3, '_');
    let (Some(suffix), Some(ts), Some(kind)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    suffix.len() == 8
        && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
        && !ts.is_empty()
        && ts.bytes().all(|b| b.is_ascii_digit())
        && !kind.is_empty()
}

// ---------------------------------------------------------------- C. Krkn's directory

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executing_krkns_directory_leaves_nothing_of_chaosdecks_in_its_context_dirs() {
    let env = sandbox().await;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("krkn-rollback");
    env.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}))
        .await;
    // 1. A hog pod: undone and renamed, as Krkn does.
    env.pod("default", "cpu-hog-kqlog", json!({}), json!([])).await;
    let hog_ctx = format!("1795315098660167716-{RUN}");
    let hog = "hog_scenarios_1795315097812653975_mbmixfdj.py";
    write_krkn(
        &root,
        &hog_ctx,
        hog,
        &support::krkn_file("rollback_hog_pod", &support::krkn_content("default", "cpu-hog-kqlog")),
    );
    // 2. A hijack whose Service someone re-pointed afterwards: refused, stays `.py`, and its
    // error record must not land beside it.
    env.create(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "cart", "namespace": "shop"},
        "spec": {"selector": {"app": "cart-canary"}, "ports": [{"port": 80}]}}))
        .await;
    let hijack_ctx = format!("1795315102688129326-{RUN}");
    let hijack = "service_hijacking_scenarios_1795315097812653975_mbmixfdj.py";
    let payload = b64(&json!({"service_name": "cart", "service_namespace": "shop",
        "original_selectors": {"app": "cart"}, "webservice_pod_name": "service-hijacking-pod-abcde"}));
    write_krkn(
        &root,
        &hijack_ctx,
        hijack,
        &support::krkn_file("rollback_service_hijacking", &support::krkn_content("shop", &payload)),
    );

    let out = env.execute(&root, &[]).await;
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("1 executed, 1 failed"), "{text}");
    assert!(!env.exists("Pod", "v1", "default", "cpu-hog-kqlog").await);
    // Every context directory holds only Krkn-named files: no lock file, no error record.
    for ctx in [&hog_ctx, &hijack_ctx] {
        for item in std::fs::read_dir(root.join(ctx)).unwrap() {
            let name = item.unwrap().file_name().to_string_lossy().into_owned();
            assert!(krkn_named(&name), "{ctx}/{name} is not Krkn's");
        }
    }
    assert!(root.join(&hog_ctx).join(format!("{hog}.executed")).exists());
    assert!(root.join(&hijack_ctx).join(hijack).exists());
    let record =
        root.join(".chaosdeck/krkn-errors").join(&hijack_ctx).join(format!("{hijack}.error"));
    assert!(record.exists(), "the error record is kept in chaosdeck's own directory");
    // And read back from there: list, show, scan.
    let tree = scan(&root).unwrap();
    let e = tree.entries().map(|(_, e)| e).find(|e| e.file_name == hijack).unwrap();
    assert_eq!(e.state, EntryState::Failed);
    assert!(tree.unknown.is_empty(), "{:?}", tree.unknown);
    chaosdeck()
        .args(["list-rollback", "--dir"])
        .arg(&root)
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("[failed,krkn] {hijack}")))
        .stdout(predicates::str::contains(
            "last error: Service shop/cart has a selector that is neither",
        ))
        .stdout(predicates::str::contains("[unknown]").not());
    chaosdeck()
        .arg("show")
        .arg(root.join(&hijack_ctx).join(hijack))
        .assert()
        .success()
        .stdout(predicates::str::contains("Service shop/cart has a selector that is neither"));
    env.sandbox.shutdown().await;
}

// ---------------------------------------------------------------- D. Krkn's default directory

#[test]
fn a_krkn_config_naming_no_directory_reads_krkns_default() {
    let home = tempfile::tempdir().unwrap();
    let krkn_root = home.path().join(".krkn/rollback");
    let hog = "hog_scenarios_1795315097812653975_mbmixfdj.py";
    write_krkn(
        &krkn_root,
        &format!("1795315098660167716-{RUN}"),
        hog,
        &support::krkn_file("rollback_hog_pod", &support::krkn_content("default", "cpu-hog-kqlog")),
    );
    let krkn_config = home.path().join("krkn-config.yaml");
    std::fs::write(
        &krkn_config,
        "kraken:\n    auto_rollback: True\n    rollback_versions_directory: \"\"\n",
    )
    .unwrap();
    let deck_config = home.path().join("deck-config.yaml");
    std::fs::write(
        &deck_config,
        "kraken:\n    auto_rollback: True\nchaosdeck:\n    cluster: sandbox\n",
    )
    .unwrap();
    let state = home.path().join("state");
    let run = |args: &[&str], config: &Path| {
        chaosdeck()
            .args(args)
            .arg("-c")
            .arg(config)
            .env("HOME", home.path())
            .env("XDG_STATE_HOME", &state)
            .output()
            .unwrap()
    };
    let out = run(&["list-rollback"], &krkn_config);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed = text(&out);
    assert!(listed.starts_with(&format!("{}\n", krkn_root.display())), "{listed}");
    assert!(listed.contains(hog), "{listed}");
    let out = run(&["execute-rollback", "--dry-run"], &krkn_config);
    assert!(text(&out).contains("kubectl delete pod/cpu-hog-kqlog -n default"), "{}", text(&out));
    // A chaosdeck config (it has a chaosdeck: section) keeps chaosdeck's default (for the
    // sandbox, the directory kept apart from real clusters').
    let out = run(&["list-rollback"], &deck_config);
    let listed = text(&out);
    assert!(
        listed.starts_with(&format!("{}\n", state.join("chaosdeck/sandbox-rollback").display())),
        "{listed}"
    );
    assert!(!listed.contains(hog), "{listed}");
    // The help names both of Krkn's defaults.
    let help = chaosdeck().args(["list-rollback", "--help"]).output().unwrap();
    let help = text(&help);
    assert!(help.contains("~/.krkn/rollback") && help.contains("/tmp/kraken-rollback"), "{help}");
    assert!(help.contains("chaosdeck:"), "says how a Krkn config is told apart: {help}");
}

// ---------------------------------------------------------------- E. one locked place

#[test]
fn retire_and_mark_executed_wait_for_the_context_lock() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-lock").unwrap();
    let retired = ctx.write(ctx.mint("hog_scenarios"), delete_pod("default", "a")).unwrap();
    let marked = ctx.write(ctx.mint("hog_scenarios"), delete_pod("default", "b")).unwrap();

    // Another holder (here: this test, as an executor would be) has the lock.
    let lock = lock_context_blocking(ctx.dir(), Duration::from_secs(1)).unwrap();
    let retiring = {
        let (ctx, retired) = (ctx.clone(), retired.clone());
        std::thread::spawn(move || ctx.retire(&retired))
    };
    let mut marking = std::process::Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
        .arg("mark-executed")
        .arg(&marked.path)
        .args(["--yes", "--reason", "by hand"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(retired.path.exists(), "retire must wait for the lock");
    assert!(marked.path.exists(), "mark-executed must wait for the lock");
    assert!(!retiring.is_finished());
    drop(lock);
    retiring.join().unwrap().unwrap();
    assert!(marking.wait().unwrap().success());
    assert!(!retired.path.exists() && !marked.path.exists());
    assert_eq!(scan(journal.root()).unwrap().outstanding(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amend_never_brings_back_an_entry_another_process_executed() {
    let env = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-amend").unwrap();
    env.pod("default", "p", json!({}), json!([])).await;
    let mut written = ctx.write(ctx.mint("hog_scenarios"), delete_pod("default", "p")).unwrap();
    // An executor (TUI, CLI) undoes it before the scenario records the uid.
    let tree = scan(journal.root()).unwrap();
    let selected = executor::select(&tree, &Filter::default());
    let outcomes = executor::execute(&env.ops, &selected, ExecuteOptions::default(), |_| {}).await;
    assert!(matches!(outcomes[0].outcome, Outcome::Executed { .. }), "{outcomes:?}");
    // The scenario's next step on that change, under the lock again: refused.
    let held = ctx.begin_change().await.unwrap();
    let err = held
        .amend(&mut written, |e| {
            if let UndoAction::Delete { uid, .. } = &mut e.undo[0] {
                *uid = Some("late-uid".into());
            }
        })
        .unwrap_err();
    assert!(err.to_string().contains("executed by another process"), "{err}");
    drop(held);
    assert!(!written.path.exists(), "the pending file must not come back");
    assert_eq!(scan(journal.root()).unwrap().outstanding(), 0);
    // Retiring it afterwards is done, not an error.
    ctx.retire(&written).unwrap();
    env.sandbox.shutdown().await;
}

// ---------------------------------------------------------------- F. outcomes that lie

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_list_item_tells_an_absent_list_from_a_wrong_shape() {
    let env = sandbox().await;
    // Two nodes: entries on one node would keep newest-first order, and the failing one would
    // hold back the other.
    for name in ["n1", "n2"] {
        env.create(
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {}}),
        )
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-taint").unwrap();
    let item = json!({"key": "chaos", "value": "on", "effect": "NoSchedule"});
    // The node has no taints at all: Kubernetes drops the list with its last item.
    let gone = ctx
        .write(
            ctx.mint("node_scenarios"),
            draft(UndoAction::RemoveListItem {
                target: ObjectRef::new("v1", "Node", None, "n1"),
                path: "/spec/taints".into(),
                item: item.clone(),
            }),
        )
        .unwrap();
    // A path that does not fit a Node at all.
    let wrong = ctx
        .write(
            ctx.mint("node_scenarios"),
            draft(UndoAction::RemoveListItem {
                target: ObjectRef::new("v1", "Node", None, "n2"),
                path: "/spec/nothere/taints".into(),
                item,
            }),
        )
        .unwrap();
    let out = env.execute(journal.root(), &[]).await;
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("1 executed, 0 failed, 1 refused"), "{text}");
    assert!(!gone.path.exists(), "absent list = item gone");
    assert!(wrong.path.exists(), "a path chaos never adds to stays pending");
    assert!(text.contains("may not remove items from /spec/nothere/taints"), "{text}");
    env.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_krkn_hijack_with_its_pod_gone_is_not_done_while_an_unclaimed_plan_remains() {
    let env = sandbox().await;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("krkn-rollback");
    env.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}))
        .await;
    env.create(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "cart", "namespace": "shop"},
        "spec": {"selector": {"service-hijacking": "sh-aaaaa"}, "ports": [{"port": 80}]}}))
        .await;
    // The plan Krkn leaked, and a live hijack's plan that is mounted (not ours to judge).
    for cm in ["service-hijacking-cm-leakd", "service-hijacking-cm-livee"] {
        env.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": cm, "namespace": "shop"}, "data": {"plan.yaml": "[]"}}))
            .await;
    }
    env.pod(
        "shop",
        "service-hijacking-pod-livee",
        json!({"service-hijacking": "sh-bbbbb"}),
        json!([{"name": "plan", "configMap": {"name": "service-hijacking-cm-livee"}}]),
    )
    .await;
    let ctx = format!("1795315400000000000-{RUN}");
    let file = "service_hijacking_scenarios_1_goneaaaa.py";
    let payload = b64(&json!({"service_name": "cart", "service_namespace": "shop",
        "original_selectors": {"app": "cart"}, "webservice_pod_name": "service-hijacking-pod-goneo"}));
    let path = write_krkn(
        &root,
        &ctx,
        file,
        &support::krkn_file("rollback_service_hijacking", &support::krkn_content("shop", &payload)),
    );

    let out = env.execute(&root, &[]).await;
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("service-hijacking-cm-leakd"), "names the leftover: {text}");
    assert!(
        !text.contains("service-hijacking-cm-livee"),
        "a mounted plan is not a leftover: {text}"
    );
    assert!(path.exists(), "not .py.executed while the plan may remain");
    // The selector itself was restored (every action is attempted).
    let svc =
        env.ops.get(&ObjectRef::new("v1", "Service", Some("shop"), "cart")).await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(&svc).unwrap()["spec"]["selector"], json!({"app": "cart"}));

    // Once the operator deletes the leftover, the entry completes.
    env.ops
        .delete_with_grace(
            &ObjectRef::new("v1", "ConfigMap", Some("shop"), "service-hijacking-cm-leakd"),
            &env.ops
                .get(&ObjectRef::new("v1", "ConfigMap", Some("shop"), "service-hijacking-cm-leakd"))
                .await
                .unwrap()
                .unwrap()
                .metadata
                .uid
                .unwrap(),
            None,
        )
        .await
        .unwrap();
    let out = env.execute(&root, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", self::text(&out));
    assert!(root.join(&ctx).join(format!("{file}.executed")).exists());
    assert!(env.exists("ConfigMap", "v1", "shop", "service-hijacking-cm-livee").await);
    env.sandbox.shutdown().await;
}

// ---------------------------------------------------------------- G. audit trail

#[test]
fn mark_executed_audits_into_the_journal_root_first_whatever_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-audit").unwrap();
    let a = ctx.write(ctx.mint("hog_scenarios"), delete_pod("default", "a")).unwrap();
    let b = ctx.write(ctx.mint("hog_scenarios"), delete_pod("default", "b")).unwrap();
    let c = ctx.write(ctx.mint("hog_scenarios"), delete_pod("default", "c")).unwrap();
    let name = |w: &chaosdeck::journal::WrittenEntry| w.name.pending_file_name();
    // From inside the context directory, by bare file name.
    chaosdeck()
        .current_dir(ctx.dir())
        .args(["mark-executed", &name(&a), "--yes", "--reason", "inside"])
        .assert()
        .success();
    // From the journal root, as ctx/x.yaml.
    let ctx_name = ctx.dir().file_name().unwrap().to_string_lossy().into_owned();
    chaosdeck()
        .current_dir(journal.root())
        .args([
            "mark-executed",
            &format!("{ctx_name}/{}", name(&b)),
            "--yes",
            "--reason",
            "rootside",
        ])
        .assert()
        .success();
    let audit = std::fs::read_to_string(journal.root().join("audit.log")).unwrap();
    assert!(audit.contains(&format!("mark-executed {}: inside", name(&a))), "{audit}");
    assert!(audit.contains(&format!("mark-executed {}: rootside", name(&b))), "{audit}");
    assert!(!ctx.dir().join("audit.log").exists(), "never in the context directory");
    // Write-ahead: when the audit line cannot be written, nothing is marked.
    std::fs::remove_file(journal.root().join("audit.log")).unwrap();
    std::fs::create_dir(journal.root().join("audit.log")).unwrap();
    let out = chaosdeck().arg("mark-executed").arg(&c.path).arg("--yes").output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("audit"), "{}", text(&out));
    assert!(c.path.exists(), "no audit line, no rename");
}

// ---------------------------------------------------------------- H. shell hints

#[test]
fn hints_built_from_krkn_files_quote_hostile_values() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("krkn-rollback");
    // A path may hold anything but `..`, `//` and control characters: it reaches the container
    // as one argv word, and the hint a reader may paste quotes it.
    let payload = b64(&json!({"pod_name": "app-0", "container_name": "app",
        "mount_path": "/data", "file_name": "x; rm -rf ~", "full_path": "/data/x; rm -rf ~"}));
    let path = write_krkn(
        &root,
        &format!("1795315105699069697-{RUN}"),
        "pvc_scenarios_1795315097812653975_mbmixfdj.py",
        &support::krkn_file("rollback_temp_file", &support::krkn_content("demo-ns", &payload)),
    );
    let out = chaosdeck().arg("show").arg(&path).output().unwrap();
    let text = text(&out);
    assert!(
        text.contains("kubectl exec -n demo-ns app-0 -c app -- rm -- '/data/x; rm -rf ~'"),
        "{text}"
    );
    assert!(!text.contains("rm -- /data/x; rm -rf ~"), "{text}");
    // Names the API server would refuse never reach a URL or a hint: the file is invalid.
    let payload = b64(&json!({"pod_name": "$(reboot)", "container_name": "app`id`",
        "mount_path": "/data", "file_name": "kraken.tmp", "full_path": "/data/kraken.tmp"}));
    let path = write_krkn(
        &root,
        &format!("1795315105699069698-{RUN}"),
        "pvc_scenarios_1795315097812653976_mbmixfdk.py",
        &support::krkn_file("rollback_temp_file", &support::krkn_content("demo-ns", &payload)),
    );
    let out = chaosdeck()
        .args(["execute-rollback", "--file"])
        .arg(&path)
        .env("KUBECONFIG", tmp.path().join("none"))
        .output()
        .unwrap();
    let text = self::text(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("pod name \"$(reboot)\" is not a valid Kubernetes name"), "{text}");
    assert!(!text.contains("kubectl exec"), "{text}");
}

// ---------------------------------------------------------------- A. the same truth in the UI

#[test]
fn the_ui_says_how_many_entries_could_not_be_undone() {
    use chaosdeck::engine::EngineEvent;
    use chaosdeck::journal::{Depth, scan_with};
    use chaosdeck::tui::app::{App, Header, Mode};
    use chaosdeck::tui::theme::Theme;
    use chaosdeck::tui::update::apply_event;

    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-ui").unwrap();
    ctx.write(ctx.mint("hog_scenarios"), delete_pod("default", "a")).unwrap();
    std::fs::write(ctx.dir().join("hog_scenarios_5_brokenaa.yaml"), "not an entry").unwrap();
    let header =
        Header { context: "chaosdeck-sandbox".into(), is_sandbox: true, ..Default::default() };
    let mut app = App::new(Mode::Inspect, header, Theme { color: false });
    app.set_tree(scan_with(journal.root(), Depth::Full).unwrap());
    let render = |app: &mut App| {
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 30)).unwrap();
        terminal.draw(|f| chaosdeck::tui::render::draw(f, app)).unwrap();
        terminal.backend().to_string()
    };
    let before = render(&mut app);
    assert!(before.contains("1 pending") && before.contains("1 invalid"), "{before}");
    assert!(!before.contains("not undone"), "{before}");
    // What the engine reports after `!` when 2 were undone and 1 could not be.
    let tally =
        chaosdeck::journal::executor::Tally { executed: 2, failed: 1, ..Default::default() };
    apply_event(
        &mut app,
        &EngineEvent::Rollback(chaosdeck::journal::rollback::Event::Finished(tally)),
    );
    let after = render(&mut app);
    assert!(after.contains("1 not undone"), "{after}");
    assert!(
        app.log.iter().any(|l| l.contains("1 could NOT be undone (still pending)")),
        "{:?}",
        app.log
    );
}

// ---------------------------------------------------------------- F. skipped is not failed

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_another_process_executed_does_not_fail_the_runs_rollback() {
    use std::io::{BufRead, BufReader};
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Demo,
        pod_ready_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sandbox.write_kubeconfig(&kubeconfig).unwrap();
    let ops = ClusterOps::new(sandbox.client().unwrap());
    let scenario = dir.path().join("outage.yaml");
    std::fs::write(
        &scenario,
        "application_outage:\n  duration: 300\n  namespace: shop\n  pod_selector: {app: frontend}\n  block: [Ingress]\n",
    )
    .unwrap();
    let journal = dir.path().join("journal");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "kraken:\n    kubeconfig_path: {}\n    auto_rollback: True\n    rollback_versions_directory: {}\n    chaos_scenarios:\n        - application_outages_scenarios:\n            - {}\ntunings:\n    wait_duration: 0\n    iterations: 1\nchaosdeck:\n    cluster: kubeconfig\n",
            kubeconfig.display(),
            journal.display(),
            scenario.display()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chaosdeck"))
        .args(["run", "--headless", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let mut wait_for = |needle: &str| -> Option<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let line = rx.recv_timeout(left).ok()?;
            log.push(line.clone());
            if line.contains(needle) {
                return Some(line);
            }
        }
        None
    };
    let wrote = wait_for("journal: wrote ").expect("the outage is journaled");
    let entry = PathBuf::from(
        wrote.split("journal: wrote ").nth(1).unwrap().split(" (undo:").next().unwrap(),
    );
    // Once the scenario has recorded the policy's uid in its entry (an amend, which takes the
    // lock too), another executor holds the context while the run is stopped...
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let policies =
            ops.list("networking.k8s.io/v1", "NetworkPolicy", Some("shop")).await.unwrap();
        let uid = policies.first().and_then(|p| p.metadata.uid.clone());
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        if uid.is_some_and(|uid| text.contains(&uid)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the uid was never recorded:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lock = lock_context_blocking(entry.parent().unwrap(), Duration::from_secs(5)).unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(wait_for("rollback of 1 entr").is_some(), "the run selected the entry");
    // ...and undoes the entry first: the policy goes, the file becomes `.executed`.
    for policy in ops.list("networking.k8s.io/v1", "NetworkPolicy", Some("shop")).await.unwrap() {
        let name = policy.metadata.name.clone().unwrap();
        let uid = policy.metadata.uid.clone().unwrap();
        let target = ObjectRef::new("networking.k8s.io/v1", "NetworkPolicy", Some("shop"), &name);
        ops.delete_exact(&target, &uid).await.unwrap();
    }
    std::fs::rename(&entry, format!("{}.executed", entry.display())).unwrap();
    drop(lock);
    let finished = wait_for("rollback done");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    let _ = wait_for("run finished");
    let log = log.join("\n");
    assert!(finished.is_some(), "{log}");
    assert_eq!(status.code(), Some(143), "{log}");
    assert!(log.contains("already executed by another process"), "{log}");
    assert!(log.contains("rollback done: 0 executed, 0 failed"), "skipped is not failed: {log}");
    assert!(log.contains("stopped, rolled back"), "{log}");
    sandbox.shutdown().await;
}
