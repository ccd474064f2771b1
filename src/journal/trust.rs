//! Whose files an undo comes from. An entry is a list of requests chaosdeck sends with the
//! operator's credentials, so an entry someone else could have written is refused the way ssh
//! refuses a key file others can write: the journal's root, the entry's context directory and
//! the entry must belong to the user running chaosdeck and be writable by no one else.
//!
//! Owns: that check. Must not change files or modes: a journal that fails it is reported,
//! never repaired (`chmod`/`chown` are the owner's decision).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Why an entry at `path` (in journal `root`) is not the user's own, if it is not.
pub fn foreign(root: &Path, path: &Path) -> Option<String> {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    let mut chain = vec![path.to_path_buf()];
    if let Some(context) = path.parent() {
        chain.push(context.to_path_buf());
    }
    chain.push(root.to_path_buf());
    for p in &chain {
        let meta = match std::fs::symlink_metadata(p) {
            Ok(meta) => meta,
            // Executed (renamed) by another process meanwhile: the executor says so itself.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => return Some(format!("{} cannot be checked: {e}", p.display())),
        };
        if meta.uid() != me {
            return Some(format!(
                "{} belongs to uid {}, not to you (uid {me})",
                p.display(),
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Some(format!(
                "{} is writable by {} (mode {:o})",
                p.display(),
                if meta.mode() & 0o002 != 0 { "everyone" } else { "its group" },
                meta.mode() & 0o7777
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_file_others_may_write_is_foreign() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("j");
        let ctx = root.join("1-run");
        std::fs::create_dir_all(&ctx).unwrap();
        let entry = ctx.join("x.yaml");
        std::fs::write(&entry, "x").unwrap();
        let mode = |p: &Path, m: u32| std::fs::set_permissions(p, PermissionsExt::from_mode(m));
        for (p, m) in [(&root, 0o700), (&ctx, 0o700), (&entry, 0o600)] {
            mode(p, m).unwrap();
        }
        assert_eq!(foreign(&root, &entry), None);
        mode(&ctx, 0o777).unwrap();
        let why = foreign(&root, &entry).unwrap();
        assert!(why.contains("1-run is writable by everyone (mode 777)"), "{why}");
        mode(&ctx, 0o700).unwrap();
        mode(&entry, 0o620).unwrap();
        assert!(foreign(&root, &entry).unwrap().contains("writable by its group"));
    }
}
