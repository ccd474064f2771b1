//! Pure state transitions: a key becomes effects, an engine event updates the rows.

use crossterm::event::{KeyCode, KeyEvent};

use crate::engine::{EngineCommand, EngineEvent, EngineState, scenario_rows};
use crate::journal::Filter;
use crate::journal::executor;
use crate::journal::rollback::Event as RollbackEvent;
use crate::journal::scan::{EntryNode, JournalTree};

use super::app::{App, Effect, Focus, Mode, Popup};
use super::keys::Action;

/// The reason written to the audit log when the emergency key is pressed.
pub const EMERGENCY_REASON: &str = "operator emergency key";

pub fn handle_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if let Some(popup) = app.popup.take() {
        return handle_popup(app, popup, key);
    }
    // Esc, as in k9s: clear the filter, else go back to the journal.
    if key.code == KeyCode::Esc {
        if !app.filter.is_empty() {
            set_filter(app, String::new());
        } else {
            app.focus = Focus::Journal;
        }
        return vec![];
    }
    let Some(action) = app.keys.lookup(&key) else { return vec![] };
    match action {
        Action::Help => app.popup = Some(Popup::Help),
        Action::Quit => {
            if app.run_is_live() {
                app.popup = Some(Popup::QuitLive);
            } else {
                app.quit = true;
            }
        }
        Action::FocusNext => app.focus = app.focus.next(),
        Action::FocusPrev => app.focus = app.focus.prev(),
        Action::Down | Action::Up | Action::Top | Action::Bottom => return navigate(app, action),
        Action::Collapse => {
            if app.focus == Focus::Journal {
                app.tree_view.key_left();
            }
        }
        Action::Expand => {
            if app.focus == Focus::Journal {
                app.tree_view.key_right();
            }
        }
        Action::Inspect if app.focus == Focus::Log => {
            if let Some(i) = app.log_selected() {
                let at = app.log_at.get(i).cloned().unwrap_or_default();
                let text = app.log.get(i).cloned().unwrap_or_default();
                app.popup = Some(Popup::LogLine { at, text });
            }
        }
        Action::Inspect => {
            if let Some(e) = app.selected_entry() {
                let path = e.path.clone();
                app.focus = Focus::Inspector;
                return vec![Effect::Inspect(path)];
            }
            app.tree_view.toggle_selected();
        }
        Action::Filter => {
            app.popup =
                Some(Popup::Filter { input: app.filter.clone(), before: app.filter.clone() })
        }
        Action::Execute => confirm_on_selection(app, true),
        Action::MarkExecuted => confirm_on_selection(app, false),
        Action::PauseResume => {
            if app.mode == Mode::Run && !app.run_finished {
                let paused = app.engine_state.is_some_and(EngineState::is_paused);
                return vec![Effect::Engine(if paused {
                    EngineCommand::Resume
                } else {
                    EngineCommand::Pause
                })];
            }
        }
        Action::Stop => {
            if app.run_is_live() {
                return vec![Effect::Engine(EngineCommand::Stop)];
            }
        }
        Action::Rescan => return vec![Effect::Rescan],
        // No dialog: undoing chaos is the safe direction.
        Action::Emergency => {
            app.push_log(format!("EMERGENCY key pressed: {EMERGENCY_REASON}"));
            return if app.run_is_live() {
                vec![Effect::Engine(EngineCommand::Emergency { reason: EMERGENCY_REASON.into() })]
            } else {
                vec![Effect::EmergencyAll { reason: EMERGENCY_REASON.into() }]
            };
        }
    }
    vec![]
}

fn navigate(app: &mut App, action: Action) -> Vec<Effect> {
    match app.focus {
        Focus::Journal => {
            match action {
                Action::Down => app.tree_view.key_down(),
                Action::Up => app.tree_view.key_up(),
                Action::Top => app.tree_view.select_first(),
                _ => app.tree_view.select_last(),
            };
            // Keep the inspector on the selection.
            return app
                .selected_entry()
                .map(|e| vec![Effect::Inspect(e.path.clone())])
                .unwrap_or_default();
        }
        Focus::Scenarios => {
            let last = app.scenarios.len().saturating_sub(1);
            app.scenario_selected = match action {
                Action::Down => (app.scenario_selected + 1).min(last),
                Action::Up => app.scenario_selected.saturating_sub(1),
                Action::Top => 0,
                _ => last,
            };
        }
        Focus::Inspector => app.inspector_scroll = scroll(app.inspector_scroll, action),
        Focus::Log => {
            // Down goes towards the newest line, which is `log_scroll` 0.
            let back = match action {
                Action::Down => Action::Up,
                Action::Up => Action::Down,
                Action::Top => Action::Bottom,
                _ => Action::Top,
            };
            let oldest = u16::try_from(app.log.len().saturating_sub(1)).unwrap_or(u16::MAX);
            app.log_scroll = scroll(app.log_scroll, back).min(oldest);
        }
    }
    vec![]
}

