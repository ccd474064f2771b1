//! The status bar: the run and its auto_rollback (an attached run: its Lease), what needs
//! attention (invalid entries, a
//! rollback under way, read-only, what the last rollback could not undo), then the keys. The
//! context, the engine state, the pending count and the emergency key are in the header.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::{App, Mode};

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let h = &app.header;
    let mut spans = Vec::new();
    if app.mode == Mode::Run {
        let run: String = h
            .run_uuid
            .as_deref()
            .map(|r| r.chars().take(8).collect())
            .unwrap_or_else(|| "-".into());
        spans.push(Span::raw(format!(
            " run {run} auto_rollback {} ",
            if h.auto_rollback { "on" } else { "off" }
        )));
    } else if let Some(attached) = &h.attached {
        // The Lease's state stays in sight here: the header gives its room to the run's state.
        spans.push(Span::raw(format!(" {attached} ")));
    } else {
        // The journal's path is in the Journal panel's title.
        spans.push(Span::styled(" inspect ", theme.dim()));
    }
    let invalid = app.tree.invalid();
    if invalid > 0 {
        spans.push(Span::styled(format!("{invalid} invalid "), theme.danger_banner()));
    }
    if let Some(progress) = &app.rollback {
        spans.push(Span::styled(format!(" {} ", progress.line()), theme.warn()));
    }
    if app.read_only.is_some() {
        spans
            .push(Span::styled(" READ-ONLY: lease lost, watchdog undoing ", theme.danger_banner()));
    }
    if app.not_undone > 0 {
        spans.push(Span::styled(format!("{} not undone ", app.not_undone), theme.danger_banner()));
    }
    spans.push(Span::styled(app.keys.hints(app.mode == Mode::Run).to_string(), theme.dim()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
