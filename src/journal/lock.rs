//! Per-context lock, so two processes (the TUI and a CLI, or a run and an executor) never change
//! the same entry at the same time.
//!
//! The lock is `flock` on the context directory's own descriptor: nothing is created inside the
//! directory, so Krkn's context directories stay exactly as Krkn wrote them (a lock *file*
//! would be listed by Krkn and warned about once per directory). The kernel drops the lock when
//! the holder dies, so a crash never leaves a stale lock behind.
//!
//! Owns: taking and releasing the lock. The state changes that need it are methods of
//! [`ContextLock`] in `transitions`; holding a `ContextLock` is the only way to reach them.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::error::{JournalError, io_err};

/// How long state changes outside the executor (retire, amend, mark) wait for the lock.
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(30);

/// How often a busy lock is tried again.
const RETRY: Duration = Duration::from_millis(25);

/// Held for as long as entries of one context are being changed; released on drop.
#[derive(Debug)]
pub struct ContextLock {
    dir: PathBuf,
    /// The directory itself: the flock is on it, and so is the fsync of a batch of renames.
    fd: File,
    /// A rename in this directory has not been fsynced yet
    /// ([`ContextLock::mark_executed_unsynced`]).
    unsynced: AtomicBool,
}

impl ContextLock {
    fn new(dir: &Path, fd: File) -> ContextLock {
        ContextLock { dir: dir.to_path_buf(), fd, unsynced: AtomicBool::new(false) }
    }

    /// The context directory this lock covers.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes the renames done without their directory fsync durable, with one fsync.
    pub fn sync(&self) -> std::io::Result<()> {
        if self.unsynced.swap(false, Ordering::SeqCst)
            && let Err(e) = self.fd.sync_all()
        {
            self.unsynced.store(true, Ordering::SeqCst);
            return Err(e);
        }
        Ok(())
    }

    /// Remembers that a rename in this directory still needs [`ContextLock::sync`].
    pub(super) fn note_unsynced(&self) {
        self.unsynced.store(true, Ordering::SeqCst);
    }
}

impl Drop for ContextLock {
    /// A batch that ended early (an error, a panic unwinding) still syncs its renames before
    /// the lock is released.
    fn drop(&mut self) {
        if *self.unsynced.get_mut() {
            let _ = self.fd.sync_all();
        }
    }
}

/// Waits up to `patience` for the context's lock without blocking the async runtime.
pub async fn lock_context(dir: &Path, patience: Duration) -> Result<ContextLock, JournalError> {
    let fd = open_dir(dir)?;
    let started = Instant::now();
    loop {
        match try_flock(&fd, dir)? {
            true => return Ok(ContextLock::new(dir, fd)),
            false if started.elapsed() < patience => tokio::time::sleep(RETRY).await,
            false => return Err(JournalError::Busy { path: dir.into() }),
        }
    }
}

/// Waits up to `patience` for the context's lock, sleeping the calling thread. For the short,
/// synchronous state changes (retire, amend, mark-executed); the only long holder is an
/// executor in another process.
pub fn lock_context_blocking(dir: &Path, patience: Duration) -> Result<ContextLock, JournalError> {
    let fd = open_dir(dir)?;
    if try_flock(&fd, dir)? {
        return Ok(ContextLock::new(dir, fd));
    }
    let wait = || {
        let started = Instant::now();
        loop {
            std::thread::sleep(RETRY);
            match try_flock(&fd, dir)? {
                true => return Ok(()),
                false if started.elapsed() < patience => {}
                false => return Err(JournalError::Busy { path: dir.into() }),
            }
        }
    };
    // Called from async code (a scenario retiring its entry) the wait must not starve the
    // runtime's other tasks, one of which may be the executor holding this very lock.
    let waited = match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    };
    waited.map(|()| ContextLock::new(dir, fd))
}

/// The directory itself, read-only: O_DIRECTORY refuses anything else, O_NOFOLLOW a symlink
/// planted in place of the context (std adds O_CLOEXEC, so children never inherit the lock).
fn open_dir(dir: &Path) -> Result<File, JournalError> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)
        .map_err(io_err("open the context directory to lock it", dir))
}

/// `Ok(true)` when the lock was taken, `Ok(false)` when another descriptor holds it.
fn try_flock(fd: &File, dir: &Path) -> Result<bool, JournalError> {
    match fd.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(io_err("lock the context directory", dir)(e)),
    }
}
