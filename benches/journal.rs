//! Journal benchmarks (run with `cargo bench --bench journal`), printing:
//! (a) median durable write of one entry vs. a bare temp+fsync+rename+dir-fsync of the same
//!     bytes on the same disk (goal: ratio ≤ 1.5);
//! (b) scanning and listing 10,000 entries in 1,000 contexts (goal: < 100 ms);
//! (c) the real release binary on that journal: `chaosdeck list-rollback` and `--json` (output
//!     to /dev/null) next to `find <dir> -type f` over the same tree (goal: ≤ 2× find, issue 13
//!     part 6), `grep -rl` over the same tree, the floor for anything that reads every file
//!     (find only lists names; a listing must open each entry for its undo summary and writer),
//!     `find -printf` stating every file, the floor of a listing cache that would still notice
//!     an entry edited in place, and `chaosdeck --version`, the start-up floor of any subcommand.
//!
//! The journal of (b) and (c) is shaped like a real one after a few game days: 50 runs, most
//! entries executed, some pending (their writer this process, or a process that is gone), a few
//! with the record of a failed undo.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chaosdeck::cli::list;
use chaosdeck::journal::{
    Depth, EntryDraft, Filter, Journal, ObjectRef, UndoAction, scan_with, transitions,
};

fn draft(i: usize) -> EntryDraft {
    EntryDraft {
        scenario_type: "hog_scenarios".into(),
        scenario_file: Some("config/scenarios/cpu-hog.yml".into()),
        step: format!("created Pod default/cpu-hog-{i:05} on worker-{}", i % 7),
        undo: vec![UndoAction::Delete {
            target: ObjectRef::new("v1", "Pod", Some("default"), &format!("cpu-hog-{i:05}")),
            uid: Some(format!("5f0c0d6e-0000-4000-8000-{i:012}")),
            require_labels: BTreeMap::new(),
        }],
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bare_durable_write(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
    fs::rename(&tmp, dir.join(name)).unwrap();
    File::open(dir).unwrap().sync_all().unwrap();
}

fn main() {
    let base = std::env::var_os("CARGO_TARGET_TMPDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "target".into());
    fs::create_dir_all(&base).unwrap();
    let tmp = tempfile::tempdir_in(&base).unwrap();
    println!("journal bench on {}", tmp.path().display());

    // (a) durable write vs bare write, interleaved so both see the same disk conditions.
    let journal = Journal::open(tmp.path().join("write")).unwrap();
    let ctx = journal.begin_context("bench-run").unwrap();
    let bare_dir = tmp.path().join("bare");
    fs::create_dir_all(&bare_dir).unwrap();
    let sample = ctx.write(ctx.mint("hog_scenarios"), draft(0)).unwrap();
    let bytes = fs::read(&sample.path).unwrap();
    let rounds = 300;
    let (mut ours, mut bare) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for i in 0..rounds {
        let t = Instant::now();
        ctx.write(ctx.mint("hog_scenarios"), draft(i)).unwrap();
        ours.push(t.elapsed());
        let t = Instant::now();
        bare_durable_write(&bare_dir, &format!("bare_{i}.yaml"), &bytes);
        bare.push(t.elapsed());
    }
    let (m_ours, m_bare) = (median(ours), median(bare));
    println!(
        "(a) durable entry write: median {:.1} µs; bare temp+fsync+rename+dir-fsync of the same {} bytes: median {:.1} µs; ratio {:.2} (goal ≤ 1.5)",
        m_ours.as_secs_f64() * 1e6,
        bytes.len(),
        m_bare.as_secs_f64() * 1e6,
        m_ours.as_secs_f64() / m_bare.as_secs_f64()
    );

    // (b) 10,000 entries in 1,000 contexts: scan + build the list-rollback text.
    let big = Journal::open(tmp.path().join("big")).unwrap();
    build_big(&big);
    let mut times = Vec::new();
    let mut lines = 0;
    for _ in 0..15 {
        let t = Instant::now();
        let tree = scan_with(big.root(), Depth::Full).unwrap();
        let shown = list::select(&tree, &Filter::default());
        let text = list::render_tree(&tree, &shown);
        times.push(t.elapsed());
        lines = text.lines().count();
        assert_eq!(tree.entries().count(), 10_000);
    }
    let sorted = {
        let mut t = times.clone();
        t.sort();
        t
    };
    println!(
        "(b) scan + list of 10,000 entries in 1,000 contexts ({lines} lines): median {:.1} ms, min {:.1} ms (goal < 100 ms)",
        median(times).as_secs_f64() * 1e3,
        sorted[0].as_secs_f64() * 1e3
    );

    list_rollback_vs_find(big.root());
    // For profiling by hand: `CHAOSDECK_BENCH_KEEP=1` leaves the journals in place.
    if std::env::var_os("CHAOSDECK_BENCH_KEEP").is_some() {
        println!("kept: {}", tmp.keep().display());
    }
}

/// 1,000 contexts of 10 entries in 50 runs; per context 7 executed and 3 pending, the pending
/// ones written by this process (live) in even runs and by a process that is gone in odd ones;
/// every tenth context has a failed undo on record.
fn build_big(big: &Journal) {
    let host = chaosdeck::journal::entry::Writer::current().host;
    // Far above any pid_max: no process has it, so its entries read as orphaned.
    let gone_pid = 1 << 30;
    let mut n = 0;
    for c in 0..1000 {
        let run = c % 50;
        let ctx = big.begin_context(&format!("run-{run:04}")).unwrap();
        let pid = if run % 2 == 0 { std::process::id() } else { gone_pid };
        for i in 0..10 {
            let name = ctx.mint("hog_scenarios");
            // Skip the per-entry fsyncs here: this part measures reading, not writing.
            let text = chaosdeck::journal::Entry {
                format: 1,
                run_uuid: ctx.run_uuid().to_string(),
                scenario_type: "hog_scenarios".into(),
                scenario_file: Some("config/scenarios/cpu-hog.yml".into()),
                step: draft(n).step,
                created_at: "2026-11-22T03:00:00Z".into(),
                writer: chaosdeck::journal::entry::Writer { pid, host: host.clone() },
                cluster: Some(chaosdeck::refs::ClusterIdentity {
                    context: "bench".into(),
                    server: "https://127.0.0.1:6443/".into(),
                    kube_system_uid: Some("6c2f0d3e-1a8b-4f57-9e0c-3b7d5a4e2f10".into()),
                }),
                undo: draft(n).undo,
                not_applied: None,
                mirror: None,
                undone_by: None,
            }
            .render(&name.pending_file_name())
            .unwrap();
            let pending = ctx.dir().join(name.pending_file_name());
            let file = if i < 7 { transitions::executed_path(&pending) } else { pending.clone() };
            fs::write(&file, text).unwrap();
            if i == 9 && c % 10 == 0 {
                let record = transitions::ErrorRecord {
                    failed_at: "2026-11-22T03:05:00Z".into(),
                    attempts: 1,
                    error: format!("Pod default/cpu-hog-{n:05}: delete failed: timeout"),
                    by: chaosdeck::journal::entry::Writer { pid, host: host.clone() },
                };
                fs::write(
                    transitions::error_path(&pending),
                    serde_saphyr::to_string(&record).unwrap(),
                )
                .unwrap();
            }
            n += 1;
        }
    }
}

/// Median wall time of `runs` runs of `cmd`, its output thrown away.
fn median_of(runs: usize, mut cmd: impl FnMut() -> Command) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut c = cmd();
        c.stdout(Stdio::null()).stderr(Stdio::null());
        let t = Instant::now();
        let status = c.status().unwrap();
        times.push(t.elapsed());
        assert!(status.success(), "{c:?} failed");
    }
    median(times)
}

/// (c): the real binary against `find`, interleaved round by round so both see the same page
/// cache and the same neighbours on a shared machine.
fn list_rollback_vs_find(root: &Path) {
    let bin = Path::new(env!("CARGO_BIN_EXE_chaosdeck"));
    let files = walk_count(root);
    let list = |json: bool| {
        move || {
            let mut c = Command::new(bin);
            c.args(["list-rollback", "--dir"]).arg(root);
            if json {
                c.arg("--json");
            }
            c
        }
    };
    let find = || {
        let mut c = Command::new("find");
        c.arg(root).args(["-type", "f"]);
        c
    };
    // What a listing cache would cost at best: to notice an entry edited in place (an editor
    // that writes in place, `>>`) it has to stat every file; the directory's own times only
    // change on create, rename and delete.
    let find_stat = || {
        let mut c = Command::new("find");
        c.arg(root).args(["-type", "f", "-printf", "%s %C@ %T@ %i\\n"]);
        c
    };
    let grep = || {
        let mut c = Command::new("grep");
        c.args(["-rl", "^format:"]).arg(root);
        c
    };
    let version = || {
        let mut c = Command::new(bin);
        c.arg("--version");
        c
    };
    // Warm the page cache and the binary.
    for _ in 0..3 {
        median_of(1, find);
        median_of(1, list(true));
    }
    let (mut t_find, mut t_text, mut t_json, mut t_version) = (vec![], vec![], vec![], vec![]);
    let (mut t_grep, mut t_find_stat) = (vec![], vec![]);
    for _ in 0..15 {
        t_find.push(median_of(1, find));
        t_find_stat.push(median_of(1, find_stat));
        t_grep.push(median_of(1, grep));
        t_text.push(median_of(1, list(false)));
        t_json.push(median_of(1, list(true)));
        t_version.push(median_of(1, version));
    }
    let (find, text, json, version) =
        (median(t_find), median(t_text), median(t_json), median(t_version));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("(c) the release binary on that journal ({files} files), medians of 15:");
    println!("    find <dir> -type f:             {:6.1} ms", ms(find));
    let find_stat = median(t_find_stat);
    println!(
        "    find -printf (stats each file): {:6.1} ms  ({:.2}x find; floor of a cache that notices edits)",
        ms(find_stat),
        find_stat.as_secs_f64() / find.as_secs_f64()
    );
    let grep_median = median(t_grep);
    println!("    grep -rl '^format:' <dir>:      {:6.1} ms  (reads every file)", ms(grep_median));
    println!("    chaosdeck --version:            {:6.1} ms", ms(version));
    println!(
        "    chaosdeck list-rollback:        {:6.1} ms  ({:.2}x find, goal ≤ 2x; {:.2}x grep)",
        ms(text),
        text.as_secs_f64() / find.as_secs_f64(),
        text.as_secs_f64() / grep_median.as_secs_f64()
    );
    println!(
        "    chaosdeck list-rollback --json: {:6.1} ms  ({:.2}x find, goal ≤ 2x; {:.2}x grep)",
        ms(json),
        json.as_secs_f64() / find.as_secs_f64(),
        json.as_secs_f64() / grep_median.as_secs_f64()
    );
}

fn walk_count(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| if e.file_type().unwrap().is_dir() { walk_count(&e.path()) } else { 1 })
        .sum()
}
