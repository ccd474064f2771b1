//! Entering and leaving the full-screen terminal, restored on every exit path (panic included).

use std::io::stdout;

use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<std::io::Stdout>>;

/// Restores the terminal when dropped, whatever way the UI ends.
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

/// Runs on `exit()` (the engine's forced exit on a third signal skips destructors). Writes the
/// escape sequences straight to fd 1: another thread may hold the stdout lock mid-frame.
extern "C" fn restore_at_exit() {
    let _ = disable_raw_mode();
    let seq = b"\x1b[?1049l\x1b[?25h";
    // SAFETY: writing a static buffer to stdout's file descriptor.
    unsafe { libc::write(1, seq.as_ptr().cast(), seq.len()) };
}

pub fn enter() -> std::io::Result<(Term, Guard)> {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    // SAFETY: registers a plain extern "C" function once.
    AT_EXIT.call_once(|| unsafe {
        libc::atexit(restore_at_exit);
    });
    // A panic must not leave the operator's terminal in raw mode.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    enable_raw_mode()?;
    let guard = Guard;
    execute!(stdout(), EnterAlternateScreen)?;
    let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    Ok((terminal, guard))
}
