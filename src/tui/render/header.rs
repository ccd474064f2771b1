//! The header line, on every screen and under every popup: DRY RUN, the cluster context, what
//! the engine is doing, the pending count and the emergency key. Those never leave the line;
//! the details (scenario n of m, other live runs, the game-day clock) go first when it is narrow.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::App;
use super::super::headline::{clock, engine_texts};
use super::super::keys::Action;
use super::scenarios::truncate;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    frame.render_widget(Paragraph::new(line(app, usize::from(area.width))), area);
}

/// The header for a terminal `width` columns wide.
pub fn line(app: &App, width: usize) -> Line<'static> {
    let theme = app.theme;
    let h = &app.header;
    let pending = app.outstanding();
    let key = app.keys.key_of(Action::Emergency).unwrap_or_else(|| "!".into());
    // Narrow terminals get the short forms; the four essentials stay.
    let narrow = width < 60;
    let bang = if narrow { format!(" {key} ALL ") } else { format!(" {key} undo ALL ") };
    let pending_text = format!(" {pending} pending ");
    let dry = match (h.dry_run, narrow) {
        (false, _) => "",
        (true, false) => " DRY RUN ",
        (true, true) => " DRY ",
    };
    let others = match h.other_live_runs.len() {
        0 => String::new(),
        1 => " ⚠ 1 other live run ".to_string(),
        n => format!(" ⚠ {n} other live runs "),
    };
    let time = app.run_started.map(|t| format!(" {} ", clock(t.elapsed()))).unwrap_or_default();
    let texts = engine_texts(app);
    let short = texts.last().cloned().unwrap_or_default();
    let cols = |s: &str| s.chars().count();
    let fixed = cols(dry) + cols(&bang) + cols(&pending_text);
    // The context keeps at least 8 columns, the state its short word.
    let context_full =
        if h.context.is_empty() { "no cluster".to_string() } else { h.context.clone() };
    let room = width.saturating_sub(fixed);
    let context_w = cols(&context_full).min(room.saturating_sub(cols(&short) + 4)).max(4);
    let context = format!(" {} ", truncate(&context_full, context_w));
    let mut left = room.saturating_sub(cols(&context));
    let state = texts
        .iter()
        .find(|t| cols(t) + 2 <= left)
        .cloned()
        .unwrap_or_else(|| truncate(&short, left.saturating_sub(2)));
    left = left.saturating_sub(cols(&state) + 2);
    let others = if cols(&others) <= left { others } else { String::new() };
    left = left.saturating_sub(cols(&others));
    let time = if cols(&time) <= left { time } else { String::new() };
    left = left.saturating_sub(cols(&time));

    let context_style = if h.is_sandbox { theme.ok() } else { theme.danger_banner() };
    let state_style = if app.engine_state.is_some_and(crate::engine::EngineState::is_paused) {
        theme.warn()
    } else {
        theme.accent()
    };
    let mut spans = Vec::new();
    if !dry.is_empty() {
        spans.push(Span::styled(dry.to_string(), theme.danger_banner()));
    }
    spans.push(Span::styled(context, context_style));
    spans.push(Span::styled(format!(" {state} "), state_style));
    spans.push(Span::styled(pending_text, if pending > 0 { theme.warn() } else { theme.ok() }));
    if !others.is_empty() {
        spans.push(Span::styled(others, theme.warn()));
    }
    if !time.is_empty() {
        spans.push(Span::styled(time, theme.dim()));
    }
    spans.push(Span::styled(" ".repeat(left), Style::default()));
    spans.push(Span::styled(bang, theme.danger_banner()));
    Line::from(spans)
}
