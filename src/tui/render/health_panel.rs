//! The Health panel: one line per check — status icon, name, last answer, latency — and a
//! timeline of its rounds, under a line marking the rounds that fell in a chaos window.
//!
//! Owns: drawing [`HealthView`]. Must not change state.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::super::app::App;
use super::super::health_rows::HealthView;
use super::scenarios::truncate;

/// Lines the panel wants: a line per check, the chaos line, and borders.
pub fn height(view: &HealthView) -> u16 {
    if view.rows.is_empty() { 0 } else { u16::try_from(view.rows.len() + 3).unwrap_or(u16::MAX) }
}

/// The rows to draw in `room` lines: all of them in their order when they fit, else the
/// failing ones first, so a short terminal never hides a red check.
fn rows_in(view: &HealthView, room: usize) -> Vec<&super::super::health_rows::HealthRow> {
    let mut rows: Vec<_> = view.rows.iter().collect();
    if rows.len() > room {
        rows.sort_by_key(|r| r.last.as_ref().is_none_or(|s| s.ok));
        rows.truncate(room);
    }
    rows
}

const DETAIL_W: usize = 11;
const LATENCY_W: usize = 7;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = app.theme;
    let view = &app.health;
    let inner_w = area.width.saturating_sub(2) as usize;
    let longest = view.rows.iter().map(|r| r.info.name.chars().count()).max().unwrap_or(0);
    let name_w = longest.clamp(8, 26).min(inner_w / 3);
    let fixed = 2 + name_w + 1 + DETAIL_W + 1 + LATENCY_W + 1;
    let timeline_w = inner_w.saturating_sub(fixed);
    let last = view.last_tick.unwrap_or(0);
    let first = (last + 1).saturating_sub(timeline_w as u64);
    let ticks: Vec<u64> =
        if view.last_tick.is_some() { (first..=last).collect() } else { Vec::new() };

    let mut lines = Vec::new();
    let inner_h = usize::from(area.height.saturating_sub(2));
    // Short of room, the checks come before the chaos-window line.
    let with_chaos_line = inner_h > view.rows.len();
    if with_chaos_line {
        let chaos: String =
            ticks.iter().map(|t| if view.chaos_ticks.contains(t) { '━' } else { ' ' }).collect();
        lines.push(Line::from(vec![
            Span::styled(format!("{:<w$}", "  chaos windows", w = fixed.min(inner_w)), theme.dim()),
            Span::styled(chaos, theme.warn()),
        ]));
    }
    let shown = rows_in(view, inner_h);
    let hidden = view.rows.len() - shown.len();
    for row in shown {
        let (icon, style) = match &row.last {
            None => ("·", theme.dim()),
            Some(s) if s.ok => ("✓", theme.ok()),
            Some(_) => ("✗", theme.bad()),
        };
        let (detail, latency) = match &row.last {
            Some(s) => (s.detail.clone(), format!("{}ms", s.latency.as_millis())),
            None => ("waiting".to_string(), String::new()),
        };
        let mut spans = vec![
            Span::styled(format!("{icon} "), style),
            Span::raw(format!("{:<name_w$} ", truncate(&row.info.name, name_w))),
            Span::styled(format!("{:<DETAIL_W$} ", truncate(&detail, DETAIL_W)), style),
            Span::styled(format!("{latency:>LATENCY_W$} "), theme.dim()),
        ];
        let mut at = row.history.iter().rev().peekable();
        let mut cells: Vec<Option<bool>> = Vec::with_capacity(ticks.len());
        for t in ticks.iter().rev() {
            while at.peek().is_some_and(|(tick, _)| tick > t) {
                at.next();
            }
            cells.push(at.peek().filter(|(tick, _)| tick == t).map(|(_, ok)| *ok));
        }
        cells.reverse();
        spans.extend(cells.into_iter().map(|cell| match cell {
            Some(true) => Span::styled("▇", theme.ok()),
            Some(false) => Span::styled("▁", theme.bad()),
            None => Span::styled(" ", Style::default()),
        }));
        lines.push(Line::from(spans));
    }
    let failing = view.failing();
    let mut title = format!(" Health {}", view.rows.len());
    if failing > 0 {
        title.push_str(&format!(" · {failing} failing"));
    }
    if hidden > 0 {
        title.push_str(&format!(" · {hidden} not failing, hidden"));
    }
    title.push_str(&format!(" · every {} s ", view.interval.as_secs()));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, if failing > 0 { theme.bad() } else { Style::default() }));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
