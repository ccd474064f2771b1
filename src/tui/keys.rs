//! Key bindings as data: one [`KeyMap`] drives both dispatch and the `?` help screen. It is
//! built from the defaults below plus the operator's `keys.yaml` (see [`KeyMap::from_config_dir`]),
//! once at start-up.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// The defaults: action, its name in `keys.yaml`, keys, help text. The order is the help
/// screen's.
const DEFAULTS: &[(Action, &str, &[KeyCode], &str)] = &[
    (Action::Help, "help", &[KeyCode::Char('?')], "show or hide this help"),
    (Action::Quit, "quit", &[KeyCode::Char('q')], "quit (asks while a run is live)"),
    (Action::FocusNext, "focus_next", &[KeyCode::Tab], "next panel"),
    (Action::FocusPrev, "focus_prev", &[KeyCode::BackTab], "previous panel"),
    (Action::Down, "down", &[KeyCode::Char('j'), KeyCode::Down], "move down / scroll"),
    (Action::Up, "up", &[KeyCode::Char('k'), KeyCode::Up], "move up / scroll"),
    (Action::Top, "top", &[KeyCode::Char('g'), KeyCode::Home], "first item"),
    (Action::Bottom, "bottom", &[KeyCode::Char('G'), KeyCode::End], "last item"),
    (
        Action::Collapse,
        "collapse",
        &[KeyCode::Char('h'), KeyCode::Left],
        "fold a run or context (or go to its parent)",
    ),
    (Action::Expand, "expand", &[KeyCode::Char('l'), KeyCode::Right], "unfold a run or context"),
    (Action::Inspect, "inspect", &[KeyCode::Enter], "inspect the entry (Log: the whole line)"),
    (
        Action::Filter,
        "filter",
        &[KeyCode::Char('/'), KeyCode::Char(':')],
        "filter by run, scenario, file or state (Esc clears)",
    ),
    (
        Action::Execute,
        "execute",
        &[KeyCode::Char('x')],
        "undo the selected entry, context or run (confirm)",
    ),
    (
        Action::MarkExecuted,
        "mark_executed",
        &[KeyCode::Char('m')],
        "mark executed without undoing (confirm)",
    ),
    (Action::PauseResume, "pause_resume", &[KeyCode::Char('p')], "pause / resume the engine"),
    (Action::Stop, "stop", &[KeyCode::Char('s')], "stop the run (rolls back the current scenario)"),
    (Action::Rescan, "rescan", &[KeyCode::Char('r')], "rescan the journal"),
    (
        Action::Emergency,
        "emergency",
        &[KeyCode::Char('!')],
        "EMERGENCY, no dialog: undo ALL pending entries, every run",
    ),
];

/// The actions named in the status bar, with their word there. The emergency key is not among
/// them: the header shows it at every moment.
const HINTS: &[(Action, &str)] = &[
    (Action::Help, "help"),
    (Action::Execute, "undo"),
    (Action::MarkExecuted, "mark"),
    (Action::PauseResume, "pause"),
    (Action::Stop, "stop"),
    (Action::Filter, "filter"),
    (Action::Quit, "quit"),
];

/// Hints that only mean something while a run is live (`inspect` has no engine).
const RUN_ONLY: &[Action] = &[Action::PauseResume, Action::Stop];

#[derive(Debug, Clone)]
pub struct Binding {
    pub action: Action,
    /// The action's name in `keys.yaml`.
    pub name: &'static str,
    pub keys: Vec<KeyCode>,
    /// The keys as the help screen shows them: `j/↓`.
    pub label: String,
    pub help: &'static str,
}

/// The key table in force.
#[derive(Debug, Clone)]
pub struct KeyMap {
    bindings: Vec<Binding>,
    /// The status bar's hints during a run, and in `inspect` (no engine to pause or stop).
    hints: String,
    inspect_hints: String,
}

impl Default for KeyMap {
    fn default() -> KeyMap {
        KeyMap::from_bindings(
            DEFAULTS
                .iter()
                .map(|&(action, name, keys, help)| Binding {
                    action,
                    name,
                    keys: keys.to_vec(),
                    label: String::new(),
                    help,
                })
                .collect(),
        )
    }
}

/// A `keys.yaml` that cannot be used. Always names the file, and the line when there is one.
#[derive(Debug, thiserror::Error)]
pub enum KeyMapError {
    #[error("cannot read the key bindings file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}: {message}", path.display())]
    Bad { path: PathBuf, line: u64, message: String },
}

