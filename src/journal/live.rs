//! Which chaosdeck runs are live: each run holds an exclusive `flock` on a marker file of its
//! own for as long as its process lives, in the journal's `.chaosdeck/live/` (runs on the same
//! journal) and in the user's state directory (runs on the same cluster from another journal).
//! A marker whose lock can be taken belongs to a run that died; it is removed by whoever finds
//! it.
//!
//! Owns: the marker files. Must not decide anything: the run names what it finds before it
//! starts, the operator decides.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::error::{JournalError, io_err};
use super::names::CHAOSDECK_DIR;

/// What a live run says about itself, one `key: value` per line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveRun {
    pub run_uuid: String,
    pub pid: u32,
    /// RFC 3339.
    pub started: String,
    pub context: String,
    pub server: String,
    pub journal: String,
}

impl LiveRun {
    fn render(&self) -> String {
        format!(
            "run_uuid: {}\npid: {}\nstarted: {}\ncontext: {}\nserver: {}\njournal: {}\n",
            self.run_uuid, self.pid, self.started, self.context, self.server, self.journal
        )
    }

    /// Reads a marker; values are made printable (another run of the same user wrote it, but
    /// a terminal must never receive control characters from a file).
    fn parse(text: &str) -> LiveRun {
        let mut run = LiveRun::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(": ") else { continue };
            let value = crate::refs::printable(value).into_owned();
            match key {
                "run_uuid" => run.run_uuid = value,
                "pid" => run.pid = value.parse().unwrap_or(0),
                "started" => run.started = value,
                "context" => run.context = value,
                "server" => run.server = value,
                "journal" => run.journal = value,
                _ => {}
            }
        }
        run
    }

    /// `run 1a2b3c4d (pid 4242, since 2026-12-06T12:01:00Z, context kind-game, journal …)`.
    pub fn describe(&self) -> String {
        let short: String = self.run_uuid.chars().take(8).collect();
        format!(
            "run {short} (pid {}, since {}, context {} at {}, journal {})",
            self.pid, self.started, self.context, self.server, self.journal
        )
    }
}

/// Held for the life of the run; the marker goes with it.
#[derive(Debug)]
pub struct LiveMarkers {
    held: Vec<(File, PathBuf)>,
}

impl Drop for LiveMarkers {
    fn drop(&mut self) {
        for (_, path) in &self.held {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The directory of the markers of runs on the journal at `root`.
pub fn journal_markers(root: &Path) -> PathBuf {
    root.join(CHAOSDECK_DIR).join("live")
}

/// Writes and locks `run`'s marker in each of `dirs`.
pub fn register(dirs: &[PathBuf], run: &LiveRun) -> Result<LiveMarkers, JournalError> {
    let mut held = Vec::new();
    for dir in dirs {
        std::fs::create_dir_all(dir).map_err(io_err("create the live-run directory", dir))?;
        let path = dir.join(&run.run_uuid);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(io_err("create the live-run marker", &path))?;
        file.try_lock().map_err(|e| {
            io_err("lock the live-run marker", &path)(std::io::Error::other(e.to_string()))
        })?;
        file.write_all(run.render().as_bytes())
            .map_err(io_err("write the live-run marker", &path))?;
        held.push((file, path));
    }
    Ok(LiveMarkers { held })
}

/// The live runs with a marker in `dir`, other than `except`. Markers of dead runs are removed.
pub fn others(dir: &Path, except: &str) -> Vec<LiveRun> {
    let Ok(listing) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut live = Vec::new();
    for item in listing.flatten() {
        let path = item.path();
        if item.file_name().to_str() == Some(except) {
            continue;
        }
        let Ok(file) = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
        else {
            continue;
        };
        match file.try_lock_shared() {
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                if file.take(4096).read_to_string(&mut text).is_ok() {
                    live.push(LiveRun::parse(&text));
                }
            }
            // Its run is gone (the kernel dropped the lock with the process).
            Ok(()) => {
                let _ = std::fs::remove_file(&path);
            }
            Err(std::fs::TryLockError::Error(_)) => {}
        }
    }
    live.sort_by(|a, b| a.started.cmp(&b.started));
    live
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_marker_is_live_and_a_released_one_is_cleaned_up() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("live");
        let run = LiveRun {
            run_uuid: "aaaa-1".into(),
            pid: 7,
            started: "2026-12-06T12:00:00Z".into(),
            context: "kind-game\u{1b}[2J".into(),
            server: "https://10.0.0.1:6443".into(),
            journal: "/j".into(),
        };
        let held = register(std::slice::from_ref(&dir), &run).unwrap();
        assert!(others(&dir, "aaaa-1").is_empty(), "a run does not see itself");
        let seen = others(&dir, "bbbb-2");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].pid, 7);
        assert!(!seen[0].context.contains('\u{1b}'), "{:?}", seen[0].context);
        drop(held);
        assert!(others(&dir, "bbbb-2").is_empty());
        // A marker left by a killed run (file present, nobody holds it) is removed.
        std::fs::write(dir.join("cccc-3"), run.render()).unwrap();
        assert!(others(&dir, "bbbb-2").is_empty());
        assert!(!dir.join("cccc-3").exists());
    }
}
