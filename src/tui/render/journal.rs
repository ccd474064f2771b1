//! The Journal panel: runs → contexts → entries, newest first, with counts and state badges.

use ratatui::Frame;
use ratatui::layout::Rect;
use tui_tree_widget::Tree;

use super::super::app::{App, Focus};

pub fn draw(frame: &mut Frame, app: &mut App, area: Rect) {
    let filter =
        if app.filter.is_empty() { String::new() } else { format!(" filter: {} ", app.filter) };
    let title = format!(" Journal {} pending{filter} ", app.outstanding());
    let block = super::panel(app, title, Focus::Journal);
    match Tree::new(&app.items) {
        Ok(tree) => {
            let tree =
                tree.block(block).highlight_style(app.theme.selected()).highlight_symbol("» ");
            frame.render_stateful_widget(tree, area, &mut app.tree_state);
        }
        Err(e) => frame.render_widget(
            ratatui::widgets::Paragraph::new(format!("cannot show the journal: {e}")).block(block),
            area,
        ),
    }
}
