//! Every state change of an entry on disk, in one place, under the context lock: executed
//! (rename to `.executed`), failed (error record), amended (rewritten while still pending),
//! not applied (the change was refused: reason recorded, then renamed to `.executed`).
//!
//! Owns: the renames, rewrites and error records of entries. The type rule: each change is a
//! method of [`ContextLock`], which only `lock` can hand out, and the file primitives that
//! change an existing file (`fsio::{rename,replace,remove}_durable`) take a `&ContextLock` too,
//! so no code can rename or rewrite an entry without holding its context's lock. Callers that
//! hold no lock use the free functions here, which take it. Creating a new entry (`writer`)
//! needs no lock: no other process can know its name yet.
//!
//! Error records of chaosdeck entries sit beside them (`x.yaml.error`). Krkn's context
//! directories stay Krkn's: the record of a Krkn file lives under the journal root in
//! `.chaosdeck/krkn-errors/<context>/<file>.error` (see [`CHAOSDECK_DIR`] for why there).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::audit;
use super::entry::{Entry, NotApplied, UndoneBy, Writer};
use super::error::{JournalError, io_err};
use super::fsio;
use super::lock::{ContextLock, DEFAULT_PATIENCE, lock_context_blocking};
use super::names::{CHAOSDECK_DIR, ERROR_EXT, EXECUTED_EXT, KRKN_ERRORS_DIR, KRKN_EXT};

/// The last failed undo of an entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub failed_at: String,
    pub attempts: u32,
    pub error: String,
    pub by: Writer,
}

/// What a rename to `.executed` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    Renamed,
    /// The pending file was already gone: another process executed (or retired) it first.
    AlreadyExecuted,
}

pub fn executed_path(pending: &Path) -> PathBuf {
    append_ext(pending, EXECUTED_EXT)
}

/// Where the error record of `pending` lives: beside a chaosdeck entry; for a Krkn file, in
/// chaosdeck's own directory at the journal root, never in Krkn's context directory.
pub fn error_path(pending: &Path) -> PathBuf {
    let file = pending.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let ctx = pending.parent();
    match (file.ends_with(KRKN_EXT), ctx.and_then(Path::file_name), ctx.and_then(Path::parent)) {
        (true, Some(ctx_name), Some(root)) => root
            .join(CHAOSDECK_DIR)
            .join(KRKN_ERRORS_DIR)
            .join(ctx_name)
            .join(format!("{file}{ERROR_EXT}")),
        _ => append_ext(pending, ERROR_EXT),
    }
}

/// Where older versions put a Krkn file's record (beside it); still read and cleaned up.
fn legacy_error_path(pending: &Path) -> Option<PathBuf> {
    let path = append_ext(pending, ERROR_EXT);
    (path != error_path(pending)).then_some(path)
}

