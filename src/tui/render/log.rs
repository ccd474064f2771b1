//! The Log panel: the tail of engine events, scrollable back.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::super::app::{App, Focus};
use super::scenarios::truncate;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let height = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    // Scrolling counts back from the newest line.
    let back = (app.log_scroll as usize).min(app.log.len().saturating_sub(height));
    let end = app.log.len() - back;
    let start = end.saturating_sub(height);
    let lines: Vec<Line> =
        app.log.range(start..end).map(|l| Line::raw(truncate(l, width))).collect();
    frame.render_widget(
        Paragraph::new(lines).block(super::panel(app, " Log ".into(), Focus::Log)),
        area,
    );
}
