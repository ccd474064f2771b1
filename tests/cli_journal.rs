//! The journal commands through the real binary: output, exit codes, bad input.

mod support;

use std::path::Path;

use assert_cmd::Command;
use chaosdeck::journal::Journal;
use predicates::prelude::*;

fn chaosdeck() -> Command {
    Command::cargo_bin("chaosdeck").unwrap()
}

/// The listing of a Krkn rollback directory, minus the decoded undo (checked elsewhere).
fn krkn_listing(dir: &Path) -> String {
    let out = chaosdeck().args(["list-rollback", "--dir"]).arg(dir).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let body: Vec<&str> =
        text.lines().skip(1).map(|l| l.split("  krkn ").next().unwrap_or(l)).collect();
    body.join("\n")
}

#[test]
fn list_rollback_reads_krkns_directory() {
    let listing = krkn_listing(&support::krkn_data().join("rollback"));
    insta::assert_snapshot!("list_rollback_reads_krkns_directory", listing);
}

#[test]
#[ignore = "needs ../shared/fixtures"]
fn list_rollback_reads_krkns_shared_fixtures() {
    let listing = krkn_listing(&support::fixtures().join("krkn-rollback"));
    insta::assert_snapshot!("list_rollback_reads_krkns_shared_fixtures", listing);
}

/// `-r <prefix> -s hog_scenarios --json` over `dir` finds the one hog entry, deleting `pod`.
fn check_json_filter(dir: &Path, run_prefix: &str, pod: &str) {
    let out = chaosdeck()
        .args(["list-rollback", "--json", "-r", run_prefix, "-s", "hog_scenarios", "--dir"])
        .arg(dir)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let contexts = v["contexts"].as_array().unwrap();
    assert_eq!(contexts.len(), 1);
    let entry = &contexts[0]["entries"][0];
    assert_eq!(entry["state"], "pending");
    assert_eq!(entry["flavor"], "krkn");
    assert_eq!(entry["scenario_type"], "hog_scenarios");
    assert!(entry["undo"].as_str().unwrap().contains(pod), "{entry}");
}

#[test]
fn list_rollback_json_filters_by_run_and_type() {
    check_json_filter(&support::krkn_data().join("rollback"), "5e0c7a3d", "memory-hog-tfzqa");
}

#[test]
#[ignore = "needs ../shared/fixtures"]
fn list_rollback_json_filters_by_run_and_type_in_shared_fixtures() {
    check_json_filter(&support::fixtures().join("krkn-rollback"), "7b5842f8", "cpu-hog-kqlog");
}

#[test]
fn check_reports_invalid_entries_and_unknown_files_without_deleting() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-a").unwrap();
    ctx.write(
        ctx.mint("hog_scenarios"),
        support::delete_pod_draft("hog_scenarios", "default", "p1"),
    )
    .unwrap();
    let broken = ctx.dir().join("hog_scenarios_5_brokenaa.yaml");
    std::fs::write(&broken, "format: 1\nrun_uuid: [unclosed\n").unwrap();
    let stray = ctx.dir().join("notes.txt");
    std::fs::write(&stray, "operator notes").unwrap();
    chaosdeck()
        .args(["check", "--dir"])
        .arg(journal.root())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("invalid   "))
        .stdout(predicate::str::contains("hog_scenarios_5_brokenaa.yaml: line 2"))
        .stdout(predicate::str::contains("unknown   "))
        .stdout(predicate::str::contains("2 entries (1 outstanding"));
    assert!(broken.exists() && stray.exists(), "check must never delete anything");
    chaosdeck()
        .args(["list-rollback", "--dir"])
        .arg(journal.root())
        .assert()
        .success()
        .stdout(predicate::str::contains("[invalid] hog_scenarios_5_brokenaa.yaml"))
        .stdout(predicate::str::contains("[unknown] notes.txt"));
}

