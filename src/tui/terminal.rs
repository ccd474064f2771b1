//! Entering and leaving the full-screen terminal, restored on every exit path (panic included).

use std::io::stdout;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;

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
        ACTIVE.store(false, Ordering::SeqCst);
        // Panics of background tasks were held back while the screen was ours; say them now.
        if let Ok(mut held) = HELD_PANICS.lock() {
            for text in held.drain(..) {
                crate::out::err_line(text);
            }
        }
    }
}

/// Whether the full-screen UI owns the terminal.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether the alternate screen is entered and not yet left. Leaving it twice is not harmless:
/// `ESC[?1049l` also puts the cursor back where it was on entry, so a second leave at exit
/// moved the shell prompt on top of the summary printed after the UI.
static ON_ALT_SCREEN: AtomicBool = AtomicBool::new(false);
/// The thread that draws; a panic there ends the UI.
static UI_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);
/// Panic reports of other threads while the UI is up: printed when it ends.
static HELD_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A panic on the UI thread restores the terminal and reports as usual. A panic elsewhere (an
/// engine task) is caught by the engine and ends the run like a failure while the UI stays up
/// to show it, so its report is held back instead of being printed across the screen.
fn on_panic(info: &std::panic::PanicHookInfo<'_>) -> bool {
    if !ACTIVE.load(Ordering::SeqCst) {
        return false;
    }
    let ui = UI_THREAD.lock().ok().and_then(|t| *t);
    if ui == Some(std::thread::current().id()) {
        restore();
        return false;
    }
    if let Ok(mut held) = HELD_PANICS.lock() {
        held.push(format!("panic in a background task: {info}"));
    }
    true
}

/// Leaves raw mode and the alternate screen, once: later calls do nothing.
pub fn restore() {
    if ON_ALT_SCREEN.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
    }
}

/// Runs on `exit()` (the engine's forced exit on a third signal skips destructors). Writes the
/// escape sequences straight to fd 1: another thread may hold the stdout lock mid-frame.
extern "C" fn restore_at_exit() {
    if !ON_ALT_SCREEN.swap(false, Ordering::SeqCst) {
        return;
    }
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
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !on_panic(info) {
                previous(info);
            }
        }));
    });
    if let Ok(mut ui) = UI_THREAD.lock() {
        *ui = Some(std::thread::current().id());
    }
    enable_raw_mode()?;
    ON_ALT_SCREEN.store(true, Ordering::SeqCst);
    let guard = Guard;
    ACTIVE.store(true, Ordering::SeqCst);
    execute!(stdout(), EnterAlternateScreen)?;
    let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    Ok((terminal, guard))
}
