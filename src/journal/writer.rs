//! Writing entries: one durable file per cluster change, on disk before the change is made.
//!
//! New files are created here; every later change of an entry (amend, retire) goes through
//! `transitions`, under the context lock.
//!
//! A change a process is about to make goes through [`InFlight`]: the context lock is taken
//! before its entry is written and held until the change has been made or refused. An
//! executor (any process) undoes entries only under that lock, so it never meets an entry whose
//! change has not been sent yet — it would find nothing to undo, mark the entry executed, and
//! the change made a moment later would stay in the cluster with no entry left to undo it.

use std::path::{Path, PathBuf};

use super::entry::{ClusterIdentity, Entry, FORMAT_VERSION, MirrorRef, UndoAction, Writer};
use super::error::{JournalError, io_err};
use super::fsio;
use super::lock::{ContextLock, DEFAULT_PATIENCE, lock_context};
use super::names::{self, ContextName, EntryName, Flavor};

/// A journal directory (created 0700 on open).
#[derive(Debug, Clone)]
pub struct Journal {
    root: PathBuf,
    cluster: Option<ClusterIdentity>,
    mirror_namespace: Option<String>,
}

impl Journal {
    pub fn open(root: impl Into<PathBuf>) -> Result<Journal, JournalError> {
        let root = root.into();
        fsio::ensure_private_dir(&root).map_err(io_err("create the journal directory", &root))?;
        Ok(Journal { root, cluster: None, mirror_namespace: None })
    }

    /// Every entry written through this journal records `cluster` as the one it was made on.
    pub fn for_cluster(self, cluster: ClusterIdentity) -> Journal {
        Journal { cluster: Some(cluster), ..self }
    }

    /// Every entry written through this journal names its mirror in `namespace` (the dead
    /// man's switch); the caller creates the mirror before making the change.
    pub fn mirrored_in(self, namespace: impl Into<String>) -> Journal {
        Journal { mirror_namespace: Some(namespace.into()), ..self }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts a context: one directory per scenario-file execution, like Krkn.
    pub fn begin_context(&self, run_uuid: &str) -> Result<Context, JournalError> {
        if run_uuid.is_empty() || run_uuid.contains(['/', '\0']) {
            return Err(JournalError::Invalid {
                path: self.root.clone(),
                message: format!("run uuid {run_uuid:?} cannot be part of a directory name"),
            });
        }
        loop {
            let name =
                ContextName { ts_ns: names::unique_timestamp_ns(), run_uuid: run_uuid.into() };
            let dir = self.root.join(names::context_dir_name(name.ts_ns, run_uuid));
            match fsio::create_private_dir(&dir) {
                Ok(()) => {
                    return Ok(Context {
                        dir,
                        name,
                        cluster: self.cluster.clone(),
                        mirror_namespace: self.mirror_namespace.clone(),
                    });
                }
                // Another process minted the same nanosecond for the same run: take the next one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("create the context directory", &dir)(e)),
            }
        }
    }
}

impl Journal {
    /// Places a copy of an entry that another process wrote and mirrored (`chaosdeck attach`
    /// shows an in-cluster run's entries from their mirrors): at `<context>/<file>` under the
    /// root, both names checked to be a context's and a pending entry's. `Ok(false)` when
    /// the entry is there already, pending or executed: a copy never replaces anything.
    pub fn place_copy(&self, context: &str, file: &str, text: &[u8]) -> Result<bool, JournalError> {
        let invalid = |message: String| JournalError::Invalid { path: self.root.clone(), message };
        names::parse_context_dir(context)
            .ok_or_else(|| invalid(format!("{context:?} is not a context directory's name")))?;
        let name = names::parse_entry_file(file)
            .filter(|n| {
                !n.executed && n.flavor == Flavor::Chaosdeck && n.pending_file_name() == file
            })
            .ok_or_else(|| invalid(format!("{file:?} is not a pending entry's file name")))?;
        let dir = self.root.join(context);
        fsio::ensure_private_dir(&dir).map_err(io_err("create the context directory", &dir))?;
        let path = dir.join(name.pending_file_name());
        let executed = super::transitions::executed_path(&path);
        if std::fs::symlink_metadata(&executed).is_ok() {
            return Ok(false);
        }
        match fsio::write_new_durable(&path, text) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io_err("write the entry's copy", &path)(e)),
        }
    }
}

/// The name of the ConfigMap that mirrors the entry `name` (a valid object name: digits,
/// lower-case letters and dashes).
pub fn mirror_name(name: &EntryName) -> String {
    format!("chaosdeck-{}", name.id())
}

/// A context directory entries are written into. Cheap to clone and share between tasks.
#[derive(Debug, Clone)]
pub struct Context {
    dir: PathBuf,
    name: ContextName,
    cluster: Option<ClusterIdentity>,
    mirror_namespace: Option<String>,
}

/// What a scenario describes before making a change.
#[derive(Debug, Clone)]
pub struct EntryDraft {
    pub scenario_type: String,
    pub scenario_file: Option<String>,
    pub step: String,
    pub undo: Vec<UndoAction>,
}

/// An entry that is on disk, durably.
#[derive(Debug, Clone)]
pub struct WrittenEntry {
    pub path: PathBuf,
    pub name: EntryName,
    pub entry: Entry,
}

impl Context {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn run_uuid(&self) -> &str {
        &self.name.run_uuid
    }

    /// Mints the name of the next entry, so its id can be put on objects before writing.
    pub fn mint(&self, scenario_type: &str) -> EntryName {
        EntryName {
            flavor: Flavor::Chaosdeck,
            scenario_type: scenario_type.to_string(),
            ts_ns: names::unique_timestamp_ns(),
            suffix: names::random_suffix(),
            executed: false,
        }
    }