impl KeyMap {
    fn from_bindings(mut bindings: Vec<Binding>) -> KeyMap {
        for b in &mut bindings {
            b.label = b.keys.iter().map(|k| key_name(*k)).collect::<Vec<_>>().join("/");
        }
        let first = |action: Action| {
            bindings
                .iter()
                .find(|b| b.action == action)
                .and_then(|b| b.keys.first())
                .map(|k| key_name(*k))
        };
        let hints_of = |run: bool| {
            HINTS
                .iter()
                .filter(|(action, _)| run || !RUN_ONLY.contains(action))
                .filter_map(|&(action, word)| first(action).map(|k| format!("{k} {word}")))
                .collect::<Vec<_>>()
                .join("  ")
        };
        let (hints, inspect_hints) = (hints_of(true), hints_of(false));
        KeyMap { bindings, hints, inspect_hints }
    }

    /// Every binding, in help-screen order.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The short hints for the status bar, with the keys in force (`run`: an engine is
    /// attached).
    pub fn hints(&self, run: bool) -> &str {
        if run { &self.hints } else { &self.inspect_hints }
    }

    /// The first key of `action` as the screen names it (`!`, `F12`), if it has one.
    pub fn key_of(&self, action: Action) -> Option<String> {
        self.bindings
            .iter()
            .find(|b| b.action == action)
            .and_then(|b| b.keys.first())
            .map(|k| key_name(*k))
    }

    /// The action bound to `key`, if any. Ctrl-C always quits, whatever the file says: it is
    /// the way out every terminal user tries first.
    pub fn lookup(&self, key: &KeyEvent) -> Option<Action> {
        if key.modifiers.contains(KeyModifiers::CONTROL) {
            return (key.code == KeyCode::Char('c')).then_some(Action::Quit);
        }
        self.bindings.iter().find(|b| b.keys.contains(&key.code)).map(|b| b.action)
    }

    /// The defaults overridden by `$XDG_CONFIG_HOME/chaosdeck/keys.yaml` (or
    /// `~/.config/chaosdeck/keys.yaml`); the defaults alone when there is no such file.
    pub fn from_config_dir() -> Result<KeyMap, KeyMapError> {
        match config_path() {
            Some(path) => KeyMap::load(&path),
            None => Ok(KeyMap::default()),
        }
    }

    /// The defaults overridden by the file at `path`, if it exists.
    pub fn load(path: &Path) -> Result<KeyMap, KeyMapError> {
        match std::fs::read_to_string(path) {
            Ok(text) => KeyMap::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyMap::default()),
            Err(source) => Err(KeyMapError::Read { path: path.to_path_buf(), source }),
        }
    }

    /// The defaults overridden by `text` (the contents of `path`, named in errors). Each
    /// action named replaces all of its default keys; a key may serve one action only.
    pub fn parse(text: &str, path: &Path) -> Result<KeyMap, KeyMapError> {
        let bad = |line: u64, message: String| KeyMapError::Bad {
            path: path.to_path_buf(),
            line: line.max(1),
            message,
        };
        // YAML 1.1 reads a bare `n` or `y` as a boolean; as keys they are letters.
        let mut options = serde_saphyr::Options::default();
        options.strict_booleans = true;
        let file: Option<BTreeMap<String, Spanned<KeyList>>> =
            serde_saphyr::from_str_with_options(text, options).map_err(|e| {
                let line = e.location().map(|l| l.line()).unwrap_or(0);
                bad(line, format!("not a YAML map of action: key(s): {}", e.without_snippet()))
            })?;
        let mut map = KeyMap::default();
        // Where each overridden action was set, to point a conflict at the file's line.
        let mut set_at: HashMap<Action, u64> = HashMap::new();
        let mut overrides: Vec<(u64, String, Spanned<KeyList>)> = file
            .unwrap_or_default()
            .into_iter()
            .map(|(name, keys)| (keys.referenced.line(), name, keys))
            .collect();
        overrides.sort_by_key(|(line, ..)| *line);
        for (line, name, keys) in overrides {
            let Some(binding) = map.bindings.iter_mut().find(|b| b.name == name) else {
                let known: Vec<&str> = DEFAULTS.iter().map(|d| d.1).collect();
                let hint = crate::config::did_you_mean(&name, &known)
                    .map(|close| format!(" (did you mean `{close}`?)"))
                    .unwrap_or_default();
                return Err(bad(
                    line,
                    format!("unknown action `{name}`{hint}; actions: {}", known.join(", ")),
                ));
            };
            let mut codes = Vec::new();
            for (key, key_line) in keys.value.0 {
                let key_line = if key_line == 0 { line } else { key_line };
                let code = parse_key(&key).map_err(|why| {
                    bad(key_line, format!("cannot read key `{key}` for `{name}`: {why}"))
                })?;
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
            if codes.is_empty() && binding.action == Action::Emergency {
                return Err(bad(line, "the emergency action must keep a key".into()));
            }
            binding.keys = codes;
            set_at.insert(binding.action, line);
        }
        let mut owner: HashMap<KeyCode, &Binding> = HashMap::new();
        for b in &map.bindings {
            for key in &b.keys {
                if let Some(other) = owner.insert(*key, b) {
                    let line = set_at.get(&b.action).or(set_at.get(&other.action));
                    let why = if b.action == Action::Emergency || other.action == Action::Emergency
                    {
                        " (the emergency key must not share a key with anything else)"
                    } else {
                        ""
                    };
                    return Err(bad(
                        line.copied().unwrap_or(0),
                        format!(
                            "key `{}` is bound to both `{}` and `{}`{why}",
                            key_name(*key),
                            other.name,
                            b.name
                        ),
                    ));
                }
            }
        }
        Ok(KeyMap::from_bindings(map.bindings))
    }
}

