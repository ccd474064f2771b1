//! One rollback service: the TUI, the engine's report and `execute-rollback` agree on what a
//! rollback takes and on what counts as "not undone".

mod support;

use std::path::Path;

use chaosdeck::engine::EngineEvent;
use chaosdeck::journal::executor::Outcome;
use chaosdeck::journal::rollback::{self, Event, How, Selection};
use chaosdeck::journal::{Depth, Journal, scan_with};
use chaosdeck::tui::app::{App, Effect, Focus, Header, Mode, Popup};
use chaosdeck::tui::theme::Theme;
use chaosdeck::tui::update::{apply_event, handle_key};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const RUN: &str = "6c1f0a52-4b1e-4d7c-9a39-0c3e8f1d2b11";

fn inspect_app(root: &Path) -> App {
    let header = Header { context: "kind-prod".into(), ..Default::default() };
    let mut app = App::new(Mode::Inspect, header, Theme { color: false });
    app.has_cluster = true;
    app.set_tree(scan_with(root, Depth::Full).unwrap());
    app
}

fn render(app: &mut App) {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 30)).unwrap();
    terminal.draw(|f| chaosdeck::tui::render::draw(f, app)).unwrap();
}

/// Runs the service as the TUI's runtime does and feeds its events to the app.
async fn undo_in_app(app: &mut App, root: &Path, selection: Selection) -> Vec<Event> {
    let selected = rollback::select(root, selection).unwrap();
    let mut events = Vec::new();
    rollback::undo(Err("no cluster here"), &selected, &How::because("test"), |e| events.push(e))
        .await;
    for e in &events {
        apply_event(app, &EngineEvent::Rollback(e.clone()));
    }
    events
}

/// `x` on an entry that cannot be read: the TUI used to log "is invalid: nothing to do" while
/// `execute-rollback` reported the same file outstanding and exited 1. Now `x` asks, and the
/// service reports it invalid, not undone, still pending.
#[tokio::test]
async fn x_on_an_invalid_entry_reports_it_outstanding_like_execute_rollback() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::open(tmp.path().join("j")).unwrap();
    let ctx = journal.begin_context("run-x-invalid").unwrap();
    ctx.write(
        ctx.mint("hog_scenarios"),
        support::delete_pod_draft("hog_scenarios", "default", "a"),
    )
    .unwrap();
    let broken = ctx.dir().join("hog_scenarios_5_brokenaa.yaml");
    std::fs::write(&broken, "not: [an entry").unwrap();

    let mut app = inspect_app(journal.root());
    app.focus = Focus::Journal;
    let (run, dir) =
        app.tree.contexts.first().map(|c| (c.name.run_uuid.clone(), c.dir_name.clone())).unwrap();
    app.tree_view.open(&[&run]);
    app.tree_view.open(&[&run, &dir]);
    assert!(app.tree_view.select(&[&run, &dir, "hog_scenarios_5_brokenaa.yaml"]));
    render(&mut app);
    assert!(handle_key(&mut app, KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE)).is_empty());
    assert!(matches!(app.popup, Some(Popup::Confirm { .. })), "log: {:?}", app.log);
    let effects = handle_key(&mut app, KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE));
    let [Effect::Execute(paths)] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!(paths, &vec![broken.clone()]);

    let events = undo_in_app(&mut app, journal.root(), Selection::Paths(paths.clone())).await;
    let outcomes: Vec<_> = events
        .iter()
        .filter_map(|e| if let Event::Entry(o) = e { Some(o) } else { None })
        .collect();
    assert_eq!(outcomes.len(), 1, "{events:?}");
    assert!(matches!(outcomes[0].outcome, Outcome::Invalid { .. }), "{events:?}");
    assert_eq!(app.not_undone, 1);
    assert!(
        app.log.iter().any(|l| l.contains("1 could NOT be undone (still pending)")),
        "{:?}",
        app.log
    );
    assert!(broken.exists(), "never executed, never renamed");

    // execute-rollback on the same file: outstanding, exit 1.
    let out = assert_cmd::Command::cargo_bin("chaosdeck")
        .unwrap()
        .args(["execute-rollback", "--file"])
        .arg(&broken)
        .env("KUBECONFIG", tmp.path().join("none"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("INVALID   hog_scenarios_5_brokenaa.yaml"), "{text}");
}

/// A Krkn file only Krkn can undo: every caller says it is left to Krkn, none counts it as a
/// change chaosdeck could not undo (the engine used to).
#[tokio::test]
async fn a_krkn_file_left_to_krkn_is_not_counted_as_not_undone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("krkn-rollback");
    let payload = chaosdeck::journal::krkn::payload::encode_base64(
        br#"{"nodes": ["gke-worker-a-1"], "timeout": 180, "kube_check": true}"#,
    );
    let path = support::write_krkn(
        &root,
        &format!("1795315105699069697-{RUN}"),
        "zone_outages_scenarios_1795315097812653975_mbmixfdj.py",
        &support::krkn_file(
            "rollback_gcp_zone_outage",
            &support::krkn_content("demo-ns", &payload),
        ),
    );
    let mut app = inspect_app(&root);
    let events = undo_in_app(&mut app, &root, Selection::All).await;
    let Some(Event::Finished(tally)) = events.last() else { panic!("{events:?}") };
    assert_eq!((tally.skipped_pending, tally.not_undone()), (1, 0), "{tally:?}");
    assert_eq!(app.not_undone, 0);
    let done = app.log.iter().find(|l| l.starts_with("rollback done")).unwrap();
    assert!(done.contains("1 left to Krkn (pending)"), "{done}");
    assert!(!done.contains("could NOT be undone"), "{done}");
    assert!(path.exists());

    // The engine's report counts what the service counts.
    let mut recorder = chaosdeck::observe::report::Recorder::new(RUN, Path::new("config.yaml"));
    for e in &events {
        recorder.observe(&EngineEvent::Rollback(e.clone()));
    }
    let summary = chaosdeck::engine::RunSummary {
        run_uuid: RUN.into(),
        journal: root.clone(),
        results: vec![],
        outstanding: vec![],
        exit_code: 0,
    };
    let report = recorder.report(&summary);
    assert_eq!((report.rollbacks[0].executed, report.rollbacks[0].failed), (0, 0));
}
