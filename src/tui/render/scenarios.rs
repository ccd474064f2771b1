//! The Scenarios panel: status icon, iteration, a text gauge and the current step.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::{App, Focus, RowStatus};

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let inner_w = area.width.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    for (i, row) in app.scenarios.iter().enumerate() {
        let (icon, style) = match row.status {
            RowStatus::Queued => ("·", theme.dim()),
            RowStatus::Running => ("▶", theme.accent()),
            RowStatus::Passed => ("✓", theme.ok()),
            RowStatus::Failed => ("✗", theme.bad()),
            RowStatus::RolledBack => ("↺", theme.warn()),
            RowStatus::Stopped => ("■", theme.warn()),
            RowStatus::Skipped => ("-", theme.dim()),
        };
        let iter = format!(" {}/{}", row.iteration.max(1), app.header.iterations.max(1));
        let name_w = inner_w.saturating_sub(2 + iter.len());
        let mut head = vec![
            Span::styled(format!("{icon} "), style),
            Span::raw(truncate(&row.scenario_type, name_w)),
            Span::styled(iter, theme.dim()),
        ];
        if i == app.scenario_selected && app.focus == Focus::Scenarios {
            head = head.into_iter().map(|s| s.patch_style(theme.selected())).collect();
        }
        lines.push(Line::from(head));
        let detail = if row.status == RowStatus::Running {
            let bar_w = 10usize;
            let frac = if row.expected.is_zero() {
                0.0
            } else {
                (row.elapsed.as_secs_f64() / row.expected.as_secs_f64()).min(1.0)
            };
            let filled = (frac * bar_w as f64).round() as usize;
            format!(
                "  {}{} {}/{}s {}",
                "█".repeat(filled),
                "░".repeat(bar_w - filled),
                row.elapsed.as_secs(),
                row.expected.as_secs(),
                row.step
            )
        } else {
            format!("  {}", if row.step.is_empty() { &row.file } else { &row.step })
        };
        lines.push(Line::styled(truncate(&detail, inner_w), theme.dim()));
    }
    if lines.is_empty() {
        lines.push(Line::styled(" no engine: inspecting the journal", theme.dim()));
    }
    let title = format!(" Scenarios {} ", app.scenarios.len());
    frame.render_widget(
        Paragraph::new(lines).block(super::panel::panel(app, title, Focus::Scenarios)),
        area,
    );
}

pub(super) fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}
