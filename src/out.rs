//! Writing lines to stdout and stderr when whoever reads them may go away: a run piped into
//! `grep -m1` or `head -3` must not abort mid-chaos because its output pipe closed (Rust's
//! `println!` panics on a closed pipe, and a panic while printing the panic aborts).
//!
//! Owns: [`line()`] and [`err_line`], which never panic, the one moment a closed output is noticed
//! — a write answered `EPIPE`, or a watched pipe whose reader is gone — and what follows: both
//! streams are pointed at `/dev/null` (so no later write anywhere can fail or panic) and the
//! callback set by [`on_closed`] runs once (a run stops and rolls back, as for SIGTERM). Must not
//! decide what a closed output means for a run: the caller's callback does.

use std::io::Write;
use std::sync::{Mutex, Once, OnceLock};

type Callback = Box<dyn FnOnce() + Send>;

static ON_CLOSED: OnceLock<Mutex<Option<Callback>>> = OnceLock::new();
static CLOSED: Once = Once::new();

fn slot() -> &'static Mutex<Option<Callback>> {
    ON_CLOSED.get_or_init(|| Mutex::new(None))
}

/// Runs `f` (once) when stdout or stderr turns out to be a closed pipe. Set before anything is
/// written that the reader might not read.
pub fn on_closed(f: impl FnOnce() + Send + 'static) {
    if let Ok(mut slot) = slot().lock() {
        *slot = Some(Box::new(f));
    }
}

/// Whether an output was found closed.
pub fn closed() -> bool {
    CLOSED.is_completed()
}

/// The output is gone: nothing more will be read, and nothing written may fail from now on.
fn close() {
    CLOSED.call_once(|| {
        // SAFETY: open(2) and dup2(2) on file descriptors this process owns; 1 and 2 stay
        // valid descriptors throughout (dup2 replaces them atomically).
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if null >= 0 {
                libc::dup2(null, 1);
                libc::dup2(null, 2);
                libc::close(null);
            }
        }
    });
    let callback = slot().lock().ok().and_then(|mut s| s.take());
    if let Some(f) = callback {
        f();
    }
}

fn write_line(mut out: impl Write, text: &str) {
    let written = out.write_all(text.as_bytes()).and_then(|()| out.write_all(b"\n"));
    let flushed = written.and_then(|()| out.flush());
    if let Err(e) = flushed
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        close();
    }
}

/// `println!` that never panics; a closed stdout is noticed ([`on_closed`]).
pub fn line(text: impl AsRef<str>) {
    write_line(std::io::stdout().lock(), text.as_ref());
}

/// `eprintln!` that never panics; a closed stderr is noticed ([`on_closed`]).
pub fn err_line(text: impl AsRef<str>) {
    write_line(std::io::stderr().lock(), text.as_ref());
}

/// Whether `fd` is a pipe whose reader is gone (poll reports an error on the write end).
fn reader_gone(fd: i32) -> bool {
    // SAFETY: fstat and poll on a descriptor number; neither touches memory we do not own.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 || st.st_mode & libc::S_IFMT != libc::S_IFIFO {
            return false;
        }
        let mut p = libc::pollfd { fd, events: 0, revents: 0 };
        libc::poll(&mut p, 1, 0) == 1 && p.revents & (libc::POLLERR | libc::POLLHUP) != 0
    }
}

/// Watches stdout and stderr, when they are pipes, for a reader that went away without this
/// process writing anything (a run may print nothing for minutes during a long outage): checked
/// every half second on the current tokio runtime until the output is found closed.
pub fn watch() {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
        while !closed() {
            tick.tick().await;
            if reader_gone(1) || reader_gone(2) {
                close();
            }
        }
    });
}