#[test]
fn show_prints_summary_kubectl_and_raw() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-b").unwrap();
    let w = ctx
        .write(
            ctx.mint("hog_scenarios"),
            support::delete_pod_draft("hog_scenarios", "default", "cpu-hog-ab"),
        )
        .unwrap();
    chaosdeck()
        .arg("show")
        .arg(&w.path)
        .assert()
        .success()
        .stdout(predicate::str::contains("state:     pending"))
        .stdout(predicate::str::contains("kubectl delete pod/cpu-hog-ab -n default"))
        .stdout(predicate::str::contains("--- raw file ---"));
}

#[test]
fn mark_executed_needs_yes_when_not_interactive_and_audits() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-c").unwrap();
    let w = ctx
        .write(
            ctx.mint("hog_scenarios"),
            support::delete_pod_draft("hog_scenarios", "default", "p"),
        )
        .unwrap();
    chaosdeck().arg("mark-executed").arg(&w.path).assert().code(2);
    assert!(w.path.exists());
    chaosdeck()
        .arg("mark-executed")
        .arg(&w.path)
        .args(["--yes", "--reason", "deleted by hand"])
        .assert()
        .success();
    assert!(!w.path.exists());
    assert!(ctx.dir().join(format!("{}.executed", w.name.pending_file_name())).exists());
    let audit = std::fs::read_to_string(journal.root().join("audit.log")).unwrap();
    assert!(audit.contains("mark-executed") && audit.contains("deleted by hand"), "{audit}");
}

#[test]
fn execute_rollback_dry_run_lists_newest_first_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-d").unwrap();
    for pod in ["first", "second", "third"] {
        ctx.write(
            ctx.mint("hog_scenarios"),
            support::delete_pod_draft("hog_scenarios", "default", pod),
        )
        .unwrap();
    }
    let out = chaosdeck()
        .args(["execute-rollback", "--dry-run", "--dir"])
        .arg(journal.root())
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let order: Vec<usize> =
        ["pod/third", "pod/second", "pod/first"].iter().map(|p| text.find(p).unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "LIFO order expected:\n{text}");
    let tree = chaosdeck::journal::scan(journal.root()).unwrap();
    assert_eq!(tree.outstanding(), 3);
}

#[test]
fn execute_rollback_refuses_ambiguous_run_prefix_and_unknown_file() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    for run in ["abc-1", "abc-2"] {
        let ctx = journal.begin_context(run).unwrap();
        ctx.write(
            ctx.mint("hog_scenarios"),
            support::delete_pod_draft("hog_scenarios", "default", "p"),
        )
        .unwrap();
    }
    chaosdeck()
        .args(["execute-rollback", "-r", "abc", "--dir"])
        .arg(journal.root())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ambiguous"));
    chaosdeck()
        .args(["execute-rollback", "--file", "hog_scenarios_1_nosuchaa.yaml", "--dir"])
        .arg(journal.root())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a pending entry"));
}

#[test]
fn bad_config_names_file_line_and_column_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "kraken:\n  auto_rollback: True\ntunings:\n  iterations: lots\n")
        .unwrap();
    chaosdeck()
        .args(["run", "--config"])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("{}:4:", config.display())));
    chaosdeck()
        .args(["run", "--config", "/nonexistent/config.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/config.yaml: cannot read"));
}

/// `blok:` for `block:` used to run an outage blocking both directions (the default) instead of
/// the one reviewed; `duratoin:` was reported as a missing `duration` at the last key's line.
#[test]
fn a_misspelled_key_is_an_error_at_its_line_naming_the_likely_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "kraken:\n  chaos_scenarios:\n    - application_outages_scenarios:\n        - outage.yaml\nchaosdeck:\n  cluster: sandbox\n",
    )
    .unwrap();
    let scenario = dir.path().join("outage.yaml");
    let cases = [
        (
            "duration: 30\n  namespace: shop\n  blok: [Ingress]\n",
            4,
            "`blok` (did you mean `block`?)",
        ),
        ("duratoin: 30\n  namespace: shop\n", 2, "`duratoin` (did you mean `duration`?)"),
    ];
    for (body, line, wanted) in cases {
        std::fs::write(&scenario, format!("application_outage:\n  {body}")).unwrap();
        chaosdeck()
            .args(["run", "--headless", "--dry-run", "--config"])
            .arg(&config)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("{}:{line}:", scenario.display())))
            .stderr(predicate::str::contains(wanted));
    }
    let tunings = "kraken: {}\ntunings:\n  wait_duraton: 5\n";
    std::fs::write(&config, tunings).unwrap();
    chaosdeck()
        .args(["run", "--headless", "--dry-run", "--config"])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("{}:3:", config.display())))
        .stderr(predicate::str::contains("(did you mean `wait_duration`?)"));
}