fn scroll(current: u16, action: Action) -> u16 {
    match action {
        Action::Down => current.saturating_add(1),
        Action::Up => current.saturating_sub(1),
        Action::Top => 0,
        _ => u16::MAX / 2,
    }
}

fn confirm_on_selection(app: &mut App, execute: bool) {
    // Said before any dialog: confirming something that cannot happen wastes the moment.
    if execute && !app.has_cluster {
        app.push_log(
            "cannot undo here: no cluster connection (start `chaosdeck inspect` with \
             --kubeconfig, or use `chaosdeck execute-rollback`)",
        );
        return;
    }
    // `x` shows what the undo does; `m` what stays in the cluster because nothing is undone.
    let line = |e: &EntryNode| if execute { e.summary() } else { e.left_as_is() };
    let (what, paths, lines): (String, Vec<_>, Vec<String>) = if let Some(e) = app.selected_entry()
    {
        // An invalid file is outstanding work like any other: `x` reports it (it is never
        // executed) as `execute-rollback` does; `m` records that it was undone by hand.
        if !e.state.awaits_undo() {
            app.push_log(format!("{} is {}: nothing to do", e.file_name, e.state.as_str()));
            return;
        }
        (e.file_name.clone(), vec![e.path.clone()], vec![line(e)])
    } else if let Some(ctx) = app.selected_context() {
        let pending: Vec<&EntryNode> = executor::select(&app.tree, &Filter::default())
            .into_iter()
            .filter(|e| e.path.parent() == Some(ctx.path.as_path()))
            .collect();
        if pending.is_empty() {
            app.push_log(format!("{}: nothing pending", ctx.dir_name));
            return;
        }
        (
            format!("context {} ({})", ctx.dir_name, entries(pending.len())),
            pending.iter().map(|e| e.path.clone()).collect(),
            pending.iter().map(|e| line(e)).collect(),
        )
    } else if let Some(run) = app.selected_run() {
        let filter = Filter { run_uuid: Some(run.to_string()), ..Default::default() };
        let pending = executor::select(&app.tree, &filter);
        let short: String = run.chars().take(8).collect();
        if pending.is_empty() {
            app.push_log(format!("run {short}: nothing pending"));
            return;
        }
        (
            format!("run {short} ({})", entries(pending.len())),
            pending.iter().map(|e| e.path.clone()).collect(),
            pending.iter().map(|e| line(e)).collect(),
        )
    } else {
        return;
    };
    let (title, effect) = if execute {
        (format!("Undo {what}?"), Effect::Execute(paths))
    } else {
        // The consequence first: a narrow popup cuts the end of its title.
        (format!("Mark executed without undoing: {what}"), Effect::MarkExecuted(paths))
    };
    let mut lines = lines;
    if !execute {
        lines.push(String::new());
        lines.push(
            "Nothing is sent to the cluster: the entries are renamed .executed and the audit log \
             names you."
                .into(),
        );
    }
    app.popup = Some(Popup::Confirm { title, lines, effect });
}

fn set_filter(app: &mut App, filter: String) {
    if app.filter != filter {
        app.filter = filter;
        app.rebuild_items();
        app.keep_selection_valid();
    }
}

/// `1 entry`, `3 entries`.
pub fn entries(n: usize) -> String {
    if n == 1 { "1 entry".into() } else { format!("{n} entries") }
}

/// A fresh scan of the journal: the tree shows it, and the inspector reads its entry again so
/// that a state change (retired, executed elsewhere, an error recorded) shows there too.
pub fn on_scanned(app: &mut App, tree: JournalTree) -> Vec<Effect> {
    app.set_tree(tree);
    app.follow_inspected().into_iter().collect()
}

fn handle_popup(app: &mut App, popup: Popup, key: KeyEvent) -> Vec<Effect> {
    match popup {
        Popup::Help | Popup::LogLine { .. } => {
            // Any key closes them; `?` and Esc are the documented ones.
        }
        Popup::Confirm { title, lines, effect } => match key.code {
            KeyCode::Char('y') | KeyCode::Enter => return vec![effect],
            KeyCode::Char('n') | KeyCode::Esc | KeyCode::Char('q') => {}
            _ => app.popup = Some(Popup::Confirm { title, lines, effect }),
        },
        Popup::Filter { mut input, before } => {
            let ctrl = key.modifiers.contains(crossterm::event::KeyModifiers::CONTROL);
            match key.code {
                KeyCode::Enter => return vec![],
                KeyCode::Esc => {
                    set_filter(app, before);
                    return vec![];
                }
                KeyCode::Char('u') if ctrl => input.clear(),
                KeyCode::Backspace => {
                    input.pop();
                }
                KeyCode::Char(c) if !ctrl => input.push(c),
                _ => {}
            }
            // Live: the tree narrows with each key.
            set_filter(app, input.clone());
            app.popup = Some(Popup::Filter { input, before });
        }
        Popup::QuitLive => match key.code {
            KeyCode::Char('s') => {
                app.quit_when_finished = true;
                app.push_log("stopping the run, then quitting");
                return vec![Effect::Engine(EngineCommand::Stop)];
            }
            KeyCode::Char('l') => {
                app.push_log("quitting; pending entries stay in the journal");
                app.quit = true;
            }
            KeyCode::Esc | KeyCode::Char('n') => {}
            _ => app.popup = Some(Popup::QuitLive),
        },
    }
    vec![]
}

