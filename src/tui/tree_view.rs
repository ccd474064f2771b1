//! The Journal panel's widget state: the tree items, and which paths (run uuid → context
//! directory → entry file) are open and selected.
//!
//! The tree widget flattens every open item on each frame and clones each row's identifier
//! path while doing it. With names as identifiers that was three string clones and hashes per
//! entry row: with everything unfolded (11,050 rows) most of a frame. Names are therefore
//! interned here to small numbers that cost a copy; the numbers never leave this module, callers
//! speak names. Owns no journal data: the items are built from a scan by `tree::items`.

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Paragraph};
use tui_tree_widget::{Tree, TreeItem, TreeState};

use crate::journal::names::EXECUTED_EXT;

/// An interned name.
pub type NameId = usize;

/// Names seen this session and their numbers. Only grows: an open or selected path keeps its
/// meaning across rescans, and a journal has far fewer distinct names than a session has memory.
#[derive(Debug, Default)]
pub struct Names {
    ids: HashMap<String, NameId>,
    names: Vec<String>,
}

impl Names {
    /// The number of `name`, given one on first sight.
    pub fn id(&mut self, name: &str) -> NameId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len();
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    fn name(&self, id: NameId) -> &str {
        self.names.get(id).map_or("", String::as_str)
    }
}

#[derive(Default)]
pub struct TreeView {
    items: Vec<TreeItem<'static, NameId>>,
    state: TreeState<NameId>,
    names: Names,
}

impl TreeView {
    /// Replaces the items; `build` numbers the names it uses with the session's [`Names`].
    pub fn set_items(&mut self, build: impl FnOnce(&mut Names) -> Vec<TreeItem<'static, NameId>>) {
        self.items = build(&mut self.names);
    }

    fn path_ids(&mut self, path: &[&str]) -> Vec<NameId> {
        path.iter().map(|name| self.names.id(name)).collect()
    }

    /// Unfolds the item at `path`; false when it was open already.
    pub fn open(&mut self, path: &[&str]) -> bool {
        let ids = self.path_ids(path);
        self.state.open(ids)
    }

    pub fn is_open(&self, path: &[&str]) -> bool {
        let known: Option<Vec<NameId>> =
            path.iter().map(|name| self.names.ids.get(*name).copied()).collect();
        known.is_some_and(|ids| self.state.opened().contains(&ids))
    }

    /// Selects `path`; false when it was selected already (not a failure).
    pub fn select(&mut self, path: &[&str]) -> bool {
        let ids = self.path_ids(path);
        self.state.select(ids)
    }

    /// The selected path: `[run]`, `[run, context]` or `[run, context, entry file]`.
    pub fn selected(&self) -> Vec<&str> {
        self.state.selected().iter().map(|id| self.names.name(*id)).collect()
    }

    /// The names of the items under `path`, in order (`&[]`: the runs).
    pub fn children(&self, path: &[&str]) -> Vec<&str> {
        let mut level: &[TreeItem<'static, NameId>] = &self.items;
        for name in path {
            let Some(item) = level.iter().find(|i| self.names.name(*i.identifier()) == *name)
            else {
                return Vec::new();
            };
            level = item.children();
        }
        level.iter().map(|i| self.names.name(*i.identifier())).collect()
    }

    /// Keeps the selection on what is still shown: an entry renamed `.executed` stays selected
    /// under its new name, a vanished node gives way to its parent, and an empty selection
    /// becomes the first run. Done by name: the widget's own `select_first` needs a rendered
    /// frame first.
    pub fn keep_selection_valid(&mut self) {
        let selected = self.state.selected().to_vec();
        let mut kept: Vec<NameId> = Vec::new();
        let mut level: &[TreeItem<'static, NameId>] = &self.items;
        for id in &selected {
            let name = self.names.name(*id);
            let executed = format!("{name}{EXECUTED_EXT}");
            let Some(item) = level.iter().find(|i| {
                let shown = self.names.name(*i.identifier());
                shown == name || shown == executed
            }) else {
                break;
            };
            kept.push(*item.identifier());
            level = item.children();
        }
        if kept.is_empty()
            && let Some(first) = self.items.first()
        {
            kept.push(*first.identifier());
        }
        if kept != selected {
            self.state.select(kept);
        }
    }

    pub fn key_up(&mut self) -> bool {
        self.state.key_up()
    }

    pub fn key_down(&mut self) -> bool {
        self.state.key_down()
    }

    pub fn key_left(&mut self) -> bool {
        self.state.key_left()
    }

    pub fn key_right(&mut self) -> bool {
        self.state.key_right()
    }

    pub fn toggle_selected(&mut self) -> bool {
        self.state.toggle_selected()
    }

    pub fn select_first(&mut self) -> bool {
        self.state.select_first()
    }

    pub fn select_last(&mut self) -> bool {
        self.state.select_last()
    }

    pub fn draw(&mut self, frame: &mut Frame, area: Rect, block: Block<'_>, highlight: Style) {
        match Tree::new(&self.items) {
            Ok(tree) => {
                let tree = tree.block(block).highlight_style(highlight).highlight_symbol("» ");
                frame.render_stateful_widget(tree, area, &mut self.state);
            }
            Err(e) => frame.render_widget(
                Paragraph::new(format!("cannot show the journal: {e}")).block(block),
                area,
            ),
        }
    }
}
