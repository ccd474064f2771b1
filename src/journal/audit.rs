//! The journal's audit log: one line per operator decision (emergency rollback, manual mark).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

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
        action.replace('\n', " "),
        reason.replace('\n', " ")
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
