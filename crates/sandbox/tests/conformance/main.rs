//! Differential conformance: the same interactions against the sandbox and a real API server
//! (kube-apiserver v1.36 with its controllers, `scripts/realcluster`), compared as normalized
//! observations (HTTP status, Status reason, message and details, the fields that matter;
//! never timestamps, uids or resourceVersions).
//!
//! `tests/data/conformance.json` holds the real server's observations, so plain `cargo test`
//! checks the sandbox against them with nothing but Rust. Each interaction named in
//! [`KNOWN_DIFFERENCES`] has the sandbox's own observation recorded there too, pinning it;
//! every other one must match the real server exactly. The ignored `real_*` test runs both
//! servers, fails on any divergence not declared (or declared and gone), and with
//! `CONFORMANCE_RECORD=1` rewrites the recording.

#[path = "../support/mod.rs"]
mod support;

mod ctx;
mod delete;
mod exec;
mod kubectl;
mod objects;
mod patch;
mod reads;
mod validation;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use ctx::Ctx;
use support::{Seed, Target, TestCluster};

/// One request (or a few) and what it observed, normalized.
pub struct Interaction {
    pub name: &'static str,
    /// Runs kubectl (the one built with the real control plane, `scripts/realcluster build`).
    pub kubectl: bool,
    /// Compacts the history: runs after the others, one at a time.
    pub alone: bool,
    pub run: fn(Ctx) -> BoxFuture<'static, Value>,
}

pub fn case(name: &'static str, run: fn(Ctx) -> BoxFuture<'static, Value>) -> Interaction {
    Interaction { name, kubectl: false, alone: false, run }
}

pub fn kubectl_case(name: &'static str, run: fn(Ctx) -> BoxFuture<'static, Value>) -> Interaction {
    Interaction { name, kubectl: true, alone: false, run }
}

pub fn compacting_case(
    name: &'static str,
    run: fn(Ctx) -> BoxFuture<'static, Value>,
) -> Interaction {
    Interaction { name, kubectl: false, alone: true, run }
}

/// Where the sandbox knowingly answers differently from a real API server, and why; each is
/// also listed in the crate docs (`crates/sandbox/src/lib.rs`). The sandbox's answer to each is
/// pinned by the recording.
pub const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    ("apply_conflict_between_managers_is_409", "server-side apply has no field ownership"),
    ("apply_updates_and_removes_owned_fields", "server-side apply has no field ownership"),
    ("cascade_foreground", "foreground deletion completes in the same step"),
    ("cascade_orphan", "orphan deletion completes in the same step"),
    ("delete_uid_precondition_mismatch_is_409", "older wording that chaosdeck's executor reads"),
    ("kubectl_apply_unknown_field", "no schemas: fieldValidation=Strict is ignored"),
    ("list_bad_continue_is_400", "continue tokens are not etcd keys"),
    ("list_exact_old_resource_version_is_410", "lists are always of the current state"),
    ("namespace_gets_kube_root_ca", "no root CA ConfigMap in new namespaces"),
    ("owner_reference_to_missing_owner_is_collected", "the collector only follows deletions"),
    ("watch_after_compaction_from_the_start_is_410", "no watch cache: 410 once compacted"),
    ("watch_after_compaction_is_410", "no watch cache: 410 once compacted"),
    ("watch_after_compaction_with_kube_rs", "no watch cache: 410 once compacted"),
];

fn all() -> Vec<Interaction> {
    let mut all = Vec::new();
    all.extend(objects::cases());
    all.extend(reads::cases());
    all.extend(patch::cases());
    all.extend(delete::cases());
    all.extend(validation::cases());
    all.extend(watch::cases());
    all.extend(kubectl::cases());
    all.extend(exec::cases());
    all
}

fn recording_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance.json")
}

fn recording() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(recording_path()).expect("tests/data/conformance.json");
    serde_json::from_str(&text).expect("the recording is JSON")
}

fn known(name: &str) -> bool {
    KNOWN_DIFFERENCES.iter().any(|(n, _)| *n == name)
}

/// Runs the interactions that `pick` selects, four at a time, each in its own namespace.
async fn observe(
    cluster: &TestCluster,
    pick: impl Fn(&Interaction) -> bool,
) -> BTreeMap<String, Value> {
    let kubectl_dir = tempfile::tempdir().unwrap();
    let cases: Vec<Interaction> = all().into_iter().filter(|i| pick(i)).collect();
    let kubectl = cases.iter().any(|i| i.kubectl).then(support::kubectl_binary);
    let (alone, together): (Vec<Interaction>, Vec<Interaction>) =
        cases.into_iter().partition(|i| i.alone);
    let run = |case: Interaction| {
        let ctx = Ctx::new(
            cluster.target,
            cluster.client(),
            cluster.kubeconfig().to_path_buf(),
            kubectl.clone(),
            kubectl_dir.path().join("cache"),
            cluster.compactor(),
            case.name,
        );
        async move {
            ctx.make_namespace().await;
            let seen = tokio::time::timeout(Duration::from_secs(120), (case.run)(ctx)).await;
            (case.name.to_string(), seen.unwrap_or_else(|_| json!({"timedOut": true})))
        }
    };
    let mut seen: BTreeMap<String, Value> =
        futures::stream::iter(together.into_iter().map(run)).buffer_unordered(4).collect().await;
    for case in alone {
        let (name, obs) = run(case).await;
        seen.insert(name, obs);
    }
    seen
}

