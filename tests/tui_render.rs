//! The UI without a terminal: snapshots of each view at 80×24 and 160×48 (TestBackend), and
//! the key → effect / event → state logic.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chaosdeck::engine::{EngineCommand, EngineEvent, EngineState, ScenarioResult};
use chaosdeck::journal::describe::describe;
use chaosdeck::journal::executor::{EntryOutcome, Outcome, Tally};
use chaosdeck::journal::rollback::Event as RollbackEvent;
use chaosdeck::journal::scan::{Liveness, read_entry};
use chaosdeck::journal::{Depth, Journal, scan_with};
use chaosdeck::tui::app::{App, Effect, Focus, Header, Inspected, Mode, Popup, RowStatus};
use chaosdeck::tui::keys::KeyMap;
use chaosdeck::tui::theme::Theme;
use chaosdeck::tui::update::{EMERGENCY_REASON, apply_event, handle_key};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The run of the project's Krkn files (tests/data/krkn/rollback).
const RUN: &str = "5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5";
/// The run of the files Krkn's own code made (../shared/fixtures/krkn-rollback).
const SHARED_RUN: &str = "7b5842f8-c142-4e90-8235-02cb0e1ec634";

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn fixture_journal() -> PathBuf {
    // Relative to the crate, so paths in snapshots do not depend on where it is checked out.
    let rel = PathBuf::from("tests/data/krkn/rollback");
    assert!(support::krkn_data().join("rollback").is_dir());
    rel
}

fn shared_journal() -> PathBuf {
    let rel = PathBuf::from("../shared/fixtures/krkn-rollback");
    assert!(support::fixtures().join("krkn-rollback").is_dir());
    rel
}

/// A run in progress over the project's Krkn journal: deterministic names everywhere.
fn app(mode: Mode) -> App {
    app_over(mode, fixture_journal(), RUN)
}

/// A run in progress over the Krkn journal `journal`, whose files belong to run `run`.
fn app_over(mode: Mode, journal: PathBuf, run: &str) -> App {
    let header = Header {
        context: "chaosdeck-sandbox".into(),
        server: "http://127.0.0.1:6443".into(),
        is_sandbox: true,
        run_uuid: Some(run.into()),
        auto_rollback: true,
        iterations: 1,
        config: None,
        ..Default::default()
    };
    let mut app = App::new(mode, header, Theme { color: false });
    // A fixed wall clock and game-day clock: snapshots must not depend on when they run.
    app.clock = || "12:00:00".into();
    if mode == Mode::Run {
        apply_event(
            &mut app,
            &EngineEvent::RunStarted {
                run_uuid: run.into(),
                journal: journal.clone(),
                scenarios: vec![
                    (
                        "application_outages_scenarios".into(),
                        "config/scenarios/app_outage.yaml".into(),
                    ),
                    ("hog_scenarios".into(), "config/scenarios/cpu-hog.yml".into()),
                    ("pod_disruption_scenarios".into(), "config/scenarios/pod.yml".into()),
                ],
            },
        );
        apply_event(
            &mut app,
            &EngineEvent::ScenarioStarted {
                index: 0,
                iteration: 1,
                scenario_type: "application_outages_scenarios".into(),
                file: "app_outage.yaml".into(),
                expected: Duration::from_secs(20),
            },
        );
        apply_event(
            &mut app,
            &EngineEvent::ScenarioFinished { index: 0, result: ScenarioResult::Passed },
        );
        apply_event(
            &mut app,
            &EngineEvent::ScenarioStarted {
                index: 1,
                iteration: 1,
                scenario_type: "hog_scenarios".into(),
                file: "cpu-hog.yml".into(),
                expected: Duration::from_secs(20),
            },
        );
        apply_event(
            &mut app,
            &EngineEvent::ScenarioStep { index: 1, text: "hogging for 20 s".into() },
        );
        apply_event(
            &mut app,
            &EngineEvent::ScenarioProgress {
                index: 1,
                elapsed: Duration::from_secs(8),
                expected: Duration::from_secs(20),
            },
        );
        apply_event(&mut app, &EngineEvent::State(EngineState::Running));
        app.run_started = Instant::now().checked_sub(Duration::from_secs(252));
    }
    app.set_tree(scan_with(&journal, Depth::Full).unwrap());
    // The real loop draws before the first key; the tree widget navigates from that frame.
    render(&mut app, 80, 24);
    app
}

