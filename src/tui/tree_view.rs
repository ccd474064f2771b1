//! The Journal panel's tree: its items, which paths (run uuid → context directory → entry
//! file) are open and selected, and the drawing of the rows in view.
//!
//! The visible rows are flattened once per change (items, or a fold opened or closed), not per
//! frame, and a frame draws only the rows in view: with every run and context unfolded a
//! journal of 10,000 entries is 11,050 rows. Names are interned to small numbers so a path
//! costs integer copies; only the item builder (`tree::items`, given [`Names`]) sees the
//! numbers, everything else speaks names. Owns no journal data: the items are built from a scan
//! by `tree::items`.

use std::collections::{HashMap, HashSet};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Text};
use ratatui::widgets::{Block, Widget};

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

/// One node of the tree: a run, a context or an entry, and the line it is drawn as.
pub struct Item {
    id: NameId,
    text: Text<'static>,
    children: Vec<Item>,
}

impl Item {
    pub fn leaf(id: NameId, line: Line<'static>) -> Item {
        Item { id, text: line.into(), children: Vec::new() }
    }

    pub fn node(id: NameId, line: Line<'static>, children: Vec<Item>) -> Item {
        Item { id, text: line.into(), children }
    }
}

/// A visible row: the item's index and name at each level, and whether it is unfolded.
struct Row {
    path: Vec<(usize, NameId)>,
    open: bool,
}

impl Row {
    fn is(&self, ids: &[NameId]) -> bool {
        self.path.len() == ids.len() && self.path.iter().zip(ids).all(|((_, a), b)| a == b)
    }

    fn ids(&self) -> Vec<NameId> {
        self.path.iter().map(|(_, id)| *id).collect()
    }
}

const SELECTED_SYMBOL: &str = "» ";
const UNSELECTED_SYMBOL: &str = "  ";
const OPEN_SYMBOL: &str = "\u{25bc} ";
const CLOSED_SYMBOL: &str = "\u{25b6} ";
const LEAF_SYMBOL: &str = "  ";

#[derive(Default)]
pub struct TreeView {
    items: Vec<Item>,
    names: Names,
    opened: HashSet<Vec<NameId>>,
    selected: Vec<NameId>,
    /// The visible rows, valid unless `stale`.
    rows: Vec<Row>,
    stale: bool,
    /// The first row in view.
    offset: usize,
}

impl TreeView {
    /// Replaces the items; `build` numbers the names it uses with the session's [`Names`].
    pub fn set_items(&mut self, build: impl FnOnce(&mut Names) -> Vec<Item>) {
        self.items = build(&mut self.names);
        self.stale = true;
    }

    fn path_ids(&mut self, path: &[&str]) -> Vec<NameId> {
        path.iter().map(|name| self.names.id(name)).collect()
    }

    fn open_ids(&mut self, ids: Vec<NameId>) -> bool {
        if ids.is_empty() {
            return false;
        }
        let changed = self.opened.insert(ids);
        self.stale |= changed;
        changed
    }

    fn close_ids(&mut self, ids: &[NameId]) -> bool {
        let changed = self.opened.remove(ids);
        self.stale |= changed;
        changed
    }

    fn select_ids(&mut self, ids: Vec<NameId>) -> bool {
        let changed = self.selected != ids;
        self.selected = ids;
        changed
    }

    /// Unfolds the item at `path`; false when it was open already.
    pub fn open(&mut self, path: &[&str]) -> bool {
        let ids = self.path_ids(path);
        self.open_ids(ids)
    }

    pub fn is_open(&self, path: &[&str]) -> bool {
        let known: Option<Vec<NameId>> =
            path.iter().map(|name| self.names.ids.get(*name).copied()).collect();
        known.is_some_and(|ids| self.opened.contains(&ids))
    }

    /// Selects `path`; false when it was selected already (not a failure).
    pub fn select(&mut self, path: &[&str]) -> bool {
        let ids = self.path_ids(path);
        self.select_ids(ids)
    }

    /// The selected path: `[run]`, `[run, context]` or `[run, context, entry file]`.
    pub fn selected(&self) -> Vec<&str> {
        self.selected.iter().map(|id| self.names.name(*id)).collect()
    }

