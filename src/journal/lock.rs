//! Per-context lock, so two processes (the TUI and a CLI) never apply the same entry twice.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::error::{JournalError, io_err};
use super::fsio::FILE_MODE;
use super::names::LOCK_FILE;

/// Held for as long as entries of one context are being executed; released on drop.
#[derive(Debug)]
pub struct ContextLock {
    _file: File,
}

/// Waits up to `patience` for the context's lock.
pub async fn lock_context(dir: &Path, patience: Duration) -> Result<ContextLock, JournalError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(io_err("open the lock file", &path))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(ContextLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < patience => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Busy { path: dir.into() });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err("lock", &path)(e)),
        }
    }
}