fn append_ext(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

pub fn read_error(pending: &Path) -> Option<ErrorRecord> {
    let bytes = fsio::read_nofollow(&error_path(pending))
        .or_else(|e| match legacy_error_path(pending) {
            Some(legacy) => fsio::read_nofollow(&legacy),
            None => Err(e),
        })
        .ok()?;
    let mut record: ErrorRecord = serde_saphyr::from_slice(&bytes).ok()?;
    // Cluster messages and a file anyone may have edited: shown on terminals and in lists.
    record.error = crate::refs::printable(&record.error).into_owned();
    record.by.host = crate::refs::printable(&record.by.host).into_owned();
    Some(record)
}

/// Whether `pending` has an error record (at its place or the legacy one).
pub fn has_error(pending: &Path) -> bool {
    std::fs::symlink_metadata(error_path(pending)).is_ok()
        || legacy_error_path(pending).is_some_and(|p| std::fs::symlink_metadata(p).is_ok())
}

impl ContextLock {
    /// Refuses a path outside the locked directory: the lock protects only its own entries.
    fn covers(&self, pending: &Path) -> Result<(), JournalError> {
        if pending.parent() == Some(self.dir()) {
            return Ok(());
        }
        Err(JournalError::Invalid {
            path: pending.into(),
            message: format!(
                "internal: the lock held is for {}, not for this entry's context",
                self.dir().display()
            ),
        })
    }

    /// Whether the entry is still pending. Only "not found" means it is gone (executed by
    /// another process); any other error (permission denied, I/O) is an error with its cause.
    pub fn still_pending(&self, pending: &Path) -> Result<bool, JournalError> {
        self.covers(pending)?;
        match std::fs::symlink_metadata(pending) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("check that the entry is still pending", pending)(e)),
        }
    }

    /// Renames `x` to `x.executed` (no-replace, durable) and drops its error record.
    pub fn mark_executed(&self, pending: &Path) -> Result<Marked, JournalError> {
        self.mark_executed_with(pending, fsio::rename_durable)
    }

    /// [`ContextLock::mark_executed`] whose rename is made durable later, with the other
    /// renames of the batch, by [`ContextLock::sync`] (or when the lock is dropped). For the
    /// executor only: `executor::Batches` says why a batch may wait for its fsync.
    pub(super) fn mark_executed_unsynced(&self, pending: &Path) -> Result<Marked, JournalError> {
        self.mark_executed_with(pending, fsio::rename_unsynced)
    }

    fn mark_executed_with(
        &self,
        pending: &Path,
        rename: fn(&ContextLock, &Path, &Path) -> std::io::Result<()>,
    ) -> Result<Marked, JournalError> {
        if !self.still_pending(pending)? {
            return Ok(Marked::AlreadyExecuted);
        }
        rename(self, pending, &executed_path(pending))
            .map_err(io_err("mark the entry executed", pending))?;
        for sidecar in std::iter::once(error_path(pending)).chain(legacy_error_path(pending)) {
            match fsio::remove_durable(self, &sidecar) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove the error record", &sidecar)(e)),
            }
        }
        Ok(Marked::Renamed)
    }

    /// Records a failed undo; the entry itself stays pending.
    pub fn record_failure(&self, pending: &Path, error: &str) -> Result<ErrorRecord, JournalError> {
        self.covers(pending)?;
        let attempts = read_error(pending).map(|r| r.attempts).unwrap_or(0) + 1;
        let record = ErrorRecord {
            failed_at: jiff::Timestamp::now().to_string(),
            attempts,
            error: crate::refs::printable(error).into_owned(),
            by: Writer::current(),
        };
        let sidecar = error_path(pending);
        let body = serde_saphyr::to_string(&record).map_err(|e| JournalError::Serialize {
            path: sidecar.clone(),
            message: e.to_string(),
        })?;
        let text = format!(
            "# Last failed undo of the entry {}; that entry is still pending.\n{body}",
            pending.display()
        );
        if let Some(dir) = sidecar.parent() {
            fsio::ensure_private_dir(dir)
                .map_err(io_err("create the error record directory", dir))?;
        }
        fsio::replace_durable(self, &sidecar, text.as_bytes())
            .map_err(io_err("record the failure", &sidecar))?;
        Ok(record)
    }

    /// Rewrites a pending entry in place, only while it is still pending: an entry another
    /// process has just executed must not come back as pending.
    pub fn rewrite(&self, pending: &Path, text: &[u8]) -> Result<(), JournalError> {
        if !self.still_pending(pending)? {
            return Err(JournalError::Invalid {
                path: pending.into(),
                message: "was executed by another process meanwhile; not rewritten".into(),
            });
        }
        fsio::replace_durable(self, pending, text).map_err(io_err("rewrite the entry", pending))
    }

    /// The change this entry journals was refused by the API server, so there is nothing to
    /// undo: the audit line first (write-ahead), then the reason into the entry, then the
    /// rename to `.executed`. The entry reads back as not applied, never as outstanding.
    pub fn mark_not_applied(&self, pending: &Path, reason: &str) -> Result<Marked, JournalError> {
        let not_applied =
            NotApplied { at: jiff::Timestamp::now().to_string(), reason: reason.to_string() };
        self.record_and_retire(pending, "not-applied", reason, |e| {
            e.not_applied = Some(not_applied)
        })
    }

    /// Someone else undid the change (the watchdog, from the entry's mirror): the audit line
    /// first, then who and when into the entry, then the rename to `.executed`.
    pub fn mark_undone_elsewhere(
        &self,
        pending: &Path,
        undone: &UndoneBy,
    ) -> Result<Marked, JournalError> {
        let line = format!("undone by {} at {}", undone.by, undone.at);
        self.record_and_retire(pending, "reconcile", &line, |e| e.undone_by = Some(undone.clone()))
    }

    /// The shared steps of a retirement that records why in the entry: re-read and edit the
    /// entry, append the audit line (`<verb> <file>`: `line`) first, then rewrite the entry and
    /// rename it to `.executed`.
    fn record_and_retire(
        &self,
        pending: &Path,
        verb: &str,
        line: &str,
        edit: impl FnOnce(&mut Entry),
    ) -> Result<Marked, JournalError> {
        if !self.still_pending(pending)? {
            return Ok(Marked::AlreadyExecuted);
        }
        let file_name =
            pending.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = fsio::read_nofollow(pending).map_err(io_err("read the entry", pending))?;
        let mut entry = Entry::parse(&String::from_utf8_lossy(&text))
            .map_err(|e| JournalError::Invalid { path: pending.into(), message: e.to_string() })?;
        edit(&mut entry);
        let text = entry.render(&file_name).map_err(|e| JournalError::Serialize {
            path: pending.into(),
            message: e.to_string(),
        })?;
        let root = audit::journal_root_of(pending)?;
        audit::append(&root, &format!("{verb} {file_name}"), line)?;
        self.rewrite(pending, text.as_bytes())?;
        self.mark_executed(pending)
    }

    /// The operator says the entry was undone by hand: the audit line is written first
    /// (write-ahead, like the journal itself), then the rename. No audit line, no rename.
    pub fn mark_executed_by_hand(
        &self,
        pending: &Path,
        reason: &str,
    ) -> Result<Marked, JournalError> {
        if !self.still_pending(pending)? {
            return Ok(Marked::AlreadyExecuted);
        }
        let name =
            pending.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let root = audit::journal_root_of(pending)?;
        audit::append(&root, &format!("mark-executed {name}"), reason)?;
        self.mark_executed(pending)
    }
}

