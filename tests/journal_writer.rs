//! The journal writer: uniqueness and order under concurrency, permissions, crash safety.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use chaosdeck::journal::{EntryDraft, Journal, ObjectRef, UndoAction, scan};
use proptest::prelude::*;

fn draft(step: String) -> EntryDraft {
    EntryDraft {
        scenario_type: "hog_scenarios".into(),
        scenario_file: None,
        step,
        undo: vec![UndoAction::Delete {
            target: ObjectRef::new("v1", "Pod", Some("default"), "cpu-hog-x"),
            uid: None,
            require_labels: BTreeMap::new(),
        }],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Krkn D1/D2: concurrent writers in one context never lose or overwrite an entry, and each
    /// writer's entries come back in the order it wrote them.
    #[test]
    fn concurrent_writers_lose_nothing_and_keep_order(tasks in 2usize..12, per_task in 1usize..25) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path().join("rollback")).unwrap();
        let ctx = Arc::new(journal.begin_context("run-1").unwrap());
        rt.block_on(async {
            let mut handles = Vec::new();
            for t in 0..tasks {
                let ctx = ctx.clone();
                handles.push(tokio::spawn(async move {
                    for i in 0..per_task {
                        let name = ctx.mint("hog_scenarios");
                        ctx.write(name, draft(format!("task {t} step {i}"))).unwrap();
                    }
                }));
            }
            for h in handles { h.await.unwrap(); }
        });
        let tree = scan(journal.root()).unwrap();
        prop_assert_eq!(tree.contexts.len(), 1);
        let entries = &tree.contexts[0].entries;
        prop_assert_eq!(entries.len(), tasks * per_task);
        let names: HashSet<_> = entries.iter().map(|e| e.file_name.clone()).collect();
        prop_assert_eq!(names.len(), tasks * per_task);
        // Entries come back in creation order: per task, steps are increasing.
        let mut last_step: BTreeMap<usize, usize> = BTreeMap::new();
        for e in entries {
            let chaosdeck::journal::scan::EntryBody::Chaosdeck(body) = &e.body else { panic!("unparsed {}", e.file_name) };
            let mut words = body.step.split(' ');
            let t: usize = words.nth(1).unwrap().parse().unwrap();
            let i: usize = words.nth(1).unwrap().parse().unwrap();
            if let Some(prev) = last_step.insert(t, i) { prop_assert!(prev < i, "task {} wrote {} before {}", t, prev, i); }
        }
    }
}

#[test]
fn journal_dirs_are_0700_and_entries_0600() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("state/rollback")).unwrap();
    let ctx = journal.begin_context("run-2").unwrap();
    let name = ctx.mint("hog_scenarios");
    let written = ctx.write(name, draft("one".into())).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(journal.root()), 0o700);
    assert_eq!(mode(ctx.dir()), 0o700);
    assert_eq!(mode(&written.path), 0o600);
}

#[test]
fn a_symlinked_context_is_reported_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rollback");
    let journal = Journal::open(&root).unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("hog_scenarios_1_abcdefgh.yaml"), "not ours").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("123-run-x")).unwrap();
    let tree = scan(journal.root()).unwrap();
    assert!(tree.contexts.is_empty());
    assert_eq!(tree.unknown.len(), 1);
    assert!(tree.unknown[0].reason.contains("symbolic link"));
}

#[test]
fn retire_marks_only_its_own_entry() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path().join("rollback")).unwrap();
    let failed_ctx = journal.begin_context("run-3").unwrap();
    let left = failed_ctx.write(failed_ctx.mint("hog_scenarios"), draft("file 1".into())).unwrap();
    let ok_ctx = journal.begin_context("run-3").unwrap();
    let done = ok_ctx.write(ok_ctx.mint("hog_scenarios"), draft("file 2".into())).unwrap();
    ok_ctx.retire(&done).unwrap();
    // Krkn D7 would delete file 1's pending entry too; it must survive.
    assert!(left.path.exists());
    let tree = scan(journal.root()).unwrap();
    let states: Vec<_> = tree.entries().map(|(_, e)| e.state.as_str()).collect();
    assert_eq!(states, ["pending", "executed"]);
}

/// Child half of the crash test (run only by the parent): writes entries forever, printing
/// each path once durable.
#[test]
#[ignore = "spawned by sigkill_during_writes_leaves_no_torn_entry"]
fn crash_child_writer() {
    let Ok(root) = std::env::var("CHAOSDECK_CRASH_CHILD_DIR") else { return };
    let journal = Journal::open(root).unwrap();
    let ctx = journal.begin_context("crash-run").unwrap();
    for i in 0.. {
        let written = ctx
            .write(ctx.mint("hog_scenarios"), draft(format!("entry {i} {}", "x".repeat(i % 4000))))
            .unwrap();
        println!("DURABLE {}", written.path.display());
    }
}

/// SIGKILL a writer mid-stream, many times: every acknowledged entry is on disk and parses, and
/// no `.yaml` file is ever torn (an interrupted write leaves only a `.tmp`, listed as unknown).
#[test]
fn sigkill_during_writes_leaves_no_torn_entry() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    for round in 0..6u64 {
        let root = dir.path().join(format!("round{round}"));
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child_writer", "--ignored", "--nocapture", "--test-threads=1"])
            .env("CHAOSDECK_CRASH_CHILD_DIR", &root)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let threshold = (20 + round * 37) as usize;
        let mut acknowledged = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(path) = line.strip_prefix("DURABLE ") {
                acknowledged.push(path.to_string());
            }
            if acknowledged.len() >= threshold {
                // SIGKILL: no destructor, no flush, no signal handler runs.
                unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
                break;
            }
        }
        // The child writes forever: it must have reached the threshold, and it must have been
        // still writing when the kill came (killed by the signal, not exited on its own).
        assert_eq!(acknowledged.len(), threshold, "round {round}: the writer stopped early");
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL),
            "round {round}: the writer was not killed mid-stream: {status:?}"
        );
        let tree = scan(&root).unwrap();
        let all: Vec<_> = tree.entries().collect();
        for path in &acknowledged {
            assert!(
                all.iter().any(|(_, e)| e.path.to_string_lossy() == *path),
                "acknowledged {path} lost"
            );
        }
        for (_, e) in &all {
            assert!(
                !matches!(e.body, chaosdeck::journal::scan::EntryBody::Invalid(_)),
                "torn entry {} after SIGKILL: {}",
                e.file_name,
                e.summary()
            );
        }
        for u in tree.contexts.iter().flat_map(|c| &c.unknown) {
            assert!(u.reason.contains("unfinished write"), "unexpected file {:?}", u);
        }
    }
}