    /// The names of the items under `path`, in order (`&[]`: the runs).
    pub fn children(&self, path: &[&str]) -> Vec<&str> {
        let mut level: &[Item] = &self.items;
        for name in path {
            let Some(item) = level.iter().find(|i| self.names.name(i.id) == *name) else {
                return Vec::new();
            };
            level = &item.children;
        }
        level.iter().map(|i| self.names.name(i.id)).collect()
    }

    /// Keeps the selection on what is still shown: an entry renamed `.executed` stays selected
    /// under its new name, a vanished node gives way to its parent, and an empty selection
    /// becomes the first run.
    pub fn keep_selection_valid(&mut self) {
        let mut kept: Vec<NameId> = Vec::new();
        let mut level: &[Item] = &self.items;
        for id in &self.selected {
            let name = self.names.name(*id);
            let executed = format!("{name}{EXECUTED_EXT}");
            let Some(item) = level.iter().find(|i| {
                let shown = self.names.name(i.id);
                shown == name || shown == executed
            }) else {
                break;
            };
            kept.push(item.id);
            level = &item.children;
        }
        if kept.is_empty()
            && let Some(first) = self.items.first()
        {
            kept.push(first.id);
        }
        if kept != self.selected {
            self.select_ids(kept);
        }
    }

    fn rows(&mut self) -> &[Row] {
        if self.stale {
            let mut rows = std::mem::take(&mut self.rows);
            rows.clear();
            flatten(&self.items, &self.opened, &mut Vec::new(), &mut Vec::new(), &mut rows);
            self.rows = rows;
            self.stale = false;
        }
        &self.rows
    }

    fn selected_row(&mut self) -> Option<usize> {
        let selected = std::mem::take(&mut self.selected);
        let at = self.rows().iter().position(|r| r.is(&selected));
        self.selected = selected;
        at
    }

    /// Moves the selection to the visible row `to(current)` (clamped to the last row).
    fn select_row(&mut self, to: impl FnOnce(Option<usize>) -> usize) -> bool {
        let current = self.selected_row();
        let rows = self.rows();
        let at = to(current).min(rows.len().saturating_sub(1));
        let ids = rows.get(at).map(Row::ids).unwrap_or_default();
        self.select_ids(ids)
    }

    pub fn key_up(&mut self) -> bool {
        // Nothing selected: from the end.
        self.select_row(|current| current.map_or(usize::MAX, |c| c.saturating_sub(1)))
    }

    pub fn key_down(&mut self) -> bool {
        self.select_row(|current| current.map_or(0, |c| c.saturating_add(1)))
    }

    pub fn select_first(&mut self) -> bool {
        self.select_row(|_| 0)
    }

    pub fn select_last(&mut self) -> bool {
        self.select_row(|_| usize::MAX)
    }

    /// Folds the selection when it is open, else selects its parent.
    pub fn key_left(&mut self) -> bool {
        let selected = std::mem::take(&mut self.selected);
        let mut changed = self.close_ids(&selected);
        self.selected = selected;
        if !changed {
            changed = self.selected.pop().is_some();
        }
        changed
    }

    /// Unfolds the selection.
    pub fn key_right(&mut self) -> bool {
        if self.selected.is_empty() {
            return false;
        }
        self.open_ids(self.selected.clone())
    }

    pub fn toggle_selected(&mut self) -> bool {
        if self.selected.is_empty() {
            return false;
        }
        let selected = self.selected.clone();
        if self.close_ids(&selected) { true } else { self.open_ids(selected) }
    }