#[test]
fn completions_are_generated() {
    chaosdeck()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("execute-rollback"));
}

#[test]
fn list_rollback_prints_runs_then_contexts_then_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rollback");
    support::runs::build(&root);
    let out = chaosdeck().args(["list-rollback", "--dir"]).arg(&root).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let (first, body) = text.split_once('\n').unwrap();
    assert_eq!(first, root.display().to_string());
    // One line per run, not per context.
    assert_eq!(body.matches(&format!("run {}", support::runs::OLD_RUN)).count(), 1);
    insta::assert_snapshot!("list_rollback_three_levels", body);
}

#[test]
fn list_rollback_json_carries_runs_and_the_flat_contexts() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rollback");
    support::runs::build(&root);
    let out = chaosdeck().args(["list-rollback", "--json", "--dir"]).arg(&root).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    let uuids: Vec<&str> = runs.iter().map(|r| r["run_uuid"].as_str().unwrap()).collect();
    assert_eq!(uuids, [support::runs::NEW_RUN, support::runs::OLD_RUN], "newest first");
    let new = &runs[0];
    assert_eq!(new["started"], "2026-12-01T11:00:00Z");
    assert_eq!(new["counts"]["pending"], 2);
    assert_eq!(new["counts"]["failed"], 1);
    let contexts = new["contexts"].as_array().unwrap();
    assert_eq!(contexts.len(), 2);
    assert_eq!(contexts[0]["scenario_type"], "service_disruption_scenarios");
    assert_eq!(contexts[0]["scenario_file"], "scenarios/svc.yml");
    let entries = contexts[0]["entries"].as_array().unwrap();
    assert_eq!(entries[0]["state"], "failed", "newest entry first");
    assert_eq!(entries[1]["state"], "pending");
    let old = &runs[1];
    assert_eq!(old["counts"]["orphaned"], 1);
    assert_eq!(old["counts"]["executed"], 2);
    assert_eq!(old["live"], false);
    // The flat list earlier versions printed is still there: every context, oldest first.
    let flat = v["contexts"].as_array().unwrap();
    assert_eq!(flat.len(), 4);
    assert_eq!(flat[0]["run_uuid"], support::runs::OLD_RUN);
    assert_eq!(flat[0]["entries"].as_array().unwrap().len(), 2);
    // A filter narrows every level.
    let out = chaosdeck()
        .args(["list-rollback", "--json", "-s", "node_scenarios", "--dir"])
        .arg(&root)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["contexts"].as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["counts"]["pending"], 1);
}

/// An entry's comment header says what a human reads first, but it is a comment: whatever a
/// listing says an entry undoes comes from its body. Here the header names a harmless delete
/// while the body re-creates a privileged pod in kube-system.
#[test]
fn list_rollback_shows_the_actions_of_an_entry_whose_header_lies() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-liar").unwrap();
    let evil = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "evil", "namespace": "kube-system"},
        "spec": {"hostPID": true, "containers": [{"name": "c", "image": "busybox",
            "securityContext": {"privileged": true}}]}});
    let written = ctx
        .write(
            ctx.mint("hog_scenarios"),
            chaosdeck::journal::EntryDraft {
                scenario_type: "hog_scenarios".into(),
                scenario_file: None,
                step: "created Pod default/cpu-hog".into(),
                undo: vec![chaosdeck::journal::UndoAction::Create { object: evil }],
            },
        )
        .unwrap();
    let text = std::fs::read_to_string(&written.path).unwrap();
    let lying = text.replace(
        "# Undo:    re-create Pod kube-system/evil",
        "# Undo:    delete Pod default/cpu-hog",
    );
    assert_ne!(lying, text, "the header line to forge moved");
    std::fs::write(&written.path, lying).unwrap();

    let out = chaosdeck().args(["list-rollback", "--dir"]).arg(journal.root()).assert().success();
    let listing = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(listing.contains("re-create Pod kube-system/evil"), "{listing}");
    assert!(!listing.contains("delete Pod default/cpu-hog"), "{listing}");
    let out = chaosdeck()
        .args(["list-rollback", "--json", "--dir"])
        .arg(journal.root())
        .assert()
        .success();
    let doc: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let undo = doc["contexts"][0]["entries"][0]["undo"].as_str().unwrap().to_string();
    assert_eq!(undo, "re-create Pod kube-system/evil", "{doc}");
}