fn render(app: &mut App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| chaosdeck::tui::render::draw(f, app)).unwrap();
    terminal.backend().to_string()
}

/// Selects the hog entry of the fixture journal (a pending Krkn file).
fn select_hog_entry(app: &mut App) {
    let (run, dir, file) = app
        .tree
        .entries()
        .find(|(_, e)| e.name.scenario_type == "hog_scenarios")
        .map(|(c, e)| (c.name.run_uuid.clone(), c.dir_name.clone(), e.file_name.clone()))
        .unwrap();
    app.tree_view.open(&[&run]);
    app.tree_view.open(&[&run, &dir]);
    assert!(app.tree_view.select(&[&run, &dir, &file]));
    render(app, 80, 24);
}

fn inspect_first_entry(app: &mut App) {
    select_hog_entry(app);
    let effects = handle_key(app, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let [Effect::Inspect(path)] = effects.as_slice() else {
        panic!("expected an inspect effect, got {effects:?}")
    };
    let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
    let name = chaosdeck::journal::names::parse_entry_file(&file_name).unwrap();
    let node = read_entry(path.clone(), file_name, name, &mut Liveness::default());
    app.inspected = Some(Inspected { path: path.clone(), text: describe(&node) });
}

#[test]
fn main_view_snapshots() {
    let mut a = app(Mode::Run);
    insta::assert_snapshot!("main_80x24", render(&mut a, 80, 24));
    insta::assert_snapshot!("main_160x48", render(&mut a, 160, 48));
}

/// The same views over the files Krkn's own code made, against the snapshots taken of them.
#[test]
#[ignore = "needs ../shared/fixtures"]
fn main_and_inspector_views_of_the_shared_fixtures() {
    let mut a = app_over(Mode::Run, shared_journal(), SHARED_RUN);
    insta::assert_snapshot!("shared_main_80x24", render(&mut a, 80, 24));
    insta::assert_snapshot!("shared_main_160x48", render(&mut a, 160, 48));
    inspect_first_entry(&mut a);
    insta::assert_snapshot!("shared_inspector_160x48", render(&mut a, 160, 48));
}

#[test]
fn help_view_lists_every_binding() {
    let mut a = app(Mode::Run);
    handle_key(&mut a, key('?'));
    let screen = render(&mut a, 80, 24);
    for b in KeyMap::default().bindings() {
        assert!(screen.contains(b.help), "help misses {:?}", b.help);
    }
    insta::assert_snapshot!("help_80x24", screen);
    insta::assert_snapshot!("help_160x48", render(&mut a, 160, 48));
}

#[test]
fn confirm_and_inspector_views() {
    let mut a = app(Mode::Run);
    inspect_first_entry(&mut a);
    assert_eq!(a.focus, Focus::Inspector);
    insta::assert_snapshot!("inspector_160x48", render(&mut a, 160, 48));
    insta::assert_snapshot!("inspector_80x24", render(&mut a, 80, 24));
    a.focus = Focus::Journal;
    handle_key(&mut a, key('x'));
    assert!(matches!(a.popup, Some(Popup::Confirm { .. })));
    insta::assert_snapshot!("confirm_80x24", render(&mut a, 80, 24));
    insta::assert_snapshot!("confirm_160x48", render(&mut a, 160, 48));
}

#[test]
fn execute_needs_confirmation_and_then_targets_the_selection() {
    let mut a = app(Mode::Inspect);
    a.focus = Focus::Journal;
    select_hog_entry(&mut a);
    let selected = a.selected_entry().unwrap().path.clone();
    assert!(handle_key(&mut a, key('x')).is_empty(), "x alone must not execute");
    assert_eq!(handle_key(&mut a, key('y')), vec![Effect::Execute(vec![selected])]);
    assert!(a.popup.is_none());
    // n cancels.
    handle_key(&mut a, key('m'));
    assert!(handle_key(&mut a, key('n')).is_empty());
    assert!(a.popup.is_none());
}

/// Selects context `dir` (not an entry), x, Enter: the effect `x` confirmed.
fn undo_context(a: &mut App, dir: &str) -> Vec<Effect> {
    a.focus = Focus::Journal;
    // `select` reports a change, not success: the context may be selected already.
    let run = a.tree.contexts.iter().find(|c| c.dir_name == dir).unwrap().name.run_uuid.clone();
    a.tree_view.open(&[&run]);
    a.tree_view.select(&[&run, dir]);
    render(a, 80, 24);
    assert_eq!(a.selected_context().map(|c| c.dir_name.as_str()), Some(dir));
    assert!(a.selected_entry().is_none(), "the context, not an entry, is selected");
    handle_key(a, key('x'));
    assert!(matches!(a.popup, Some(Popup::Confirm { .. })), "x on a pending context asks first");
    handle_key(a, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
}

#[test]
fn executing_a_context_takes_its_pending_entries_newest_first() {
    // A Krkn context holds one version file: undoing the context undoes exactly that file.
    let mut a = app(Mode::Inspect);
    let hog = a
        .tree
        .contexts
        .iter()
        .find(|c| c.entries.iter().any(|e| e.name.scenario_type == "hog_scenarios"))
        .unwrap();
    let (dir, file) = (hog.dir_name.clone(), hog.entries[0].path.clone());
    assert_eq!(undo_context(&mut a, &dir), vec![Effect::Execute(vec![file])]);

    // A chaosdeck context with several entries, one already retired: the pending ones, newest
    // first, and nothing else.
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::open(tmp.path().join("state").join("rollback")).unwrap();
    let ctx = journal.begin_context(RUN).unwrap();
    let mut written = Vec::new();
    for pod in ["first", "second", "third", "fourth"] {
        let draft = support::delete_pod_draft("hog_scenarios", "default", pod);
        written.push(ctx.write(ctx.mint("hog_scenarios"), draft).unwrap());
    }
    ctx.retire(&written[1]).unwrap();
    let mut a = app(Mode::Inspect);
    a.set_tree(scan_with(journal.root(), Depth::Full).unwrap());
    render(&mut a, 80, 24);
    let dir = ctx.dir().file_name().unwrap().to_string_lossy().into_owned();
    let want: Vec<PathBuf> = [3, 2, 0].iter().map(|&i| written[i].path.clone()).collect();
    assert_eq!(undo_context(&mut a, &dir), vec![Effect::Execute(want)]);
}

#[test]
fn emergency_is_one_key_with_no_dialog() {
    let mut live = app(Mode::Run);
    assert_eq!(
        handle_key(&mut live, key('!')),
        vec![Effect::Engine(EngineCommand::Emergency { reason: EMERGENCY_REASON.into() })]
    );
    assert!(live.popup.is_none());
    let mut inspect = app(Mode::Inspect);
    assert_eq!(
        handle_key(&mut inspect, key('!')),
        vec![Effect::EmergencyAll { reason: EMERGENCY_REASON.into() }]
    );
}

#[test]
fn quitting_a_live_run_asks_stop_or_leave() {
    let mut a = app(Mode::Run);
    assert!(handle_key(&mut a, key('q')).is_empty());
    assert_eq!(a.popup, Some(Popup::QuitLive));
    assert!(!a.quit);
    assert_eq!(handle_key(&mut a, key('s')), vec![Effect::Engine(EngineCommand::Stop)]);
    assert!(a.quit_when_finished && !a.quit);
    apply_event(&mut a, &EngineEvent::RunFinished { outstanding: 0, exit_code: 1 });
    assert!(a.quit, "quits once the stopped run has rolled back");
    let mut b = app(Mode::Run);
    handle_key(&mut b, key('q'));
    handle_key(&mut b, key('l'));
    assert!(b.quit);
    let mut c = app(Mode::Inspect);
    handle_key(&mut c, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(c.quit, "Ctrl-C quits when nothing is live");
}

#[test]
fn pause_toggles_with_the_engine_state() {
    let mut a = app(Mode::Run);
    assert_eq!(handle_key(&mut a, key('p')), vec![Effect::Engine(EngineCommand::Pause)]);
    apply_event(&mut a, &EngineEvent::State(EngineState::Pausing));
    assert_eq!(
        handle_key(&mut a, key('p')),
        vec![Effect::Engine(EngineCommand::Resume)],
        "one press resumes while the window in flight runs out"
    );
    apply_event(&mut a, &EngineEvent::State(EngineState::Paused));
    assert_eq!(handle_key(&mut a, key('p')), vec![Effect::Engine(EngineCommand::Resume)]);
}

/// The header at 80×24 and 160×48 through a run's phases: the context, the engine state, the
/// pending count and the emergency key are on it every time.
#[test]
fn the_header_keeps_context_state_pending_and_the_emergency_key_in_every_phase() {
    let mut a = app(Mode::Run);
    let mut shots = Vec::new();
    let phases = [
        ("running", EngineState::Running, "running 2/3 hog_scenarios"),
        ("pausing", EngineState::Pausing, "pausing: the window in progress ends in 12 s"),
        ("paused", EngineState::Paused, "paused before 3/3"),
        ("waiting", EngineState::Waiting, "waiting"),
        ("rolling back", EngineState::RollingBack, "rolling back"),
        ("finished", EngineState::Finished, "finished"),
    ];
    for (word, state, long) in phases {
        apply_event(&mut a, &EngineEvent::State(state));
        if state == EngineState::Paused {
            apply_event(
                &mut a,
                &EngineEvent::ScenarioFinished { index: 1, result: ScenarioResult::Passed },
            );
        }
        for (w, h) in [(80, 24), (160, 48)] {
            let screen = render(&mut a, w, h);
            let header = screen.lines().next().unwrap().to_string();
            for wanted in ["chaosdeck-sandbox", word, "9 pending", "! undo ALL"] {
                assert!(header.contains(wanted), "{w}x{h} {word}: {header}");
            }
            if w == 160 {
                assert!(header.contains(long), "{w}x{h}: {header}");
            }
            shots.push(header);
        }
    }
    apply_event(&mut a, &EngineEvent::RunFinished { outstanding: 9, exit_code: 1 });
    shots.push(render(&mut a, 80, 24).lines().next().unwrap().to_string());
    insta::assert_snapshot!("header_phases", shots.join("\n"));
}

/// A dry run says so on the header and on each finished scenario; a terminal too small for the
/// panels keeps the header and says why the rest is missing.
#[test]
fn a_dry_run_and_a_small_terminal_say_so() {
    let mut a = app(Mode::Run);
    a.header.dry_run = true;
    apply_event(
        &mut a,
        &EngineEvent::ScenarioFinished { index: 1, result: ScenarioResult::Passed },
    );
    let screen = render(&mut a, 80, 24);
    assert!(screen.lines().next().unwrap().contains("DRY RUN"), "{screen}");
    assert!(screen.contains("dry run: would run"), "{screen}");
    assert_eq!(a.scenarios[1].step, "dry run: would run, nothing changed");
    let small = render(&mut a, 40, 12);
    assert!(small.contains("terminal too small: 40×12"), "{small}");
    let header = small.lines().next().unwrap();
    for wanted in ["DRY", "9 pending", "! ALL", "run"] {
        assert!(header.contains(wanted), "{small}");
    }
    insta::assert_snapshot!("small_40x12", small);
}

/// `m` says what stays in the cluster; `x` with no cluster says so before any dialog.
#[test]
fn mark_says_what_stays_and_undo_without_a_cluster_opens_no_dialog() {
    let mut a = app(Mode::Inspect);
    select_hog_entry(&mut a);
    handle_key(&mut a, key('m'));
    let screen = render(&mut a, 80, 24);
    assert!(screen.contains("Mark executed without undoing"), "{screen}");
    assert!(screen.contains("Krkn's change stays"), "{screen}");
    handle_key(&mut a, KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    a.has_cluster = false;
    assert!(handle_key(&mut a, key('x')).is_empty());
    assert!(a.popup.is_none(), "no dialog for what cannot be done");
    assert!(a.log.back().unwrap().contains("no cluster connection"), "{:?}", a.log.back());
}

/// Enter on the Log panel shows the selected line whole; up goes back in time.
#[test]
fn a_log_line_opens_whole() {
    let mut a = app(Mode::Run);
    let long = format!("FAILED x.yaml: {}", "the API server said no ".repeat(8));
    a.push_log(long.clone());
    a.push_log("last line");
    a.focus = chaosdeck::tui::app::Focus::Log;
    handle_key(&mut a, key('k'));
    handle_key(&mut a, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let screen = render(&mut a, 160, 48);
    let shown: String = screen
        .lines()
        .map(|l| l.trim_matches(|c| c == '"' || c == '│' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(shown.contains("the API server said no the API server said no"), "{screen}");
    assert!(shown.contains("Log 12:00:00"), "{screen}");
}

#[test]
fn filter_narrows_the_tree() {
    let mut a = app(Mode::Inspect);
    let all = a.tree_view.children(&[]).len();
    handle_key(&mut a, key('/'));
    for c in "hog".chars() {
        handle_key(&mut a, key(c));
    }
    assert_eq!(a.filter, "hog", "the tree narrows while typing");
    handle_key(&mut a, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(a.filter, "hog");
    let runs = a.tree_view.children(&[]);
    assert_eq!(runs.len(), 1, "only the hog context's run remains of {all}");
    let contexts = a.tree_view.children(&runs[..1]);
    assert_eq!(contexts.len(), 1, "only the hog context remains of its run");
    assert!(contexts[0].starts_with("1796041201130427764-"));
    let screen = render(&mut a, 80, 24);
    assert!(screen.contains("filter: hog"));
    // Ctrl-U empties the input (it used to type a `u`), Esc puts the filter back, and Esc on
    // the panels clears it.
    handle_key(&mut a, key('/'));
    handle_key(&mut a, KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    assert_eq!(a.filter, "");
    handle_key(&mut a, KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert_eq!(a.filter, "hog");
    handle_key(&mut a, KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert_eq!(a.filter, "");
    assert_eq!(a.tree_view.children(&[]).len(), all);
}

#[test]
fn engine_events_drive_the_scenario_rows() {
    let mut a = app(Mode::Run);
    assert_eq!(a.scenarios[0].status, RowStatus::Passed);
    assert_eq!(a.scenarios[1].status, RowStatus::Running);
    assert_eq!(a.scenarios[2].status, RowStatus::Queued);
    apply_event(
        &mut a,
        &EngineEvent::ScenarioFinished {
            index: 1,
            result: ScenarioResult::Failed { error: "boom".into(), rolled_back: true },
        },
    );
    assert_eq!(a.scenarios[1].status, RowStatus::RolledBack);
    apply_event(&mut a, &EngineEvent::RunFinished { outstanding: 0, exit_code: 1 });
    assert_eq!(a.scenarios[2].status, RowStatus::Skipped);
    assert_eq!(a.exit_code, Some(1));
    assert!(!a.run_is_live());
}

#[test]
fn the_status_bar_counts_a_rollback_live_and_says_read_only() {
    let mut a = app(Mode::Run);
    let outcome = |name: &str, outcome: Outcome| {
        EngineEvent::Rollback(RollbackEvent::Entry(EntryOutcome {
            path: PathBuf::from(name),
            file_name: name.to_string(),
            summary: "s".into(),
            outcome,
        }))
    };
    apply_event(
        &mut a,
        &EngineEvent::Rollback(RollbackEvent::Started { reason: "operator".into(), entries: 3 }),
    );
    apply_event(&mut a, &outcome("a.yaml", Outcome::Executed { notes: vec![] }));
    apply_event(&mut a, &outcome("b.yaml", Outcome::Failed { error: "e".into() }));
    let screen = render(&mut a, 200, 30);
    assert!(screen.contains("undoing 2/3: 1 executed, 1 failed, 1 remaining"), "{screen}");
    let tally = Tally { executed: 1, failed: 2, ..Default::default() };
    apply_event(&mut a, &EngineEvent::Rollback(RollbackEvent::Finished(tally)));
    let screen = render(&mut a, 200, 30);
    assert!(!screen.contains("undoing"), "{screen}");
    assert!(screen.contains("2 not undone"), "{screen}");
    apply_event(&mut a, &EngineEvent::ReadOnly { reason: "lease lost".into() });
    let screen = render(&mut a, 200, 30);
    assert!(screen.contains("READ-ONLY"), "{screen}");
}
