//! The status bar: cluster (loud when not the sandbox), run, auto_rollback, engine, pending,
//! invalid entries and what the last rollback could not undo (loud), keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::{App, Mode};

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let h = &app.header;
    let cluster =
        if h.context.is_empty() { "no cluster".to_string() } else { format!(" {} ", h.context) };
    let cluster_style = if h.is_sandbox { theme.ok() } else { theme.danger_banner() };
    let engine = match (app.mode, app.engine_state) {
        (Mode::Inspect, _) => "inspect".to_string(),
        (_, Some(s)) => format!("{s:?}").to_lowercase(),
        (_, None) => "starting".into(),
    };
    let run: String =
        h.run_uuid.as_deref().map(|r| r.chars().take(8).collect()).unwrap_or_else(|| "-".into());
    let pending = app.outstanding();
    let spans = vec![
        Span::styled(cluster, cluster_style),
        Span::raw(format!(
            " run {run} auto_rollback {} ",
            if h.auto_rollback { "on" } else { "off" }
        )),
        Span::styled(format!("{engine} "), theme.accent()),
        Span::styled(
            format!("{pending} pending "),
            if pending > 0 { theme.warn() } else { theme.ok() },
        ),
    ];
    let mut spans = spans;
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
    spans.push(Span::styled(app.keys.hints().to_string(), theme.dim()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
