//! Journal benchmarks (run with `cargo bench --bench journal`), printing:
//! (a) median durable write of one entry vs. a bare temp+fsync+rename+dir-fsync of the same
//!     bytes on the same disk (goal: ratio ≤ 1.5);
//! (b) scanning and listing 10,000 entries in 1,000 contexts (goal: < 100 ms).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use chaosdeck::cli::list;
use chaosdeck::journal::{Depth, EntryDraft, Filter, Journal, ObjectRef, UndoAction, scan_with};

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
    let mut n = 0;
    for c in 0..1000 {
        let ctx = big.begin_context(&format!("run-{:04}", c % 50)).unwrap();
        for _ in 0..10 {
            let name = ctx.mint("hog_scenarios");
            // Skip the per-entry fsyncs here: this part measures reading, not writing.
            let text = chaosdeck::journal::Entry {
                format: 1,
                run_uuid: ctx.run_uuid().to_string(),
                scenario_type: "hog_scenarios".into(),
                scenario_file: None,
                step: draft(n).step,
                created_at: "2026-11-22T03:00:00Z".into(),
                writer: chaosdeck::journal::entry::Writer { pid: 1, host: "bench".into() },
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
            fs::write(ctx.dir().join(name.pending_file_name()), text).unwrap();
            n += 1;
        }
    }
    let mut times = Vec::new();
    let mut lines = 0;
    for _ in 0..15 {
        let t = Instant::now();
        let tree = scan_with(big.root(), Depth::Headers).unwrap();
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
}
