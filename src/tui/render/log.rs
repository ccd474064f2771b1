//! The Log panel: the tail of engine events with their time, scrollable back; the selected line
//! (the newest unless scrolled) opens whole with Enter.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::{App, Focus};
use super::scenarios::truncate;

/// Narrower than this, the time column is left out: the text matters more.
const TIME_FROM_WIDTH: usize = 60;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let height = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let selected = app.log_selected();
    // The selected line is the last one in view (all of the log when it is shorter).
    let end = selected.map_or(0, |s| s + 1).max(height.min(app.log.len()));
    let start = end.saturating_sub(height);
    let focused = app.focus == Focus::Log;
    let with_time = width >= TIME_FROM_WIDTH;
    let lines: Vec<Line> = (start..end)
        .filter_map(|i| {
            let text = app.log.get(i)?;
            let mut spans = Vec::new();
            let mut room = width;
            if with_time && let Some(at) = app.log_at.get(i) {
                spans.push(Span::styled(format!("{at} "), app.theme.dim()));
                room = room.saturating_sub(at.chars().count() + 1);
            }
            spans.push(Span::raw(truncate(text, room)));
            let line = Line::from(spans);
            Some(if focused && Some(i) == selected {
                line.style(app.theme.selected())
            } else {
                line
            })
        })
        .collect();
    let title = if focused { " Log (Enter: whole line) " } else { " Log " };
    frame.render_widget(
        Paragraph::new(lines).block(super::panel::panel(app, title.into(), Focus::Log)),
        area,
    );
}