    /// Takes this context's lock for one change: write its entry, make the change, record the
    /// outcome through the returned [`InFlight`], then drop it. Waits for an executor that
    /// holds the lock (up to [`DEFAULT_PATIENCE`]), and fails rather than make a change whose
    /// entry could be undone before the change is sent.
    pub async fn begin_change(&self) -> Result<InFlight, JournalError> {
        let lock = lock_context(&self.dir, DEFAULT_PATIENCE).await?;
        Ok(InFlight { ctx: self.clone(), lock })
    }

    /// Writes the entry durably (temp, fsync, no-replace rename, directory fsync), without the
    /// lock: for an entry whose change this process does not make right after (tests, benches,
    /// tools). A change about to be made goes through [`Context::begin_change`].
    pub fn write(&self, name: EntryName, draft: EntryDraft) -> Result<WrittenEntry, JournalError> {
        if draft.undo.is_empty() {
            return Err(JournalError::Invalid {
                path: self.dir.clone(),
                message: format!("entry for {:?} has no undo action", draft.step),
            });
        }
        let mut entry = Entry {
            format: FORMAT_VERSION,
            run_uuid: self.name.run_uuid.clone(),
            scenario_type: draft.scenario_type,
            scenario_file: draft.scenario_file,
            step: draft.step,
            created_at: jiff::Timestamp::now().to_string(),
            writer: Writer::current(),
            cluster: self.cluster.clone(),
            undo: draft.undo,
            not_applied: None,
            mirror: None,
            undone_by: None,
        };
        let mut name = name;
        loop {
            entry.mirror = self
                .mirror_namespace
                .as_ref()
                .map(|ns| MirrorRef { namespace: ns.clone(), name: mirror_name(&name) });
            let file_name = name.pending_file_name();
            let path = self.dir.join(&file_name);
            let text = entry.render(&file_name).map_err(|e| JournalError::Serialize {
                path: path.clone(),
                message: e.to_string(),
            })?;
            match fsio::write_new_durable(&path, text.as_bytes()) {
                Ok(()) => return Ok(WrittenEntry { path, name, entry }),
                // Only possible across processes; a fresh name keeps every entry.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    name = self.mint(&name.scenario_type);
                }
                Err(e) => return Err(io_err("write the entry", &path)(e)),
            }
        }
    }

    /// The scenario undid its own change: mark *this* entry executed (never another one), under
    /// the context lock. Already executed by another process counts as done.
    pub fn retire(&self, written: &WrittenEntry) -> Result<(), JournalError> {
        super::transitions::retire(&written.path).map(|_| ())
    }
}

/// The entry as `change` leaves it, and its text.
fn amended(
    written: &WrittenEntry,
    change: impl FnOnce(&mut Entry),
) -> Result<(Entry, String), JournalError> {
    let mut amended = written.entry.clone();
    change(&mut amended);
    let text = amended.render(&written.name.pending_file_name()).map_err(|e| {
        JournalError::Serialize { path: written.path.clone(), message: e.to_string() }
    })?;
    Ok((amended, text))
}

/// One change in flight: the context's lock, held from before its entry is written until the
/// change has been made or refused (see the module doc). Dropping it releases the lock.
#[derive(Debug)]
pub struct InFlight {
    ctx: Context,
    lock: ContextLock,
}

impl InFlight {
    /// Writes the change's entry durably; only after this returns may the caller touch the
    /// cluster.
    pub fn write(&self, name: EntryName, draft: EntryDraft) -> Result<WrittenEntry, JournalError> {
        self.ctx.write(name, draft)
    }

    /// Rewrites the pending entry in place (durably), e.g. with the uid the cluster assigned.
    pub fn amend(
        &self,
        written: &mut WrittenEntry,
        change: impl FnOnce(&mut Entry),
    ) -> Result<(), JournalError> {
        let (amended, text) = amended(written, change)?;
        self.lock.rewrite(&written.path, text.as_bytes())?;
        written.entry = amended;
        Ok(())
    }

    /// The API server refused the change, so it was never made: retires the entry at once as
    /// not applied (see [`ContextLock::mark_not_applied`]).
    pub fn retire_not_applied(
        &self,
        written: &WrittenEntry,
        reason: &str,
    ) -> Result<(), JournalError> {
        self.lock.mark_not_applied(&written.path, reason).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mirror is cluster data: the names it gives may only make a pending entry's file in a
    /// context directory of this journal, and a copy never replaces what is there.
    #[test]
    fn a_copy_lands_only_as_a_pending_entry_and_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path().join("j")).unwrap();
        let ctx = "1795315097812653975-5e0c7a3d";
        let file = "hog_scenarios_1795315097812653976_abcdefgh.yaml";
        assert!(journal.place_copy(ctx, file, b"first").unwrap());
        assert!(!journal.place_copy(ctx, file, b"second").unwrap());
        let path = journal.root().join(ctx).join(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        std::fs::rename(&path, super::super::transitions::executed_path(&path)).unwrap();
        assert!(!journal.place_copy(ctx, file, b"again").unwrap(), "executed stays");
        assert!(!path.exists());
        for (c, f) in [
            ("..", file),
            ("not-a-context", file),
            (ctx, "../../x.yaml"),
            (ctx, "hog_scenarios_1795315097812653976_abcdefgh.yaml.executed"),
            (ctx, "hog_scenarios_1795315097812653976_abcdefgh.py"),
            (ctx, "notes.txt"),
        ] {
            assert!(journal.place_copy(c, f, b"x").is_err(), "{c}/{f}");
        }
    }
}
