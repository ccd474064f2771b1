//! Key bindings as data: one table drives both dispatch and the `?` help screen.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Help,
    Quit,
    FocusNext,
    FocusPrev,
    Down,
    Up,
    Top,
    Bottom,
    Collapse,
    Expand,
    Inspect,
    Filter,
    Execute,
    MarkExecuted,
    PauseResume,
    Stop,
    Rescan,
    Emergency,
}

pub struct Binding {
    pub keys: &'static [KeyCode],
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[KeyCode::Char('?')],
        label: "?",
        action: Action::Help,
        help: "show or hide this help",
    },
    Binding {
        keys: &[KeyCode::Char('q')],
        label: "q",
        action: Action::Quit,
        help: "quit (asks while a run is live)",
    },
    Binding { keys: &[KeyCode::Tab], label: "Tab", action: Action::FocusNext, help: "next panel" },
    Binding {
        keys: &[KeyCode::BackTab],
        label: "S-Tab",
        action: Action::FocusPrev,
        help: "previous panel",
    },
    Binding {
        keys: &[KeyCode::Char('j'), KeyCode::Down],
        label: "j/↓",
        action: Action::Down,
        help: "move down / scroll",
    },
    Binding {
        keys: &[KeyCode::Char('k'), KeyCode::Up],
        label: "k/↑",
        action: Action::Up,
        help: "move up / scroll",
    },
    Binding {
        keys: &[KeyCode::Char('g'), KeyCode::Home],
        label: "g",
        action: Action::Top,
        help: "first item",
    },
    Binding {
        keys: &[KeyCode::Char('G'), KeyCode::End],
        label: "G",
        action: Action::Bottom,
        help: "last item",
    },
    Binding {
        keys: &[KeyCode::Char('h'), KeyCode::Left],
        label: "h/←",
        action: Action::Collapse,
        help: "fold a run or context (or go to its parent)",
    },
    Binding {
        keys: &[KeyCode::Char('l'), KeyCode::Right],
        label: "l/→",
        action: Action::Expand,
        help: "unfold a run or context",
    },
    Binding {
        keys: &[KeyCode::Enter],
        label: "Enter",
        action: Action::Inspect,
        help: "inspect the selected entry",
    },
    Binding {
        keys: &[KeyCode::Char('/')],
        label: "/",
        action: Action::Filter,
        help: "filter by run, scenario, file or state",
    },
    Binding {
        keys: &[KeyCode::Char('x')],
        label: "x",
        action: Action::Execute,
        help: "undo the selected entry, context or run (confirm)",
    },
    Binding {
        keys: &[KeyCode::Char('m')],
        label: "m",
        action: Action::MarkExecuted,
        help: "mark executed without undoing (confirm)",
    },
    Binding {
        keys: &[KeyCode::Char('p')],
        label: "p",
        action: Action::PauseResume,
        help: "pause / resume the engine",
    },
    Binding {
        keys: &[KeyCode::Char('s')],
        label: "s",
        action: Action::Stop,
        help: "stop the run (rolls back the current scenario)",
    },
    Binding {
        keys: &[KeyCode::Char('r')],
        label: "r",
        action: Action::Rescan,
        help: "rescan the journal",
    },
    Binding {
        keys: &[KeyCode::Char('!')],
        label: "!",
        action: Action::Emergency,
        help: "EMERGENCY: stop, undo every pending entry, newest first",
    },
];

/// The action bound to `key`, if any. Ctrl-C behaves like `q`.
pub fn lookup(key: &KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return (key.code == KeyCode::Char('c')).then_some(Action::Quit);
    }
    BINDINGS.iter().find(|b| b.keys.contains(&key.code)).map(|b| b.action)
}

/// The short hints shown in the status bar.
pub const HINTS: &str = "? help  x undo  ! emergency  s stop  p pause  / filter  q quit";
