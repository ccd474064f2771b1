//! Durable, symlink-refusing file operations the journal is built on.
//!
//! Every write is temp file → fsync → no-replace rename → fsync of the directory, so that a
//! crash at any instant leaves either the old state or the new one, never a torn file.
//! Creating a new file needs nothing; replacing, renaming or removing an existing one takes a
//! `ContextLock` as proof that the caller holds the lock of that file's context.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::lock::ContextLock;

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with mode 0700, refusing a symlink at the last component.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a symbolic link; the journal never follows links", dir.display()),
        )),
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} exists and is not a directory", dir.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
            // `recursive` applies the mode through the umask; make the leaf exactly 0700.
            fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
            if let Some(parent) = dir.parent() {
                fsync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Creates a new directory (exactly one level) with mode 0700; fails if it exists.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().mode(DIR_MODE).create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
    if let Some(parent) = dir.parent() {
        fsync_dir(parent)?;
    }
    Ok(())
}

pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Opens an existing file for reading without following a symlink at the last component.
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)
}

pub fn read_nofollow(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = open_nofollow(path)?;
    let mut buf = Vec::with_capacity(2048);
    io::Read::read_to_end(&mut file, &mut buf)?;
    Ok(buf)
}

/// Writes `bytes` to `dest` durably; `dest` must not exist yet (never overwrites).
///
/// The temp file is a dot-file next to `dest` so the rename stays within one directory.
pub fn write_new_durable(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(dest)?;
    write_temp(&tmp, bytes)?;
    if let Err(e) = rename_noreplace(&tmp, dest) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fsync_dir(parent_of(dest)?)
}

/// Writes `bytes` to `dest` durably, replacing whatever regular file is there. Changing what
/// exists needs the context lock: the `ContextLock` argument is the proof (see `transitions`).
pub fn replace_durable(_held: &ContextLock, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Ok(meta) = fs::symlink_metadata(dest)
        && meta.file_type().is_symlink()
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a symbolic link; refusing to replace it", dest.display()),
        ));
    }
    let tmp = temp_path(dest)?;
    write_temp(&tmp, bytes)?;
    if let Err(e) = fs::rename(&tmp, dest) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fsync_dir(parent_of(dest)?)
}

/// Renames `from` to `to` within one directory without replacing `to`, then fsyncs the directory.
/// Needs the context lock, like every change of an existing file.
pub fn rename_durable(_held: &ContextLock, from: &Path, to: &Path) -> io::Result<()> {
    rename_noreplace(from, to)?;
    fsync_dir(parent_of(to)?)
}

/// [`rename_durable`] without the directory fsync: the caller syncs a batch of renames at once
/// ([`ContextLock::sync`]). Needs the context lock, like every change of an existing file.
pub fn rename_unsynced(held: &ContextLock, from: &Path, to: &Path) -> io::Result<()> {
    rename_noreplace(from, to)?;
    held.note_unsynced();
    Ok(())
}

/// Needs the context lock, like every change of an existing file.
pub fn remove_durable(_held: &ContextLock, path: &Path) -> io::Result<()> {
    fs::remove_file(path)?;
    fsync_dir(parent_of(path)?)
}

fn write_temp(tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(tmp)?;
    let result = file.write_all(bytes).and_then(|()| file.sync_all());
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

fn temp_path(dest: &Path) -> io::Result<std::path::PathBuf> {
    let name = dest.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{} has no file name", dest.display()))
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    Ok(dest.with_file_name(tmp_name))
}

fn parent_of(path: &Path) -> io::Result<&Path> {
    path.parent().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{} has no parent", path.display()))
    })
}

/// `renameat2(RENAME_NOREPLACE)`: atomic, and fails with AlreadyExists instead of clobbering.
/// Through rustix, which makes the system call itself: a static musl build has no libc
/// wrapper for it.
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_refuses_to_overwrite_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.yaml");
        write_new_durable(&dest, b"one").unwrap();
        let err = write_new_durable(&dest, b"two").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&dest).unwrap(), b"one");
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, FILE_MODE);
        // no temp file left behind after the refused write
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn symlinks_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"secret").unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_nofollow(&link).is_err());
        let held = super::super::lock::lock_context_blocking(dir.path(), std::time::Duration::ZERO)
            .unwrap();
        assert!(replace_durable(&held, &link, b"x").is_err());
        assert_eq!(fs::read(&target).unwrap(), b"secret");
        let linked_dir = dir.path().join("dirlink");
        std::os::unix::fs::symlink(dir.path(), &linked_dir).unwrap();
        assert!(ensure_private_dir(&linked_dir).is_err());
    }

    #[test]
    fn private_dirs_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b/c");
        ensure_private_dir(&nested).unwrap();
        let mode = fs::metadata(&nested).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, DIR_MODE);
    }
}
