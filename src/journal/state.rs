//! State changes of an entry on disk: executed (rename), failed (error sidecar).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::entry::Writer;
use super::error::{JournalError, io_err};
use super::fsio;
use super::names::{ERROR_EXT, EXECUTED_EXT};

/// The last failed undo of an entry, kept in `<entry>.error` beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub failed_at: String,
    pub attempts: u32,
    pub error: String,
    pub by: Writer,
}

pub fn executed_path(pending: &Path) -> PathBuf {
    append_ext(pending, EXECUTED_EXT)
}

pub fn error_path(pending: &Path) -> PathBuf {
    append_ext(pending, ERROR_EXT)
}

fn append_ext(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

/// Renames `x.yaml` to `x.yaml.executed` (no-replace, durable) and drops its error sidecar.
pub fn mark_executed(pending: &Path) -> Result<(), JournalError> {
    fsio::rename_durable(pending, &executed_path(pending))
        .map_err(io_err("mark the entry executed", pending))?;
    let sidecar = error_path(pending);
    if std::fs::symlink_metadata(&sidecar).is_ok() {
        fsio::remove_durable(&sidecar).map_err(io_err("remove the error record", &sidecar))?;
    }
    Ok(())
}

pub fn read_error(pending: &Path) -> Option<ErrorRecord> {
    let bytes = fsio::read_nofollow(&error_path(pending)).ok()?;
    serde_saphyr::from_slice(&bytes).ok()
}

/// Records a failed undo beside the entry; the entry itself stays pending.
pub fn record_failure(pending: &Path, error: &str) -> Result<ErrorRecord, JournalError> {
    let attempts = read_error(pending).map(|r| r.attempts).unwrap_or(0) + 1;
    let record = ErrorRecord {
        failed_at: jiff::Timestamp::now().to_string(),
        attempts,
        error: error.to_string(),
        by: Writer::current(),
    };
    let sidecar = error_path(pending);
    let body = serde_saphyr::to_string(&record)
        .map_err(|e| JournalError::Serialize { path: sidecar.clone(), message: e.to_string() })?;
    let text = format!(
        "# Last failed undo of the entry beside this file; that entry is still pending.\n{body}"
    );
    fsio::replace_durable(&sidecar, text.as_bytes())
        .map_err(io_err("record the failure", &sidecar))?;
    Ok(record)
}