fn context_of(pending: &Path) -> Result<&Path, JournalError> {
    pending.parent().filter(|p| !p.as_os_str().is_empty()).ok_or_else(|| JournalError::Invalid {
        path: pending.into(),
        message: "an entry path must name its context directory".into(),
    })
}

/// The scenario undid its own change: marks the entry executed under the lock. An entry
/// another process executed meanwhile is already where it should be.
pub fn retire(pending: &Path) -> Result<Marked, JournalError> {
    lock_context_blocking(context_of(pending)?, DEFAULT_PATIENCE)?.mark_executed(pending)
}

/// `mark-executed` (CLI and TUI): audit first, then rename, under the lock. `pending` may be
/// relative; it is resolved so the audit line lands in the journal root.
pub fn mark_by_hand(
    pending: &Path,
    reason: &str,
    patience: Duration,
) -> Result<Marked, JournalError> {
    // `mark-executed x.yaml` from inside the context directory names no parent.
    let dir = pending.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = dir.canonicalize().map_err(io_err("resolve the context directory", dir))?;
    let file = pending.file_name().ok_or_else(|| JournalError::Invalid {
        path: pending.into(),
        message: "not an entry file".into(),
    })?;
    let pending = dir.join(file);
    lock_context_blocking(&dir, patience)?.mark_executed_by_hand(&pending, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked() -> (tempfile::TempDir, ContextLock) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("1-run");
        std::fs::create_dir(&dir).unwrap();
        let lock = lock_context_blocking(&dir, Duration::from_secs(1)).unwrap();
        (tmp, lock)
    }

    #[test]
    fn only_not_found_reads_as_already_executed() {
        let (_tmp, lock) = locked();
        let gone = lock.dir().join("hog_scenarios_1_abcdefgh.yaml");
        assert!(!lock.still_pending(&gone).unwrap());
        assert_eq!(lock.mark_executed(&gone).unwrap(), Marked::AlreadyExecuted);
        // Running as root, permissions cannot be denied; a name the filesystem refuses is
        // another error that is not "not found", and must surface with its cause.
        let refused = lock.dir().join(format!("hog_scenarios_1_{}.yaml", "a".repeat(300)));
        let err = lock.still_pending(&refused).unwrap_err().to_string();
        assert!(err.contains("check that the entry is still pending"), "{err}");
        assert!(lock.mark_executed(&refused).is_err());
    }

    #[test]
    fn a_lock_changes_only_its_own_context() {
        let (tmp, lock) = locked();
        let other = tmp.path().join("2-run");
        std::fs::create_dir(&other).unwrap();
        let entry = other.join("hog_scenarios_1_abcdefgh.yaml");
        std::fs::write(&entry, "x").unwrap();
        assert!(lock.mark_executed(&entry).is_err());
        assert!(entry.exists());
    }

    #[test]
    fn krkn_error_records_live_outside_krkns_context_directory() {
        let pending = Path::new("/j/1-run/hog_scenarios_1_abcdefgh.py");
        assert_eq!(
            error_path(pending),
            Path::new("/j/.chaosdeck/krkn-errors/1-run/hog_scenarios_1_abcdefgh.py.error")
        );
        let ours = Path::new("/j/1-run/hog_scenarios_1_abcdefgh.yaml");
        assert_eq!(error_path(ours), Path::new("/j/1-run/hog_scenarios_1_abcdefgh.yaml.error"));
    }
}