/// An entry in a directory anyone may write is refused as ssh refuses such a key file: exit 2,
/// nothing executed, no cluster asked; `--allow-foreign-journal` says the operator means it.
/// As root, a file another user owns is refused too.
#[test]
fn a_crafted_entry_in_a_world_writable_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-shared").unwrap();
    let written = ctx
        .write(
            ctx.mint("hog_scenarios"),
            support::delete_pod_draft("hog_scenarios", "default", "p"),
        )
        .unwrap();
    std::fs::set_permissions(ctx.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = chaosdeck()
        .args(["execute-rollback", "--dir"])
        .arg(journal.root())
        .args(["--kubeconfig", "/nonexistent"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("is writable by everyone (mode 777)"), "{err}");
    assert!(err.contains("--allow-foreign-journal"), "{err}");
    assert!(!err.contains("kubeconfig"), "no cluster was asked: {err}");
    assert!(written.path.exists());
    chaosdeck()
        .args(["execute-rollback", "--dry-run", "--allow-foreign-journal", "--dir"])
        .arg(journal.root())
        .assert()
        .success()
        .stdout(predicate::str::contains("delete Pod default/p"));

    std::fs::set_permissions(ctx.dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(&written.path, Some(12345), None).unwrap();
        let out = chaosdeck()
            .args(["execute-rollback", "--dir"])
            .arg(journal.root())
            .args(["--kubeconfig", "/nonexistent"])
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains("belongs to uid 12345, not to you (uid 0)"), "{err}");
    }
}

/// A journal path that does not exist is a typo until shown otherwise: every journal command
/// says so and exits 2, instead of "nothing pending" (which reads as all clear).
#[test]
fn a_journal_directory_that_does_not_exist_is_bad_input_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-journal");
    for args in [
        vec!["list-rollback"],
        vec!["list-rollback", "--json"],
        vec!["execute-rollback"],
        vec!["execute-rollback", "--dry-run"],
        vec!["check"],
        vec!["reconcile", "--kubeconfig", "/nonexistent"],
        vec!["inspect"],
    ] {
        let out = chaosdeck().args(&args).arg("--dir").arg(&missing).assert().code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(
            err.contains(&format!("the journal directory {} does not exist", missing.display())),
            "{args:?}: {err}"
        );
    }
}

/// Without `--dir`, the default journal is read; when the sandbox demo's journal holds pending
/// entries, the command says where they are instead of reading as all clear.
#[test]
fn the_other_default_journal_is_named_when_it_holds_pending_entries() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state");
    let demo = Journal::open(state.join("chaosdeck/sandbox-rollback")).unwrap();
    let ctx = demo.begin_context("run-demo").unwrap();
    ctx.write(
        ctx.mint("hog_scenarios"),
        support::delete_pod_draft("hog_scenarios", "default", "p"),
    )
    .unwrap();
    Journal::open(state.join("chaosdeck/rollback")).unwrap();
    let out = chaosdeck().env("XDG_STATE_HOME", &state).arg("list-rollback").assert().success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("sandbox-rollback (the sandbox demo's journal) holds 1 pending entry"),
        "{err}"
    );
}
