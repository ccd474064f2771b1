//! Drawing: one small function per region, all reading [`App`] and nothing else.

mod header;
mod health_panel;
mod inspector;
mod journal;
mod log;
mod panel;
mod popup;
mod scenarios;
mod status;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{App, Mode};

/// Below this, panels are too narrow or short to read; only the header and a notice are drawn.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

pub fn draw(frame: &mut Frame, app: &mut App) {
    let area = frame.area();
    let [header_area, body] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    header::draw(frame, app, header_area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let notice = format!(
            "terminal too small: {}×{}, chaosdeck needs at least {MIN_WIDTH}×{MIN_HEIGHT}. \
             The keys still work; the emergency key is named above.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(notice).wrap(Wrap { trim: true }), body);
        popup::draw(frame, app, body);
        return;
    }
    // The health panel spans the width (its timeline wants it) and is absent without checks,
    // capped so that the other panels keep most of a small terminal.
    let cap = if area.height < 30 { area.height / 4 } else { area.height * 2 / 5 };
    let health_h = health_panel::height(&app.health).min(cap);
    let [main, health_area, status_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(health_h), Constraint::Length(1)])
            .areas(body);
    if app.mode == Mode::Inspect && app.scenarios.is_empty() {
        // No engine (nor an attached run's progress), so no Scenarios panel: the journal gets
        // the room.
        let [top, log_area] =
            Layout::vertical([Constraint::Percentage(72), Constraint::Percentage(28)]).areas(main);
        let [journal_area, insp_area] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top);
        journal::draw(frame, app, journal_area);
        inspector::draw(frame, app, insp_area);
        log::draw(frame, app, log_area);
    } else {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)])
                .areas(main);
        let [scen_area, log_area] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(left);
        let [journal_area, insp_area] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(right);
        scenarios::draw(frame, app, scen_area);
        log::draw(frame, app, log_area);
        journal::draw(frame, app, journal_area);
        inspector::draw(frame, app, insp_area);
    }
    if health_h > 0 {
        health_panel::draw(frame, app, health_area);
    }
    status::draw(frame, app, status_area);
    // Popups never cover the header: the emergency key stays in sight.
    popup::draw(frame, app, body);
}

/// One line, for tests and benches that want the header alone.
pub fn header_line(app: &App, width: u16) -> Line<'static> {
    header::line(app, usize::from(width))
}
