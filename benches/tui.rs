//! TUI benchmarks (`cargo bench --bench tui`), printing:
//! (a) render time of one frame with 10,000 journal entries and 20 scenarios (goal ≤ 2 ms),
//!     grouped run → context → entry: 50 runs of 20 contexts, and one run of 1,000 contexts;
//!     and the regrouping a rescan costs (once per journal change, not per frame),
//! (b) key-to-frame time while engine events stream in (goal ≤ 16 ms),
//! (c) idle CPU and (d) RSS of the real `chaosdeck inspect` on that journal under tmux
//!     (goals < 1 % and ≤ 40 MB), and (e) the time of `chaosdeck list-rollback` on it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chaosdeck::engine::{EngineEvent, EngineState};
use chaosdeck::journal::entry::Writer;
use chaosdeck::journal::{Depth, Entry, Journal, ObjectRef, UndoAction, scan_with};
use chaosdeck::tui::app::{App, Header, Mode};
use chaosdeck::tui::theme::Theme;
use chaosdeck::tui::update::{apply_event, handle_key};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// 1,000 contexts of 10 entries each, spread over `runs` runs.
fn build_journal(root: &Path, runs: usize) {
    let journal = Journal::open(root).unwrap();
    for c in 0..1000 {
        let ctx = journal.begin_context(&format!("run-{:04}", c % runs)).unwrap();
        for i in 0..10 {
            let name = ctx.mint("hog_scenarios");
            let entry = Entry {
                format: 1,
                run_uuid: ctx.run_uuid().to_string(),
                scenario_type: "hog_scenarios".into(),
                scenario_file: None,
                step: format!("created Pod default/cpu-hog-{c}-{i}"),
                created_at: "2026-11-22T03:00:00Z".into(),
                writer: Writer { pid: 1, host: "bench".into() },
                cluster: None,
                undo: vec![UndoAction::Delete {
                    target: ObjectRef::new(
                        "v1",
                        "Pod",
                        Some("default"),
                        &format!("cpu-hog-{c}-{i}"),
                    ),
                    uid: None,
                    require_labels: BTreeMap::new(),
                }],
                not_applied: None,
                mirror: None,
                undone_by: None,
            };
            std::fs::write(
                ctx.dir().join(name.pending_file_name()),
                entry.render(&name.pending_file_name()).unwrap(),
            )
            .unwrap();
        }
    }
}

fn app_with_scenarios(root: &Path) -> App {
    let header = Header {
        context: "chaosdeck-sandbox".into(),
        is_sandbox: true,
        run_uuid: Some("run-0001".into()),
        auto_rollback: true,
        iterations: 1,
        ..Default::default()
    };
    let mut app = App::new(Mode::Run, header, Theme { color: true });
    apply_event(
        &mut app,
        &EngineEvent::RunStarted {
            run_uuid: "run-0001".into(),
            journal: root.to_path_buf(),
            scenarios: (0..20)
                .map(|i| (format!("hog_scenarios_{i}"), format!("s{i}.yml").into()))
                .collect(),
        },
    );
    apply_event(&mut app, &EngineEvent::State(EngineState::Running));
    app.set_tree(scan_with(root, Depth::Full).unwrap());
    app
}

fn frame_times(terminal: &mut Terminal<TestBackend>, app: &mut App, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            terminal.draw(|f| chaosdeck::tui::render::draw(f, app)).unwrap();
            t.elapsed()
        })
        .collect()
}

/// The case the grouping is for: one run of 1,000 contexts used to be 1,000 identical rows.
fn one_run_of_1000_contexts(base: &Path) {
    let tmp = tempfile::tempdir_in(base).unwrap();
    let root = tmp.path().join("journal");
    build_journal(&root, 1);
    let mut app = App::new(Mode::Inspect, Header::default(), Theme { color: true });
    app.set_tree(scan_with(&root, Depth::Full).unwrap());
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal.draw(|f| chaosdeck::tui::render::draw(f, &mut app)).unwrap();
    let folded = median(frame_times(&mut terminal, &mut app, 200));
    app.tree_view.open(&["run-0000"]);
    let open = median(frame_times(&mut terminal, &mut app, 200));
    println!(
        "    one run of 1,000 contexts / 10,000 entries: 1 row, median {:.3} ms; the run \
         unfolded (1,001 rows): median {:.3} ms",
        ms(folded),
        ms(open)
    );
}

