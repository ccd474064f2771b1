//! The Journal panel's tree: its items (`tui_tree_widget::TreeItem`s, built once per scan or
//! filter change and kept between frames), and which paths (run uuid → context directory →
//! entry file) are open and selected.
//!
//! The widget flattens the open items on each frame and clones each row's identifier path
//! while doing it, so names are interned to small numbers that cost a copy; only the item
//! builder (`tree::items`, given [`Names`]) sees the numbers, everything else speaks names.
//! Owns no journal data: the items are built from a scan by `tree::items`.

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Paragraph};
use tui_tree_widget::{Tree, TreeItem, TreeState};

use crate::journal::names::EXECUTED_EXT;

/// An interned name.
pub type NameId = usize;

/// One node of the tree as the widget takes it.
pub type Item = TreeItem<'static, NameId>;

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
    items: Vec<Item>,
    state: TreeState<NameId>,
    names: Names,
}

impl TreeView {
    /// Replaces the items; `build` numbers the names it uses with the session's [`Names`].
    pub fn set_items(&mut self, build: impl FnOnce(&mut Names) -> Vec<Item>) {
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
        let mut level: &[Item] = &self.items;
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
    /// becomes the first run. Done by name: the widget's own `select_first` needs a drawn frame.
    pub fn keep_selection_valid(&mut self) {
        let selected = self.state.selected().to_vec();
        let mut kept: Vec<NameId> = Vec::new();
        let mut level: &[Item] = &self.items;
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

    // The moves below follow the rows of the last drawn frame (the widget's rule).

    pub fn key_up(&mut self) -> bool {
        self.state.key_up()
    }

    pub fn key_down(&mut self) -> bool {
        self.state.key_down()
    }

    /// Folds the selection when it is open, else selects its parent.
    pub fn key_left(&mut self) -> bool {
        self.state.key_left()
    }

    /// Unfolds the selection.
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

    /// Draws the tree inside `block`, the selection marked and in `highlight`.
    pub fn draw(&mut self, frame: &mut Frame, area: Rect, block: Block<'_>, highlight: Style) {
        match Tree::new(&self.items) {
            Ok(tree) => {
                let tree = tree
                    .block(block)
                    .highlight_style(highlight)
                    .highlight_symbol("» ")
                    .node_open_symbol("\u{25bc} ")
                    .node_closed_symbol("\u{25b6} ")
                    .node_no_children_symbol("  ");
                frame.render_stateful_widget(tree, area, &mut self.state);
            }
            // Names are unique among siblings (uuids, directory and file names), so this is a
            // bug; said in the panel rather than drawing a wrong tree.
            Err(e) => frame.render_widget(
                Paragraph::new(format!("cannot show the journal: {e}")).block(block),
                area,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::text::Line;

    fn node(names: &mut Names, name: &str, children: Vec<Item>) -> Item {
        Item::new(names.id(name), Line::raw(name.to_string()), children).unwrap()
    }

    /// Runs r0..r2, each with contexts c0..c1, each with entries e0..e2 (names unique per
    /// parent, as the journal's are).
    fn view() -> TreeView {
        let mut v = TreeView::default();
        v.set_items(|names| {
            (0..3)
                .map(|r| {
                    let contexts = (0..2)
                        .map(|c| {
                            let entries = (0..3)
                                .map(|e| {
                                    let name = format!("r{r}c{c}e{e}");
                                    Item::new_leaf(names.id(&name), Line::raw(name))
                                })
                                .collect();
                            node(names, &format!("r{r}c{c}"), entries)
                        })
                        .collect();
                    node(names, &format!("r{r}"), contexts)
                })
                .collect()
        });
        v
    }

    fn screen(v: &mut TreeView, height: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(30, height)).unwrap();
        t.draw(|f| v.draw(f, f.area(), Block::default(), Style::default())).unwrap();
        let buf = t.backend().buffer();
        (0..height)
            .map(|y| (0..30).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().into())
            .collect()
    }

    #[test]
    fn rows_follow_folds_and_the_selection_is_scrolled_into_view() {
        let mut v = view();
        assert_eq!(screen(&mut v, 4), ["▶ r0", "▶ r1", "▶ r2", ""]);
        assert!(v.key_down(), "nothing selected: down selects the first row");
        assert_eq!(v.selected(), ["r0"]);
        assert_eq!(screen(&mut v, 4), ["» ▶ r0", "  ▶ r1", "  ▶ r2", ""]);
        for r in ["r0", "r1", "r2"] {
            v.open(&[r]);
            for c in ["c0", "c1"] {
                v.open(&[r, &format!("{r}{c}")]);
            }
        }
        screen(&mut v, 3);
        // 3 runs + 6 contexts + 18 entries.
        assert!(v.select_last());
        assert_eq!(v.selected(), ["r2", "r2c1", "r2c1e2"]);
        assert_eq!(
            screen(&mut v, 3),
            ["        r2c1e0", "        r2c1e1", "»       r2c1e2"],
            "the last row is scrolled into view"
        );
        assert!(v.key_left(), "a leaf cannot fold: left selects its parent");
        assert!(v.key_left(), "left folds the open context");
        assert!(!v.is_open(&["r2", "r2c1"]));
        assert!(screen(&mut v, 3).contains(&"»   ▶ r2c1".to_string()));
        assert!(v.select_first());
        screen(&mut v, 2);
        assert!(!v.key_up(), "up at the first row stays");
        assert_eq!(screen(&mut v, 2), ["» ▼ r0", "    ▼ r0c0"]);
        assert!(v.toggle_selected());
        assert_eq!(screen(&mut v, 2), ["» ▶ r0", "  ▼ r1"]);
        assert_eq!(v.children(&["r1"]), ["r1c0", "r1c1"]);
        assert!(v.children(&["nope"]).is_empty());
    }

    #[test]
    fn a_retired_entry_stays_selected_under_its_new_name() {
        let mut v = view();
        v.select(&["r1", "r1c0", "r1c0e1"]);
        v.set_items(|names| {
            let entry = Item::new_leaf(names.id("r1c0e1.executed"), Line::raw("x"));
            let ctx = node(names, "r1c0", vec![entry]);
            vec![node(names, "r1", vec![ctx])]
        });
        v.keep_selection_valid();
        assert_eq!(v.selected(), ["r1", "r1c0", "r1c0e1.executed"]);
        v.set_items(|_| Vec::new());
        v.keep_selection_valid();
        assert!(v.selected().is_empty());
        assert!(screen(&mut v, 2).iter().all(String::is_empty), "an empty tree draws nothing");
    }
}
