//! The Journal tree grouped by run (run → context → entry), its filter and folding, the
//! Inspector following its entry's file, and the before/after view, on a TestBackend.

mod support;

use std::path::{Path, PathBuf};

use chaosdeck::journal::{Depth, scan_with, transitions};
use chaosdeck::tui::app::{App, Effect, Focus, Header, Mode, Popup};
use chaosdeck::tui::inspect;
use chaosdeck::tui::theme::Theme;
use chaosdeck::tui::update::{handle_key, on_scanned};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::runs::{NEW_RUN, OLD_RUN, build, fail, path_of};

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn enter() -> KeyEvent {
    KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)
}

fn render(app: &mut App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| chaosdeck::tui::render::draw(f, app)).unwrap();
    terminal.backend().to_string()
}

/// `chaosdeck inspect` over the fixture journal, with the newer run as the header's run (so
/// it starts unfolded and the older one folded).
fn app_over(root: &Path) -> App {
    let header = Header { run_uuid: Some(NEW_RUN.into()), ..Default::default() };
    let mut app = App::new(Mode::Inspect, header, Theme { color: false });
    app.clock = || "12:00:00".into();
    app.set_tree(scan_with(root, Depth::Full).unwrap());
    render(&mut app, 80, 24);
    app
}

/// The names of the tree's items under `path` (`&[]`: the runs).
fn ids(app: &App, path: &[&str]) -> Vec<String> {
    app.tree_view.children(path).into_iter().map(str::to_string).collect()
}

/// The names of the whole tree under `path`, depth first.
fn all_ids(app: &App, path: &[&str]) -> Vec<String> {
    ids(app, path)
        .into_iter()
        .flat_map(|name| {
            let deeper = [path, &[name.as_str()]].concat();
            [vec![name.clone()], all_ids(app, &deeper)].concat()
        })
        .collect()
}