    /// Draws the rows in view inside `block`, the selection marked and in `highlight`. The
    /// selection is kept in view on every frame (there is no scrolling apart from it), so a
    /// smaller terminal or a fold does not hide it.
    pub fn draw(&mut self, frame: &mut Frame, area: Rect, block: Block<'_>, highlight: Style) {
        let inner = block.inner(area);
        block.render(area, frame.buffer_mut());
        if inner.width == 0 || inner.height == 0 {
            return;
        }
        let selected_row = self.selected_row();
        let rows_len = self.rows().len();
        if rows_len == 0 {
            return;
        }
        let height = usize::from(inner.height);
        // Never scrolled past a full view (a fold near the end leaves no blank rows below).
        let mut start = self.offset.min(rows_len.saturating_sub(height));
        if let Some(at) = selected_row {
            if at < start {
                start = at;
            } else if at >= start + height {
                start = at + 1 - height;
            }
        }
        self.offset = start;
        let buf = frame.buffer_mut();
        let marks = !self.selected.is_empty();
        for (n, row) in self.rows[start..].iter().take(height).enumerate() {
            let Some(item) = item_at(&self.items, &row.path) else { continue };
            let y = inner.y + n as u16;
            let style = item.text.style;
            let is_selected = row.is(&self.selected);
            let end = inner.x + inner.width;
            let mut x = inner.x;
            let mut put = |x: &mut u16, s: &str| {
                let room = usize::from(end.saturating_sub(*x));
                *x = buf.set_stringn(*x, y, s, room, style).0;
            };
            if marks {
                put(&mut x, if is_selected { SELECTED_SYMBOL } else { UNSELECTED_SYMBOL });
            }
            put(&mut x, &" ".repeat((row.path.len() - 1) * 2));
            let fold = match (item.children.is_empty(), row.open) {
                (true, _) => LEAF_SYMBOL,
                (false, true) => OPEN_SYMBOL,
                (false, false) => CLOSED_SYMBOL,
            };
            put(&mut x, fold);
            let text_area = Rect { x, y, width: end.saturating_sub(x), height: 1 };
            (&item.text).render(text_area, buf);
            if is_selected {
                buf.set_style(Rect { x: inner.x, y, width: inner.width, height: 1 }, highlight);
            }
        }
    }
}

/// Appends the rows of `items` and of their open descendants, depth first.
fn flatten(
    items: &[Item],
    opened: &HashSet<Vec<NameId>>,
    path: &mut Vec<(usize, NameId)>,
    ids: &mut Vec<NameId>,
    rows: &mut Vec<Row>,
) {
    for (i, item) in items.iter().enumerate() {
        path.push((i, item.id));
        ids.push(item.id);
        let open = opened.contains(ids.as_slice());
        rows.push(Row { path: path.clone(), open });
        if open {
            flatten(&item.children, opened, path, ids, rows);
        }
        path.pop();
        ids.pop();
    }
}

fn item_at<'i>(items: &'i [Item], path: &[(usize, NameId)]) -> Option<&'i Item> {
    let (&(first, _), rest) = path.split_first()?;
    let mut item = items.get(first)?;
    for &(i, _) in rest {
        item = item.children.get(i)?;
    }
    Some(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

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
                                    Item::leaf(names.id(&name), Line::raw(name))
                                })
                                .collect();
                            let name = format!("r{r}c{c}");
                            Item::node(names.id(&name), Line::raw(name), entries)
                        })
                        .collect();
                    let name = format!("r{r}");
                    Item::node(names.id(&name), Line::raw(name), contexts)
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
    fn rows_follow_folds_and_the_selection_stays_in_view() {
        let mut v = view();
        assert!(v.key_down(), "nothing selected: down selects the first row");
        assert_eq!(v.selected(), ["r0"]);
        assert_eq!(screen(&mut v, 4), ["» ▶ r0", "  ▶ r1", "  ▶ r2", ""]);
        for r in ["r0", "r1", "r2"] {
            v.open(&[r]);
            for c in ["c0", "c1"] {
                v.open(&[r, &format!("{r}{c}")]);
            }
        }
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
        assert_eq!(
            screen(&mut v, 3),
            ["        r2c0e1", "        r2c0e2", "»   ▶ r2c1"],
            "a fold at the bottom keeps the view full"
        );
        assert!(v.select_first());
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
            let entry = Item::leaf(names.id("r1c0e1.executed"), Line::raw("x"));
            let ctx = Item::node(names.id("r1c0"), Line::raw("c"), vec![entry]);
            vec![Item::node(names.id("r1"), Line::raw("r"), vec![ctx])]
        });
        v.keep_selection_valid();
        assert_eq!(v.selected(), ["r1", "r1c0", "r1c0e1.executed"]);
        v.set_items(|_| Vec::new());
        v.keep_selection_valid();
        assert!(v.selected().is_empty());
        assert!(screen(&mut v, 2).iter().all(String::is_empty), "an empty tree draws nothing");
    }
}