/// `$XDG_CONFIG_HOME/chaosdeck/keys.yaml`, else `~/.config/chaosdeck/keys.yaml`. A relative
/// XDG_CONFIG_HOME is ignored, as the XDG spec asks.
pub fn config_path() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    let base =
        xdg.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("chaosdeck").join("keys.yaml"))
}

/// One key or a list of keys, each with its line (0 when the YAML did not say).
struct KeyList(Vec<(String, u64)>);

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<KeyList, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = KeyList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key or a list of keys")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeyList, E> {
                Ok(KeyList(vec![(v.to_string(), 0)]))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<KeyList, E> {
                Ok(KeyList(vec![(v.to_string(), 0)]))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<KeyList, E> {
                Ok(KeyList(vec![(v.to_string(), 0)]))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<KeyList, E> {
                Ok(KeyList(vec![(v.to_string(), 0)]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<KeyList, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = seq.next_element::<Spanned<OneKey>>()? {
                    keys.push((key.value.0, key.referenced.line()));
                }
                Ok(KeyList(keys))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// One scalar key; digits and `true` come back from YAML as numbers and booleans.
struct OneKey(String);

impl<'de> Deserialize<'de> for OneKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OneKey, D::Error> {
        let list = KeyList::deserialize(d)?;
        match <[(String, u64); 1]>::try_from(list.0) {
            Ok([(key, _)]) => Ok(OneKey(key)),
            Err(_) => Err(serde::de::Error::custom("a list inside a list of keys")),
        }
    }
}

/// Names a key can have in the file (case-insensitive), besides a single character.
const NAMED: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("s-tab", KeyCode::BackTab),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("space", KeyCode::Char(' ')),
];

fn parse_key(text: &str) -> Result<KeyCode, String> {
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return if c.is_control() {
            Err("a control character".into())
        } else {
            Ok(KeyCode::Char(c))
        };
    }
    let lower = text.to_lowercase();
    if let Some((_, code)) = NAMED.iter().find(|(name, _)| *name == lower) {
        return Ok(*code);
    }
    if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok())
        && (1..=12).contains(&n)
    {
        return Ok(KeyCode::F(n));
    }
    if lower.contains('-') || lower.contains('+') {
        return Err("modifier keys (Ctrl, Alt) cannot be bound; Ctrl-C always quits".into());
    }
    Err("expected one character, F1…F12 or one of Enter, Esc, Tab, BackTab, Up, Down, Left, \
         Right, Home, End, PageUp, PageDown, Backspace, Delete, Insert, Space"
        .into())
}

/// A key as the help screen and status bar show it.
pub fn key_name(code: KeyCode) -> String {
    match code {
        KeyCode::Char(' ') => "Space".into(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::BackTab => "S-Tab".into(),
        KeyCode::F(n) => format!("F{n}"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KeyMap, String> {
        KeyMap::parse(text, Path::new("/home/op/.config/chaosdeck/keys.yaml"))
            .map_err(|e| e.to_string())
    }

    fn press(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn defaults_bind_every_action_once() {
        let map = KeyMap::default();
        assert_eq!(map.bindings().len(), DEFAULTS.len());
        assert_eq!(map.lookup(&press('!')), Some(Action::Emergency));
        assert_eq!(map.bindings()[4].label, "j/↓");
        assert_eq!(map.hints(true), "? help  x undo  m mark  p pause  s stop  / filter  q quit");
        assert_eq!(map.hints(false), "? help  x undo  m mark  / filter  q quit");
        assert_eq!(map.key_of(Action::Emergency).as_deref(), Some("!"));
        // The defaults pass the same checks as a file.
        assert!(parse("").is_ok());
    }

    #[test]
    fn a_file_replaces_the_keys_of_the_actions_it_names() {
        let map =
            parse("emergency: F12\nexecute: [u, Delete]\n# a comment\nquit: \"Q\"\nup: [k, y]\n")
                .unwrap();
        assert_eq!(map.lookup(&press('y')), Some(Action::Up), "a bare y is the letter");
        assert_eq!(
            map.lookup(&KeyEvent::new(KeyCode::F(12), KeyModifiers::NONE)),
            Some(Action::Emergency)
        );
        assert_eq!(map.lookup(&press('!')), None, "the old emergency key is free");
        assert_eq!(map.lookup(&press('u')), Some(Action::Execute));
        assert_eq!(map.lookup(&press('x')), None);
        assert_eq!(map.lookup(&press('Q')), Some(Action::Quit));
        assert_eq!(map.lookup(&press('j')), Some(Action::Down), "others keep their defaults");
        assert_eq!(map.key_of(Action::Emergency).as_deref(), Some("F12"));
        assert!(map.hints(true).contains("u undo"));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(map.lookup(&ctrl_c), Some(Action::Quit));
    }

    #[test]
    fn unknown_action_names_file_and_line() {
        let err = parse("help: \"?\"\n\nexplode: x\n").unwrap_err();
        assert!(
            err.starts_with("/home/op/.config/chaosdeck/keys.yaml:3: unknown action `explode`"),
            "{err}"
        );
    }

    #[test]
    fn unparsable_key_names_its_line() {
        let err = parse("down:\n  - j\n  - Ctrl-n\n").unwrap_err();
        assert!(
            err.starts_with(
                "/home/op/.config/chaosdeck/keys.yaml:3: cannot read key `Ctrl-n` for `down`"
            ),
            "{err}"
        );
        let err = parse("up: Upp\n").unwrap_err();
        assert!(err.contains("keys.yaml:1: cannot read key `Upp`"), "{err}");
    }

    #[test]
    fn yaml_errors_name_file_and_line() {
        let err = parse("help: \"?\"\nquit: [q\n  stop: s\n").unwrap_err();
        assert!(err.starts_with("/home/op/.config/chaosdeck/keys.yaml:"), "{err}");
        let line: u64 = err.split(':').nth(1).and_then(|l| l.parse().ok()).unwrap_or(0);
        assert!((2..=4).contains(&line), "{err}");
        let err = parse("- help\n- quit\n").unwrap_err();
        assert!(err.contains("keys.yaml:1: not a YAML map"), "{err}");
    }

    #[test]
    fn an_action_named_twice_is_an_error_not_the_last_one_winning() {
        let err = parse("quit: q\nhelp: \"?\"\nquit: Q\n").unwrap_err();
        assert!(err.starts_with("/home/op/.config/chaosdeck/keys.yaml:3:"), "{err}");
        assert!(err.to_lowercase().contains("duplicate"), "{err}");
    }

    #[test]
    fn two_actions_on_one_key_is_an_error() {
        let err = parse("help: \"?\"\nexecute: j\n").unwrap_err();
        assert!(
            err.contains("keys.yaml:2: key `j` is bound to both `down` and `execute`"),
            "{err}"
        );
        let err = parse("stop: p\npause_resume: p\n").unwrap_err();
        assert!(err.contains("key `p` is bound to both"), "{err}");
    }

    #[test]
    fn emergency_may_move_but_never_share_or_vanish() {
        let err = parse("emergency: x\n").unwrap_err();
        assert!(err.contains("keys.yaml:1: key `x` is bound to both"), "{err}");
        assert!(err.contains("emergency key must not share"), "{err}");
        let err = parse("rescan: \"!\"\n").unwrap_err();
        assert!(err.contains("emergency key must not share"), "{err}");
        let err = parse("emergency: []\n").unwrap_err();
        assert!(err.contains("keys.yaml:1: the emergency action must keep a key"), "{err}");
        // Moving it and giving its old key to another action is fine.
        let map = parse("emergency: E\nrescan: [r, \"!\"]\n").unwrap();
        assert_eq!(map.lookup(&press('!')), Some(Action::Rescan));
        assert_eq!(map.lookup(&press('E')), Some(Action::Emergency));
    }

    #[test]
    fn the_readme_example_is_valid() {
        let readme = include_str!("../../README.md");
        let section = readme.split("### Your own keys").nth(1).unwrap_or_default();
        let example = section.split("```yaml\n").nth(1).and_then(|s| s.split("```").next());
        let map = parse(example.unwrap_or("missing: example")).unwrap();
        assert_eq!(
            map.lookup(&KeyEvent::new(KeyCode::F(12), KeyModifiers::NONE)),
            Some(Action::Emergency)
        );
    }

    #[test]
    fn a_missing_file_means_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let map = KeyMap::load(&dir.path().join("keys.yaml")).unwrap();
        assert_eq!(map.lookup(&press('x')), Some(Action::Execute));
    }
}
