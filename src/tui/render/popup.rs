//! Modal popups: help (from the key table), confirm, filter, quit-while-live.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::super::app::{App, Popup};
use super::panel::centered;

/// Draws the open popup, if any, centred in `within`.
pub fn draw(frame: &mut Frame, app: &App, within: Rect) {
    let Some(popup) = &app.popup else { return };
    let theme = app.theme;
    let (title, lines, w): (String, Vec<Line>, u16) = match popup {
        Popup::Help => (
            " Keys (any key closes) ".into(),
            app.keys
                .bindings()
                .iter()
                .map(|b| {
                    Line::from(vec![
                        Span::styled(format!("{:>8}  ", b.label), theme.accent()),
                        Span::raw(b.help),
                    ])
                })
                .collect(),
            70,
        ),
        Popup::Confirm { title, lines, .. } => {
            let mut out: Vec<Line> =
                lines.iter().take(12).map(|l| Line::raw(format!("  {l}"))).collect();
            if lines.len() > 12 {
                out.push(Line::raw(format!("  … and {} more", lines.len() - 12)));
            }
            out.push(Line::raw(""));
            out.push(Line::styled("  y/Enter confirm    n/Esc cancel", theme.accent()));
            (format!(" {title} "), out, 72)
        }
        Popup::Filter { input, .. } => (
            " Filter (run uuid, scenario, file or state) ".into(),
            vec![
                Line::raw(format!("/{input}▏")),
                Line::styled("Enter keep, Ctrl-U clear, Esc put back", theme.dim()),
            ],
            60,
        ),
        Popup::LogLine { at, text } => (
            format!(" Log {at} (any key closes) "),
            text.lines().map(|l| Line::raw(l.to_string())).collect(),
            100,
        ),
        Popup::QuitLive => (
            " A run is live ".into(),
            vec![
                Line::raw("s  stop the run, roll back the current scenario, then quit"),
                Line::raw("l  quit now and leave its entries pending in the journal"),
                Line::styled("Esc  keep running", theme.dim()),
            ],
            66,
        ),
    };
    // Height after wrapping, so the last line (the choices) is never cut off.
    let inner = w.min(within.width).saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let area = centered(within, w, u16::try_from(rows + 2).unwrap_or(u16::MAX));
    frame.render_widget(Clear, area);
    let block =
        Block::default().borders(Borders::ALL).border_style(theme.focus_border()).title(title);
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}