/// Folds one engine event into the state; returns true when the journal should be rescanned.
pub fn apply_event(app: &mut App, event: &EngineEvent) -> bool {
    // The rows move as a run's published progress does; what follows adds the TUI's own.
    scenario_rows::fold(&mut app.scenarios, event, app.header.dry_run);
    match event {
        EngineEvent::RunStarted { run_uuid, .. } => {
            app.header.run_uuid = Some(run_uuid.clone());
            app.run_started = Some(std::time::Instant::now());
            app.push_log(format!("run {run_uuid} started"));
            true
        }
        EngineEvent::ScenarioStarted { .. } => {
            app.health.chaos_now = true;
            false
        }
        EngineEvent::ScenarioStep { index, text } => {
            let t = app.scenarios.get(*index).map(|r| r.scenario_type.clone()).unwrap_or_default();
            app.push_log(format!("{t}: {text}"));
            false
        }
        EngineEvent::ScenarioProgress { .. } => false,
        EngineEvent::ScenarioFinished { .. } => {
            app.health.chaos_now = false;
            true
        }
        EngineEvent::EntryWritten { path, summary } => {
            app.push_log(format!("wrote {} ({summary})", file_name(path)));
            true
        }
        EngineEvent::EntryRetired { path } => {
            app.push_log(format!("retired {}", file_name(path)));
            true
        }
        EngineEvent::Emergency { reason } => {
            app.push_log(format!("EMERGENCY ROLLBACK: {reason}"));
            false
        }
        EngineEvent::ReadOnly { reason } => {
            app.push_log(format!("READ-ONLY: {reason}"));
            app.read_only = Some(reason.clone());
            false
        }
        EngineEvent::Rollback(event) => apply_rollback(app, event),
        EngineEvent::State(state) => {
            app.engine_state = Some(*state);
            false
        }
        EngineEvent::Log(text) => {
            app.push_log(text.clone());
            false
        }
        EngineEvent::HealthStarted { checks, interval } => {
            app.health.start(checks, *interval);
            false
        }
        EngineEvent::HealthSample(sample) => {
            if let Some(name) = app.health.record(sample) {
                let word = if sample.ok { "healthy again" } else { "FAILING" };
                app.push_log(format!("health: {name} {word} ({})", sample.detail));
            }
            false
        }
        EngineEvent::RunFinished { outstanding, exit_code } => {
            app.run_finished = true;
            app.exit_code = Some(*exit_code);
            app.push_log(format!("run finished: {outstanding} pending, exit code {exit_code}"));
            if app.quit_when_finished {
                app.quit = true;
            }
            true
        }
    }
}

/// Folds one event of a rollback (the engine's, or one `x`/`!` started) into the state; true
/// when the journal should be rescanned.
pub fn apply_rollback(app: &mut App, event: &RollbackEvent) -> bool {
    match event {
        RollbackEvent::Started { reason, entries: n } => {
            app.rollback = Some(super::app::RollbackProgress::new(*n));
            app.push_log(format!("rollback of {}: {reason}", entries(*n)));
            false
        }
        RollbackEvent::Entry(out) => {
            if let Some(p) = app.rollback.as_mut() {
                if out.outcome.left_outstanding() { p.failed += 1 } else { p.executed += 1 }
            }
            app.push_log(out.line());
            true
        }
        RollbackEvent::Note(note) => {
            app.push_log(note.clone());
            false
        }
        RollbackEvent::Finished(tally) => {
            app.rollback = None;
            // Not undone: failed, invalid, not attempted, blocked, refused. A Krkn file left to
            // Krkn is said apart: chaosdeck never tried it.
            app.not_undone = tally.not_undone();
            let mut line = format!("rollback done: {}", tally.line());
            if tally.not_undone() > 0 {
                line.push_str(&format!(
                    " — {} could NOT be undone (still pending)",
                    tally.not_undone()
                ));
            } else if tally.skipped_pending == 0 {
                line.push_str(" — all undone");
            }
            if tally.skipped_pending > 0 {
                line.push_str(&format!(" — {} left to Krkn (pending)", tally.skipped_pending));
            }
            app.push_log(line);
            true
        }
    }
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