/// Median wall time of `chaosdeck list-rollback` (text and --json) on the journal at `root`.
fn list_rollback_times(bin: &Path, root: &Path) {
    for json in [false, true] {
        let mut times = Vec::new();
        for _ in 0..10 {
            let mut cmd = Command::new(bin);
            cmd.args(["list-rollback", "--dir"]).arg(root);
            if json {
                cmd.arg("--json");
            }
            let t = Instant::now();
            let out = cmd.output().unwrap();
            times.push(t.elapsed());
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        println!(
            "(e) `chaosdeck list-rollback{}` on the 10,000-entry journal: median {:.1} ms",
            if json { " --json" } else { "" },
            ms(median(times))
        );
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let base = std::env::var_os("CARGO_TARGET_TMPDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "target".into());
    std::fs::create_dir_all(&base).unwrap();
    let tmp = tempfile::tempdir_in(&base).unwrap();
    let root = tmp.path().join("journal");
    build_journal(&root, 50);
    let mut app = app_with_scenarios(&root);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal.draw(|f| chaosdeck::tui::render::draw(f, &mut app)).unwrap();

    // (a) one frame, as the loop draws it (this run's 20 contexts open = 220 rows).
    let mut frames = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        terminal.draw(|f| chaosdeck::tui::render::draw(f, &mut app)).unwrap();
        frames.push(t.elapsed());
    }
    println!(
        "(a) frame with 10,000 entries / 1,000 contexts in 50 runs and 20 scenarios, 160x48 \
         (this run and its 20 contexts open: 270 rows): median {:.3} ms (goal ≤ 2 ms)",
        ms(median(frames))
    );
    // Worst case: every run and context unfolded (50 + 1,000 + 10,000 rows in the tree).
    for ctx in &app.tree.contexts {
        app.tree_view.open(&[&ctx.name.run_uuid]);
        app.tree_view.open(&[&ctx.name.run_uuid, &ctx.dir_name]);
    }
    println!(
        "    all runs and contexts unfolded (11,050 rows): median {:.3} ms",
        ms(median(frame_times(&mut terminal, &mut app, 50)))
    );
    let mut rebuilds = Vec::new();
    for _ in 0..20 {
        let tree = app.tree.clone();
        let t = Instant::now();
        app.set_tree(tree);
        rebuilds.push(t.elapsed());
    }
    println!(
        "    regrouping after a rescan (10,000 entries into runs → contexts → items): median {:.3} ms",
        ms(median(rebuilds))
    );
    one_run_of_1000_contexts(&base);

    // (b) key to frame while the engine streams events: 100 events, then `j` and a frame.
    let down = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
    let mut latencies = Vec::new();
    for round in 0..200u64 {
        for i in 0..100u64 {
            apply_event(
                &mut app,
                &EngineEvent::ScenarioProgress {
                    index: (i % 20) as usize,
                    elapsed: Duration::from_millis(round * 10 + i),
                    expected: Duration::from_secs(60),
                },
            );
            apply_event(&mut app, &EngineEvent::Log(format!("event {round}-{i}")));
        }
        let t = Instant::now();
        handle_key(&mut app, down);
        terminal.draw(|f| chaosdeck::tui::render::draw(f, &mut app)).unwrap();
        latencies.push(t.elapsed());
    }
    let max = latencies.iter().max().copied().unwrap_or_default();
    println!(
        "(b) key to frame with 100 engine events per frame: median {:.3} ms, max {:.3} ms (goal ≤ 16 ms)",
        ms(median(latencies)),
        ms(max)
    );

    let bin = Path::new(env!("CARGO_BIN_EXE_chaosdeck"));
    list_rollback_times(bin, &root);

    // (c)/(d) the real binary, idle in a real terminal.
    let socket = format!("chaosdeck-bench-{}", std::process::id());
    let tmux = |args: &[&str]| Command::new("tmux").args(["-L", &socket]).args(args).output();
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        "b",
        "-x",
        "160",
        "-y",
        "48",
        &format!("{} inspect --dir {}", bin.display(), root.display()),
    ]);
    if !started.as_ref().is_ok_and(|o| o.status.success()) {
        println!("(c)/(d) skipped: tmux is not available");
        return;
    }
    std::thread::sleep(Duration::from_secs(3));
    let pid = tmux(&["display", "-p", "-t", "b", "#{pane_pid}"])
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().ok());
    let Some(pid) = pid else {
        println!("(c)/(d) skipped: no pane pid");
        return;
    };
    let ticks = || -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = after.split_whitespace().collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    };
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let window = Duration::from_secs(10);
    let (Some(t0), start) = (ticks(), Instant::now()) else { return };
    std::thread::sleep(window);
    let Some(t1) = ticks() else { return };
    let cpu = (t1 - t0) as f64 / hz / start.elapsed().as_secs_f64() * 100.0;
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<f64>().unwrap_or(0.0))
        })
        .unwrap_or(0.0);
    println!(
        "(c) idle CPU of `chaosdeck inspect` on the 10,000-entry journal over {} s: {cpu:.2} % (goal < 1 %)",
        window.as_secs()
    );
    println!("(d) its RSS: {:.1} MB (goal ≤ 40 MB)", rss / 1024.0);
    let _ = tmux(&["kill-server"]);
}
