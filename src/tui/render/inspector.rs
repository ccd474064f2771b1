//! The Inspector: the selected entry in words, its kubectl equivalent, last error, the
//! before/after view of its undo, and the raw file.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Text};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::app::{App, Focus};
use crate::journal::before_after::HEADING;

use super::super::theme::Theme;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let text = match &app.inspected {
        Some(i) => styled(&i.text, app.theme),
        None => Text::raw("Select an entry in the journal (Enter) to see what it undoes."),
    };
    let block = super::panel::panel(app, " Inspector ".into(), Focus::Inspector);
    frame.render_widget(
        Paragraph::new(text)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((app.inspector_scroll, 0)),
        area,
    );
}

/// Colours the `-`/`+` lines of the before/after view; the raw file below it is left alone
/// (its YAML lists start with `- ` too).
fn styled(text: &str, theme: Theme) -> Text<'static> {
    let mut in_diff = false;
    text.lines()
        .map(|l| {
            if l.starts_with(HEADING) {
                in_diff = true;
            } else if !l.starts_with("  ") {
                in_diff = false;
            }
            let style = match l.get(..4) {
                Some("  - ") if in_diff => theme.bad(),
                Some("  + ") if in_diff => theme.ok(),
                _ => Default::default(),
            };
            Line::styled(l.to_string(), style)
        })
        .collect::<Vec<_>>()
        .into()
}
