//! The Inspector: the selected entry in words, its kubectl equivalent, last error, raw file.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Paragraph, Wrap};

use super::super::app::{App, Focus};

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let text = match &app.inspected {
        Some(i) => i.text.clone(),
        None => "Select an entry in the journal (Enter) to see what it undoes.".into(),
    };
    let block = super::panel(app, " Inspector ".into(), Focus::Inspector);
    frame.render_widget(
        Paragraph::new(text)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((app.inspector_scroll, 0)),
        area,
    );
}
