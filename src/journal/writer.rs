//! Writing entries: one durable file per cluster change, on disk before the change is made.
//!
//! New files are created here; every later change of an entry (amend, retire) goes through
//! `state`, under the context lock.

use std::path::{Path, PathBuf};

use super::entry::{ClusterIdentity, Entry, FORMAT_VERSION, MirrorRef, UndoAction, Writer};
use super::error::{JournalError, io_err};
use super::fsio;
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

    /// Writes the entry durably (temp, fsync, no-replace rename, directory fsync). Only after
    /// this returns may the caller touch the cluster.
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

    /// Rewrites a pending entry in place (durably), e.g. to record the uid the cluster assigned.
    /// Under the context lock, and only while the entry is still pending: an executor in
    /// another process may have undone it meanwhile, and it must not come back as pending.
    pub fn amend(
        &self,
        written: &mut WrittenEntry,
        change: impl FnOnce(&mut Entry),
    ) -> Result<(), JournalError> {
        let mut amended = written.entry.clone();
        change(&mut amended);
        let file_name = written.name.pending_file_name();
        let text = amended.render(&file_name).map_err(|e| JournalError::Serialize {
            path: written.path.clone(),
            message: e.to_string(),
        })?;
        super::state::amend(&written.path, text.as_bytes())?;
        written.entry = amended;
        Ok(())
    }

    /// The scenario undid its own change: mark *this* entry executed (never another one), under
    /// the context lock. Already executed by another process counts as done.
    pub fn retire(&self, written: &WrittenEntry) -> Result<(), JournalError> {
        super::state::retire(&written.path).map(|_| ())
    }

    /// The API server refused the change outright, so it was never made: retire *this* entry at
    /// once as not applied, with `reason` (audit line, then the record, then the rename).
    pub fn retire_not_applied(
        &self,
        written: &WrittenEntry,
        reason: &str,
    ) -> Result<(), JournalError> {
        super::state::retire_not_applied(&written.path, reason).map(|_| ())
    }
}
