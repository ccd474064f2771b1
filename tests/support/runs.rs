//! A small journal with fixed names and contents, two runs of two contexts each, for the
//! run → context → entry views (TUI tree, Inspector, `list-rollback`).

use std::path::{Path, PathBuf};

use chaosdeck::journal::entry::Writer;
use chaosdeck::journal::lock::{DEFAULT_PATIENCE, lock_context_blocking};
use chaosdeck::journal::names::{EntryName, Flavor};
use chaosdeck::journal::{EntryDraft, Journal, ObjectRef, UndoAction, transitions};
use serde_json::json;

/// The older run: one context all undone, one with an orphaned entry (its writer is gone).
pub const OLD_RUN: &str = "6c24a5b5-0d1e-4c7a-9f00-1a2b3c4d5e6f";
/// The newer run: a patch entry, a re-create entry and a failed one.
pub const NEW_RUN: &str = "9f3e7d21-5b8c-4e2f-a1d0-6e5f4d3c2b1a";
/// 2026-12-01 10:00:00 UTC.
const T0: u64 = 1_796_119_200_000_000_000;
const MIN: u64 = 60_000_000_000;

/// One entry to write: its time, suffix, draft, and what happens to it afterwards.
struct Spec {
    ts: u64,
    suffix: &'static str,
    draft: EntryDraft,
    then: Then,
}

enum Then {
    Stay,
    Retire,
    Fail(&'static str),
    /// Pending, written by a process on this host that no longer runs.
    Orphan,
}

fn draft(scenario: &str, file: &str, step: &str, undo: UndoAction) -> EntryDraft {
    EntryDraft {
        scenario_type: scenario.into(),
        scenario_file: Some(file.into()),
        step: step.into(),
        undo: vec![undo],
    }
}

fn delete_pod(name: &str) -> UndoAction {
    UndoAction::Delete {
        target: ObjectRef::new("v1", "Pod", Some("demo"), name),
        uid: None,
        require_labels: Default::default(),
    }
}

/// The patch entry of [`NEW_RUN`]: chaosdeck scaled `demo/web` to 0 and paused it.
pub fn scale_patch() -> UndoAction {
    UndoAction::Patch {
        target: ObjectRef::new("apps/v1", "Deployment", Some("demo"), "web"),
        restore: json!({"spec": {"replicas": 3, "paused": null}}),
        guard: json!({"spec": {"replicas": 0, "paused": true}}),
    }
}

/// Writes the journal under `root`; returns the path of each entry by suffix, as it is now.
pub fn build(root: &Path) -> Vec<(&'static str, PathBuf)> {
    let journal = Journal::open(root).unwrap();
    let contexts: Vec<(&str, u64, Vec<Spec>)> = vec![
        (
            OLD_RUN,
            T0,
            vec![
                Spec {
                    ts: T0 + 1,
                    suffix: "olda0001",
                    draft: draft(
                        "pod_disruption_scenarios",
                        "scenarios/pod.yml",
                        "deleted Pod demo/web-1",
                        delete_pod("web-1-chaos"),
                    ),
                    then: Then::Retire,
                },
                Spec {
                    ts: T0 + 2,
                    suffix: "olda0002",
                    draft: draft(
                        "pod_disruption_scenarios",
                        "scenarios/pod.yml",
                        "deleted Pod demo/web-2",
                        delete_pod("web-2-chaos"),
                    ),
                    then: Then::Retire,
                },
            ],
        ),
        (
            OLD_RUN,
            T0 + 5 * MIN,
            vec![Spec {
                ts: T0 + 5 * MIN + 1,
                suffix: "oldb0001",
                draft: draft(
                    "node_scenarios",
                    "scenarios/node.yml",
                    "tainted Node worker-1",
                    delete_pod("node-hog"),
                ),
                then: Then::Orphan,
            }],
        ),
        (
            NEW_RUN,
            T0 + 60 * MIN,
            vec![Spec {
                ts: T0 + 60 * MIN + 1,
                suffix: "newa0001",
                draft: draft(
                    "application_outages_scenarios",
                    "scenarios/app_outage.yaml",
                    "scaled Deployment demo/web to 0 and paused it",
                    scale_patch(),
                ),
                then: Then::Stay,
            }],
        ),
        (
            NEW_RUN,
            T0 + 62 * MIN,
            vec![
                Spec {
                    ts: T0 + 62 * MIN + 1,
                    suffix: "newb0001",
                    draft: draft(
                        "service_disruption_scenarios",
                        "scenarios/svc.yml",
                        "deleted ConfigMap demo/settings",
                        UndoAction::Create {
                            object: json!({
                                "apiVersion": "v1",
                                "kind": "ConfigMap",
                                "metadata": {"name": "settings", "namespace": "demo",
                                             "uid": "0f0e", "resourceVersion": "812",
                                             "labels": {"app": "web"}},
                                "data": {"mode": "fast", "retries": "3"}
                            }),
                        },
                    ),
                    then: Then::Stay,
                },
                Spec {
                    ts: T0 + 62 * MIN + 2,
                    suffix: "newb0002",
                    draft: draft(
                        "service_disruption_scenarios",
                        "scenarios/svc.yml",
                        "created Pod demo/blocker",
                        delete_pod("blocker"),
                    ),
                    then: Then::Fail("pods \"blocker\" is forbidden"),
                },
            ],
        ),
    ];
    let mut paths = Vec::new();
    for (run, ctx_ts, specs) in contexts {
        let ctx = journal.begin_context(run).unwrap();
        let fixed_dir = root.join(format!("{ctx_ts}-{run}"));
        let mut written = Vec::new();
        for spec in specs {
            let name = EntryName {
                flavor: Flavor::Chaosdeck,
                scenario_type: spec.draft.scenario_type.clone(),
                ts_ns: spec.ts,
                suffix: spec.suffix.into(),
                executed: false,
            };
            let w = ctx.write(name, spec.draft).unwrap();
            // Fixed writer and time, so that views of these files never change.
            let mut entry = w.entry.clone();
            entry.created_at = "2026-12-01T10:00:00Z".into();
            entry.writer = match spec.then {
                Then::Orphan => Writer { pid: 999_999_999, host: Writer::current().host },
                _ => Writer { pid: 4242, host: "gameday-laptop".into() },
            };
            let file_name = w.path.file_name().unwrap().to_string_lossy().into_owned();
            std::fs::write(&w.path, entry.render(&file_name).unwrap()).unwrap();
            written.push((spec.suffix, file_name, spec.then));
        }
        let dir = ctx.dir().to_path_buf();
        drop(ctx);
        std::fs::rename(&dir, &fixed_dir).unwrap();
        for (suffix, file_name, then) in written {
            let path = fixed_dir.join(&file_name);
            let path = match then {
                Then::Retire => {
                    transitions::retire(&path).unwrap();
                    transitions::executed_path(&path)
                }
                Then::Fail(error) => {
                    fail(&path, error);
                    path
                }
                Then::Stay | Then::Orphan => path,
            };
            paths.push((suffix, path));
        }
    }
    paths
}

/// Records a failed undo of `path`, as the executor does.
pub fn fail(path: &Path, error: &str) {
    let lock = lock_context_blocking(path.parent().unwrap(), DEFAULT_PATIENCE).unwrap();
    lock.record_failure(path, error).unwrap();
}

pub fn path_of(paths: &[(&str, PathBuf)], suffix: &str) -> PathBuf {
    paths.iter().find(|(s, _)| *s == suffix).map(|(_, p)| p.clone()).unwrap()
}