/// Failures of `seen` (the sandbox) against the recording, one paragraph each.
fn check_sandbox(
    seen: &BTreeMap<String, Value>,
    recorded: &BTreeMap<String, Value>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, obs) in seen {
        let Some(rec) = recorded.get(name) else {
            failures.push(format!(
                "{name}: not in the recording (run the real_* test with CONFORMANCE_RECORD=1)"
            ));
            continue;
        };
        let (expected, what) = if known(name) {
            (&rec["sandbox"], "the sandbox's pinned answer (a known difference)")
        } else {
            (&rec["real"], "the real server's answer")
        };
        if obs != expected {
            failures.push(format!(
                "{name}: differs from {what}\n  expected: {}\n  sandbox:  {}",
                serde_json::to_string(expected).unwrap(),
                serde_json::to_string(obs).unwrap()
            ));
        }
    }
    failures
}

fn assert_no_failures(failures: Vec<String>) {
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_table_is_complete_and_the_recording_covers_it() {
    let all = all();
    assert!(all.len() >= 60, "{} interactions", all.len());
    let names: BTreeSet<&str> = all.iter().map(|i| i.name).collect();
    assert_eq!(names.len(), all.len(), "interaction names are unique");
    for (name, why) in KNOWN_DIFFERENCES {
        assert!(names.contains(name), "known difference {name} ({why}) is not an interaction");
    }
    let recorded = recording();
    for name in &names {
        let rec = recorded.get(*name);
        assert!(rec.is_some_and(|r| r.get("real").is_some()), "{name} has no recorded real answer");
        assert_eq!(
            rec.and_then(|r| r.get("sandbox")).is_some(),
            known(name),
            "{name}: a sandbox answer is recorded exactly for known differences"
        );
    }
    let stale: Vec<&String> = recorded.keys().filter(|k| !names.contains(k.as_str())).collect();
    assert!(stale.is_empty(), "recorded but no longer interactions: {stale:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_answers_as_the_recorded_real_server() {
    let cluster = TestCluster::start(Target::Sandbox, Seed::Demo).await;
    let seen = observe(&cluster, |i| !i.kubectl).await;
    cluster.shutdown().await;
    assert_no_failures(check_sandbox(&seen, &recording()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs kubectl"]
async fn sandbox_answers_kubectl_as_the_recorded_real_server() {
    let cluster = TestCluster::start(Target::Sandbox, Seed::Demo).await;
    let seen = observe(&cluster, |i| i.kubectl).await;
    cluster.shutdown().await;
    assert_no_failures(check_sandbox(&seen, &recording()));
}

/// Both servers, every interaction: the divergences must be exactly [`KNOWN_DIFFERENCES`].
/// `CONFORMANCE_RECORD=1` rewrites `tests/data/conformance.json` from this run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real control plane (Go; scripts/realcluster) and kubectl"]
async fn real_server_and_sandbox_differ_only_as_declared() {
    let real = TestCluster::start(Target::Real, Seed::Demo).await;
    let real_seen = observe(&real, |_| true).await;
    real.shutdown().await;
    let sandbox = TestCluster::start(Target::Sandbox, Seed::Demo).await;
    let sandbox_seen = observe(&sandbox, |_| true).await;
    sandbox.shutdown().await;

    let mut failures = Vec::new();
    let mut diverged = BTreeSet::new();
    for (name, obs) in &real_seen {
        let sb = &sandbox_seen[name];
        if sb != obs {
            diverged.insert(name.as_str());
            if !known(name) {
                failures.push(format!(
                    "{name}: diverges\n  real:    {}\n  sandbox: {}",
                    serde_json::to_string(obs).unwrap(),
                    serde_json::to_string(sb).unwrap()
                ));
            }
        }
    }
    for (name, _) in KNOWN_DIFFERENCES {
        if !diverged.contains(name) {
            failures.push(format!("{name}: declared a known difference but both now agree"));
        }
    }
    eprintln!("{} interactions, {} diverged: {diverged:?}", real_seen.len(), diverged.len());

    let record = std::env::var_os("CONFORMANCE_RECORD").is_some();
    if record {
        let rec: BTreeMap<&String, Value> = real_seen
            .iter()
            .map(|(name, obs)| {
                let mut entry = json!({"real": obs});
                // Every divergence gets the sandbox's answer, so that declaring it pins it.
                if sandbox_seen[name] != *obs {
                    entry["sandbox"] = sandbox_seen[name].clone();
                }
                (name, entry)
            })
            .collect();
        let text = serde_json::to_string_pretty(&rec).unwrap() + "\n";
        std::fs::write(recording_path(), text).unwrap();
    } else {
        let recorded = recording();
        for (name, obs) in &real_seen {
            if recorded.get(name).map(|r| &r["real"]) != Some(obs) {
                failures.push(format!(
                    "{name}: the real server answers differently from the recording (CONFORMANCE_RECORD=1 rewrites it)\n  now:      {}",
                    serde_json::to_string(obs).unwrap()
                ));
            }
        }
    }
    assert_no_failures(failures);
}