fn journal() -> (tempfile::TempDir, PathBuf, Vec<(&'static str, PathBuf)>) {
    let tmp = tempfile::tempdir().unwrap();
    // A fixed parent: the Journal panel names the last two components of its path.
    let root = tmp.path().join("state").join("rollback");
    let paths = build(&root);
    (tmp, root, paths)
}

fn file_of(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn dir_of(path: &Path) -> String {
    file_of(path.parent().unwrap())
}

#[test]
fn runs_contexts_and_entries_newest_first() {
    let (_tmp, root, paths) = journal();
    let app = app_over(&root);
    assert_eq!(ids(&app, &[]), [NEW_RUN, OLD_RUN], "one row per run, newest first");
    let new_contexts = ids(&app, &[NEW_RUN]);
    let newb = dir_of(&path_of(&paths, "newb0001"));
    let newa = dir_of(&path_of(&paths, "newa0001"));
    assert_eq!(new_contexts, [newb.clone(), newa]);
    let entries = ids(&app, &[NEW_RUN, &newb]);
    assert_eq!(
        entries,
        [file_of(&path_of(&paths, "newb0002")), file_of(&path_of(&paths, "newb0001"))]
    );
    let old_contexts = ids(&app, &[OLD_RUN]);
    let old_entries = ids(&app, &[OLD_RUN, &old_contexts[1]]);
    assert_eq!(
        old_entries,
        [file_of(&path_of(&paths, "olda0002")), file_of(&path_of(&paths, "olda0001"))]
    );
}

#[test]
fn grouped_tree_snapshots() {
    let (_tmp, root, _) = journal();
    let mut a = app_over(&root);
    a.focus = Focus::Journal;
    let small = render(&mut a, 80, 24);
    assert_eq!(small.matches("▼ run 9f3e7d21").count(), 1, "one row for the run:\n{small}");
    insta::assert_snapshot!("grouped_tree_80x24", small);
    // Unfold the older run (`l` on it) and its contexts.
    a.tree_view.select(&[OLD_RUN]);
    handle_key(&mut a, key('l'));
    for ctx in ids(&a, &[OLD_RUN]) {
        a.tree_view.open(&[OLD_RUN, &ctx]);
    }
    let big = render(&mut a, 160, 48);
    assert!(big.contains("1 pending, 1 orphaned") || big.contains("1 orphaned"), "{big}");
    insta::assert_snapshot!("grouped_tree_160x48", big);
}

#[test]
fn h_and_l_fold_and_unfold_each_level() {
    let (_tmp, root, paths) = journal();
    let mut a = app_over(&root);
    a.focus = Focus::Journal;
    let old = [OLD_RUN];
    a.tree_view.select(&old);
    assert!(!a.tree_view.is_open(&old));
    handle_key(&mut a, key('l'));
    assert!(a.tree_view.is_open(&old), "l unfolds the run");
    let dir = dir_of(&path_of(&paths, "olda0001"));
    let ctx = [OLD_RUN, dir.as_str()];
    a.tree_view.select(&ctx);
    handle_key(&mut a, key('l'));
    assert!(a.tree_view.is_open(&ctx), "l unfolds the context");
    handle_key(&mut a, key('h'));
    assert!(!a.tree_view.is_open(&ctx), "h folds the context");
    handle_key(&mut a, key('h'));
    assert_eq!(a.tree_view.selected(), old, "h on a folded context goes up");
    handle_key(&mut a, key('h'));
    assert!(!a.tree_view.is_open(&old), "h folds the run");
}

fn filtered(root: &Path, filter: &str) -> App {
    let mut a = app_over(root);
    handle_key(&mut a, key('/'));
    for c in filter.chars() {
        handle_key(&mut a, key(c));
    }
    handle_key(&mut a, enter());
    assert_eq!(a.filter, filter);
    a
}

#[test]
fn filter_applies_at_every_level() {
    let (_tmp, root, paths) = journal();
    // Run level: a uuid prefix keeps that run whole.
    let a = filtered(&root, "6c24");
    assert_eq!(ids(&a, &[]), [OLD_RUN]);
    assert_eq!(all_ids(&a, &[]).len(), 1 + 2 + 3);
    // Context level: a scenario file keeps its context whole, and its run.
    let a = filtered(&root, "node.yml");
    assert_eq!(ids(&a, &[]), [OLD_RUN]);
    let dir = dir_of(&path_of(&paths, "oldb0001"));
    assert_eq!(ids(&a, &[OLD_RUN]), [dir.as_str()]);
    assert_eq!(ids(&a, &[OLD_RUN, &dir]).len(), 1);
    // Entry level: a state keeps only the entries in it, in whichever runs they are.
    let a = filtered(&root, "failed");
    assert_eq!(ids(&a, &[]), [NEW_RUN]);
    let ctx = ids(&a, &[NEW_RUN]);
    assert_eq!(ctx.len(), 1);
    assert_eq!(ids(&a, &[NEW_RUN, &ctx[0]]), [file_of(&path_of(&paths, "newb0002"))]);
    let a = filtered(&root, "executed");
    assert_eq!(all_ids(&a, &[]).len(), 1 + 1 + 2);
    // No match: an empty tree, not the unfiltered one.
    let mut a = filtered(&root, "no-such-thing");
    assert!(ids(&a, &[]).is_empty());
    assert!(render(&mut a, 80, 24).contains("filter: no-such-thing"));
}

#[test]
fn x_on_a_run_undoes_its_pending_entries_newest_first() {
    let (_tmp, root, paths) = journal();
    let mut a = app_over(&root);
    a.focus = Focus::Journal;
    a.tree_view.select(&[NEW_RUN]);
    handle_key(&mut a, key('x'));
    let Some(Popup::Confirm { title, .. }) = &a.popup else { panic!("x asks first") };
    assert!(title.starts_with("Undo run 9f3e7d21 (3 entries)"), "{title}");
    let want = ["newb0002", "newb0001", "newa0001"].map(|s| path_of(&paths, s)).to_vec();
    assert_eq!(handle_key(&mut a, enter()), vec![Effect::Execute(want)]);
}

/// Selects the entry with `suffix`, presses Enter and loads what the runtime would.
fn inspect_entry(a: &mut App, paths: &[(&str, PathBuf)], suffix: &str) {
    let path = path_of(paths, suffix);
    let ctx = dir_of(&path);
    let run = ctx.split_once('-').unwrap().1.to_string();
    a.focus = Focus::Journal;
    a.tree_view.open(&[&run]);
    a.tree_view.open(&[&run, &ctx]);
    a.tree_view.select(&[&run, &ctx, &file_of(&path)]);
    let effects = handle_key(a, enter());
    assert_eq!(effects, vec![Effect::Inspect(path.clone())]);
    a.inspected = inspect::load(path);
}

/// Snapshots must not depend on the temporary directory's name.
fn hide_root(a: &mut App, root: &Path) {
    if let Some(i) = a.inspected.as_mut() {
        i.text = i.text.replace(&root.display().to_string(), "<journal>");
    }
}

/// The rescan the runtime does on a file event, and the inspector reload it asks for.
fn rescan(a: &mut App, root: &Path) {
    for effect in on_scanned(a, scan_with(root, Depth::Full).unwrap()) {
        let Effect::Inspect(path) = effect else { panic!("unexpected {effect:?}") };
        a.inspected = inspect::load(path);
    }
}

#[test]
fn inspector_follows_the_file_through_state_changes() {
    let (_tmp, root, paths) = journal();
    let mut a = app_over(&root);
    inspect_entry(&mut a, &paths, "newa0001");
    let screen = render(&mut a, 160, 48);
    assert!(screen.contains("state:     pending"), "{screen}");

    // Another process records a failed undo: the inspector says so after the rescan.
    let pending = path_of(&paths, "newa0001");
    fail(&pending, "deployments.apps \"web\" is forbidden");
    rescan(&mut a, &root);
    let screen = render(&mut a, 160, 48);
    assert!(screen.contains("state:     failed"), "{screen}");
    let text = &a.inspected.as_ref().unwrap().text;
    assert!(text.contains(r#"): deployments.apps "web" is forbidden"#), "{text}");

    // The engine retires it (renamed .executed): the inspector and the selection follow.
    transitions::retire(&pending).unwrap();
    let before = a.inspected.as_ref().unwrap().text.clone();
    rescan(&mut a, &root);
    let now = &a.inspected.as_ref().unwrap();
    assert_ne!(now.text, before);
    assert_eq!(now.path, transitions::executed_path(&pending));
    assert_eq!(
        a.selected_entry().map(|e| e.path.clone()),
        Some(transitions::executed_path(&pending))
    );
    let screen = render(&mut a, 160, 48);
    assert!(screen.contains("state:     executed"), "{screen}");
    assert!(!screen.contains("state:     pending"), "{screen}");
}

#[test]
fn a_rescan_without_an_inspected_entry_reads_nothing() {
    let (_tmp, root, _) = journal();
    let mut a = app_over(&root);
    assert!(on_scanned(&mut a, scan_with(&root, Depth::Full).unwrap()).is_empty());
}

#[test]
fn before_after_view_of_a_patch() {
    let (_tmp, root, paths) = journal();
    let mut a = app_over(&root);
    inspect_entry(&mut a, &paths, "newa0001");
    let text = a.inspected.as_ref().unwrap().text.clone();
    assert!(text.contains("  - spec.replicas: 0\n  + spec.replicas: 3\n"), "{text}");
    assert!(text.contains("  - spec.paused: true\n  + spec.paused: (removed)\n"), "{text}");
    hide_root(&mut a, &root);
    insta::assert_snapshot!("before_after_patch_160x48", render(&mut a, 160, 48));
    // At 80×24 the operator scrolls the Inspector down to the view.
    for _ in 0..13 {
        handle_key(&mut a, key('j'));
    }
    insta::assert_snapshot!("before_after_patch_80x24", render(&mut a, 80, 24));
}

#[test]
fn before_after_view_of_a_create_shows_the_object() {
    let (_tmp, root, paths) = journal();
    let mut a = app_over(&root);
    inspect_entry(&mut a, &paths, "newb0001");
    let text = a.inspected.as_ref().unwrap().text.clone();
    let view = text.split("before/after ").nth(1).unwrap();
    let view = view.split("by hand:").next().unwrap();
    assert!(view.starts_with("re-create ConfigMap demo/settings:"), "{view}");
    assert!(view.contains("    data:\n      mode: fast\n      retries: \"3\""), "{view}");
    assert!(!view.contains("resourceVersion"), "server fields are not re-created: {view}");
    hide_root(&mut a, &root);
    insta::assert_snapshot!("before_after_create_160x48", render(&mut a, 160, 48));
}

#[test]
fn the_current_runs_row_names_its_config() {
    let (_tmp, root, _) = journal();
    let header = Header {
        run_uuid: Some(NEW_RUN.into()),
        config: Some("config/gameday.yaml".into()),
        ..Default::default()
    };
    let mut a = App::new(Mode::Run, header, Theme { color: false });
    a.clock = || "12:00:00".into();
    a.set_tree(scan_with(&root, Depth::Full).unwrap());
    let screen = render(&mut a, 160, 48);
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains("run ")).collect();
    let new = rows.iter().find(|l| l.contains("run 9f3e7d21  ")).unwrap();
    assert!(new.contains("  gameday.yaml  2 ctx"), "{new}");
    // The journal does not record other runs' configs: none is guessed.
    let old = rows.iter().find(|l| l.contains("run 6c24a5b5  ")).unwrap();
    assert!(!old.contains(".yaml"), "{old}");
}
