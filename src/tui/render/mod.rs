//! Drawing: one small function per region, all reading [`App`] and nothing else.

mod health;
mod inspector;
mod journal;
mod log;
mod popup;
mod scenarios;
mod status;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, BorderType, Borders};

use super::app::{App, Focus};

pub fn draw(frame: &mut Frame, app: &mut App) {
    // The health panel spans the width (its timeline wants it) and is absent without checks,
    // capped so that the other panels keep most of a small terminal.
    let health_h = health::height(&app.health).min(frame.area().height * 2 / 5);
    let [main, health_area, status_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(health_h), Constraint::Length(1)])
            .areas(frame.area());
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(main);
    let [scen_area, log_area] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(left);
    let [journal_area, insp_area] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(right);
    scenarios::draw(frame, app, scen_area);
    log::draw(frame, app, log_area);
    journal::draw(frame, app, journal_area);
    inspector::draw(frame, app, insp_area);
    if health_h > 0 {
        health::draw(frame, app, health_area);
    }
    status::draw(frame, app, status_area);
    popup::draw(frame, app);
}

/// A panel frame; the focused one stands out.
pub(super) fn panel<'a>(app: &App, title: String, focus: Focus) -> Block<'a> {
    let focused = app.focus == focus;
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(if focused { app.theme.focus_border() } else { Style::default() })
        .title(title)
}

/// A rectangle of `w`×`h` centred in `area` (clamped to it).
pub(super) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
