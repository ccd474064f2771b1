//! The journal's audit log: one line per operator decision (emergency rollback, manual mark).
//!
//! Owns: `<journal root>/audit.log`. Lines are written before the decision takes effect
//! (write-ahead): a decision whose line could not be written is not carried out by `transitions`, and
//! callers report a failed append instead of dropping it.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::entry::Writer;
use super::error::{JournalError, io_err};
use super::fsio::FILE_MODE;
use super::names::AUDIT_FILE;

/// Appends `<time> <user>@<host> pid=<pid> <action>: <reason>` to `<root>/audit.log`, fsynced.
pub fn append(root: &Path, action: &str, reason: &str) -> Result<(), JournalError> {
    let path = root.join(AUDIT_FILE);
    let writer = Writer::current();
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let line = format!(
        "{} {user}@{} pid={} {}: {}\n",
        jiff::Timestamp::now(),
        writer.host,
        writer.pid,
        crate::refs::printable(action),
        crate::refs::printable(reason)
    );
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(io_err("open the audit log", &path))?;
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_err("append to the audit log", &path))
}

/// The journal root an entry belongs to: the grandparent of the entry once its context
/// directory is resolved, so `x.yaml` (run inside the context) and `ctx/x.yaml` both audit into
/// the journal's own `audit.log`, not into the working directory.
pub fn journal_root_of(entry: &Path) -> Result<PathBuf, JournalError> {
    let ctx = entry.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let ctx = ctx.canonicalize().map_err(io_err("resolve the context directory", ctx))?;
    ctx.parent().map(Path::to_path_buf).ok_or_else(|| JournalError::Invalid {
        path: entry.into(),
        message: "the entry's context directory has no parent (journal root)".into(),
    })
}
