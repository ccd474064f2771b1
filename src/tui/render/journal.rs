//! The Journal panel: runs → contexts → entries, newest first, with counts and state badges.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::super::app::{App, Focus};

pub fn draw(frame: &mut Frame, app: &mut App, area: Rect) {
    let filter =
        if app.filter.is_empty() { String::new() } else { format!(" filter: {} ", app.filter) };
    let title = format!(" Journal {} pending{filter} ", app.outstanding());
    let block = super::panel(app, title, Focus::Journal);
    let highlight = app.theme.selected();
    app.tree_view.draw(frame, area, block, highlight);
}
