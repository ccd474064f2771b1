//! Reading a journal directory back: contexts, entries, their states, and everything else.
//!
//! Tolerant by design: a malformed entry is reported with its parse error, an unknown file is
//! listed as unknown, a symlink is reported and not followed. Nothing is ever deleted here.

use std::collections::HashMap;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::fs::{FileType, Mode, OFlags, RawDir};
use serde::Serialize;

use super::entry::{Entry, Header, Writer};
use super::fsio;
use super::krkn::{self, KrknSummary};
use super::names::{
    self, AUDIT_FILE, CHAOSDECK_DIR, ContextName, ERROR_EXT, EntryName, Flavor, KRKN_ERRORS_DIR,
    LEGACY_LOCK_FILE,
};
use super::transitions::{self, ErrorRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// Waiting to be undone.
    Pending,
    /// Undone (file renamed `.executed`).
    Executed,
    /// Pending, and its last undo attempt failed (see the error record).
    Failed,
    /// Cannot be read; shown with the reason, never executed.
    Invalid,
    /// Retired at once: the API server refused the change, so it was never made (the reason
    /// is in the entry and the audit log).
    #[serde(rename = "not-applied")]
    NotApplied,
}

impl EntryState {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Pending => "pending",
            EntryState::Executed => "executed",
            EntryState::Failed => "failed",
            EntryState::Invalid => "invalid",
            EntryState::NotApplied => "not-applied",
        }
    }

    /// Still needs an undo (pending or failed).
    pub fn is_outstanding(self) -> bool {
        matches!(self, EntryState::Pending | EntryState::Failed)
    }

    /// What a rollback takes: outstanding entries, and pending-named files that cannot be read
    /// (their change may still be in the cluster; they are reported, never executed). The one
    /// definition the engine, the TUI and `execute-rollback` select by.
    pub fn awaits_undo(self) -> bool {
        self.is_outstanding() || self == EntryState::Invalid
    }
}

/// How much of each entry a scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Only the human header: states and writers, for counting what is outstanding. Shows no
    /// undo (a header is a comment anyone can make say anything).
    Headers,
    /// Parse every body: for whatever shows what an entry undoes (listings, the TUI, `check`)
    /// and for execution.
    Full,
}

#[derive(Debug, Clone)]
pub enum EntryBody {
    Chaosdeck(Box<Entry>),
    /// Read at [`Depth::Headers`]: the body has not been parsed.
    Listed(Header),
    Krkn(Box<KrknSummary>),
    Invalid(String),
}

#[derive(Debug, Clone)]
pub struct EntryNode {
    pub file_name: String,
    pub path: PathBuf,
    pub name: EntryName,
    pub state: EntryState,
    pub body: EntryBody,
    pub last_error: Option<ErrorRecord>,
    /// `Some(false)` when the writer ran on this host and its process is gone.
    pub writer_alive: Option<bool>,
    /// The scenario file the entry's change came from, when the entry records one.
    pub scenario_file: Option<String>,
}

impl EntryNode {
    /// Who undid this entry and when, when it was not this machine's chaosdeck (the dead man's
    /// switch's record, reconciled into the file): `"<who> at <when>"`.
    pub fn undone_by(&self) -> Option<String> {
        match &self.body {
            EntryBody::Chaosdeck(e) => {
                e.undone_by.as_ref().map(|u| format!("{} at {}", u.by, u.at))
            }
            EntryBody::Listed(h) => h.undone_by.clone(),
            EntryBody::Krkn(_) | EntryBody::Invalid(_) => None,
        }
    }

    pub fn summary(&self) -> String {
        self.summary_text().into_owned()
    }

    /// [`EntryNode::summary`], borrowed when the entry already holds it (a listing's header):
    /// listings print thousands of them.
    pub fn summary_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.body {
            EntryBody::Chaosdeck(e) => e.undo_summary().into(),
            // A header says nothing trustworthy about the undo ([`Depth::Headers`]).
            EntryBody::Listed(_) => "(not read: the body was not parsed)".into(),
            EntryBody::Krkn(k) => k.line().into(),
            EntryBody::Invalid(reason) => format!("invalid: {reason}").into(),
        }
    }

    /// What stays in the cluster if this entry is marked executed without undoing it.
    pub fn left_as_is(&self) -> String {
        match &self.body {
            EntryBody::Chaosdeck(e) => match e.undo.as_slice() {
                [] => "nothing: the entry has nothing to undo".to_string(),
                [one] => one.left_as_is(),
                [first, rest @ ..] => format!("{} (+{} more)", first.left_as_is(), rest.len()),
            },
            EntryBody::Listed(_) => "(not read: the body was not parsed)".into(),
            EntryBody::Krkn(k) => format!("Krkn's change stays: {}", k.line()),
            EntryBody::Invalid(reason) => format!("whatever it changed stays (invalid: {reason})"),
        }
    }

    /// The cluster the change was made on, when the entry records it.
    pub fn cluster(&self) -> Option<&crate::refs::ClusterIdentity> {
        match &self.body {
            EntryBody::Chaosdeck(e) => e.cluster.as_ref(),
            _ => None,
        }
    }

    pub fn run_uuid(&self) -> Option<&str> {
        match &self.body {
            EntryBody::Chaosdeck(e) => Some(&e.run_uuid),
            _ => None,
        }
    }

    /// Pending, its writer process is gone: nobody is going to undo it unless asked.
    pub fn is_orphaned(&self) -> bool {
        self.state.is_outstanding() && self.writer_alive == Some(false)
    }
}

/// A file or directory the journal does not own; listed, never touched.
#[derive(Debug, Clone, Serialize)]
pub struct Unknown {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct ContextNode {
    pub dir_name: String,
    pub path: PathBuf,
    pub name: ContextName,
    /// Oldest first (creation order recovered from the names).
    pub entries: Vec<EntryNode>,
    pub unknown: Vec<Unknown>,
}

impl ContextNode {
    pub fn outstanding(&self) -> usize {
        self.entries.iter().filter(|e| e.state.is_outstanding()).count()
    }
}

#[derive(Debug, Clone, Default)]
pub struct JournalTree {
    pub root: PathBuf,
    pub exists: bool,
    /// Oldest first.
    pub contexts: Vec<ContextNode>,
    pub unknown: Vec<Unknown>,
}

impl JournalTree {
    pub fn entries(&self) -> impl Iterator<Item = (&ContextNode, &EntryNode)> {
        self.contexts.iter().flat_map(|c| c.entries.iter().map(move |e| (c, e)))
    }

    pub fn outstanding(&self) -> usize {
        self.contexts.iter().map(ContextNode::outstanding).sum()
    }

    /// Pending-named files that cannot be read as entries: outstanding work nobody can execute
    /// until a human looks at them.
    pub fn invalid(&self) -> usize {
        self.entries().filter(|(_, e)| e.state == EntryState::Invalid).count()
    }
}

/// Reads the whole journal under `root`, parsing every entry. A missing root is an empty
/// journal, not an error.
pub fn scan(root: &Path) -> std::io::Result<JournalTree> {
    scan_with(root, Depth::Full)
}

pub fn scan_with(root: &Path, depth: Depth) -> std::io::Result<JournalTree> {
    let mut tree = JournalTree { root: root.to_path_buf(), ..Default::default() };
    let meta = match fs::symlink_metadata(root) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(tree),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is a symbolic link; the journal never follows links", root.display()),
        ));
    }
    tree.exists = true;
    let mut found = Vec::new();
    for item in fs::read_dir(root)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = item.path();
        let file_type = item.file_type()?;
        if file_type.is_symlink() {
            tree.unknown.push(Unknown { path, reason: "symbolic link (not followed)".into() });
            continue;
        }
        match names::parse_context_dir(&name) {
            Some(ctx_name) if file_type.is_dir() => found.push((path, name, ctx_name)),
            _ if name == AUDIT_FILE && file_type.is_file() => {}
            // chaosdeck's own records (Krkn files' error records); read with their entries.
            _ if name == CHAOSDECK_DIR && file_type.is_dir() => {}
            _ => tree.unknown.push(Unknown { path, reason: "not a context directory".into() }),
        }
    }
    tree.contexts = scan_contexts(root, found, depth)?;
    tree.contexts.sort_by(|a, b| (a.name.ts_ns, &a.dir_name).cmp(&(b.name.ts_ns, &b.dir_name)));
    Ok(tree)
}

/// Reads contexts on every core (at most [`MAX_SCAN_THREADS`]): with thousands of small files
/// the cost is per-file syscalls, which parallelise well. Workers take contexts one at a time
/// from a shared counter, so one big context does not leave the others idle.
fn scan_contexts(
    root: &Path,
    found: Vec<(PathBuf, String, ContextName)>,
    depth: Depth,
) -> std::io::Result<Vec<ContextNode>> {
    let records = KrknRecords::list(root, !found.is_empty())?;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get().min(MAX_SCAN_THREADS))
        .unwrap_or(1)
        .min(found.len() / MIN_CONTEXTS_PER_THREAD)
        .max(1);
    let next = AtomicUsize::new(0);
    let work = || -> std::io::Result<Vec<(usize, ContextNode)>> {
        let mut reader = ContextReader {
            depth,
            liveness: Liveness::default(),
            buf: Vec::new(),
            dir_buf: Vec::new(),
        };
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((path, dir_name, name)) = found.get(i) else { return Ok(done) };
            let node = reader.scan_context(path, dir_name.clone(), name.clone(), &records)?;
            done.push((i, node));
        }
    };
    let mut nodes: Vec<(usize, ContextNode)> = std::thread::scope(|s| {
        let others: Vec<_> = (1..workers).map(|_| s.spawn(work)).collect();
        let mut all = work()?;
        for other in others {
            let theirs = other
                .join()
                .map_err(|_| std::io::Error::other("journal scan thread panicked"))??;
            all.extend(theirs);
        }
        Ok::<_, std::io::Error>(all)
    })?;
    nodes.sort_unstable_by_key(|(i, _)| *i);
    Ok(nodes.into_iter().map(|(_, node)| node).collect())
}

/// More threads than this buys nothing on a local disk and costs their start-up.
const MAX_SCAN_THREADS: usize = 8;
/// Below this many contexts per thread, starting a thread costs more than it saves.
const MIN_CONTEXTS_PER_THREAD: usize = 32;

/// The context directories that have error records of Krkn files under
/// `.chaosdeck/krkn-errors/`, listed once per scan instead of looked up once per context (most
/// journals have none).
enum KrknRecords {
    None,
    Some(std::collections::HashSet<String>),
    /// The records directory exists but cannot be listed: every context reports the error, as
    /// a per-context lookup would.
    Unreadable(std::io::ErrorKind, String),
}

impl KrknRecords {
    fn list(root: &Path, any_context: bool) -> std::io::Result<KrknRecords> {
        if !any_context {
            return Ok(KrknRecords::None);
        }
        let dir = root.join(CHAOSDECK_DIR).join(KRKN_ERRORS_DIR);
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(KrknRecords::None),
            Err(e) => return Ok(KrknRecords::Unreadable(e.kind(), e.to_string())),
        };
        let mut names = std::collections::HashSet::new();
        for item in listing {
            names.insert(item?.file_name().to_string_lossy().into_owned());
        }
        Ok(KrknRecords::Some(names))
    }
}

/// One scanning thread's state: its liveness cache and the buffers every file and directory
/// listing is read into.
struct ContextReader {
    depth: Depth,
    liveness: Liveness,
    buf: Vec<u8>,
    dir_buf: Vec<u8>,
}

/// Room for a context directory's listing in one `getdents` (about 400 names; larger
/// directories take more calls).
const DIR_BUF: usize = 32 * 1024;

impl ContextReader {
    fn scan_context(
        &mut self,
        dir: &Path,
        dir_name: String,
        name: ContextName,
        records: &KrknRecords,
    ) -> std::io::Result<ContextNode> {
        let mut node = ContextNode {
            dir_name,
            path: dir.to_path_buf(),
            name,
            entries: vec![],
            unknown: vec![],
        };
        // Entries are opened relative to this descriptor: one path component to resolve per
        // file instead of the whole path.
        let dir_fd = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut items = Vec::new();
        let mut sidecars = std::collections::HashSet::new();
        if self.dir_buf.capacity() < DIR_BUF {
            self.dir_buf.reserve_exact(DIR_BUF);
        }
        let mut listing = RawDir::new(&dir_fd, self.dir_buf.spare_capacity_mut());
        while let Some(item) = listing.next() {
            let item = item?;
            let raw = item.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            let file_name = String::from_utf8_lossy(raw).into_owned();
            let file_type = match item.file_type() {
                // Some file systems do not say in the listing; ask without following links.
                FileType::Unknown => rustix::fs::statat(
                    &dir_fd,
                    item.file_name(),
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                )
                .map(|st| FileType::from_raw_mode(st.st_mode))?,
                known => known,
            };
            if let Some(entry) = file_name.strip_suffix(ERROR_EXT) {
                sidecars.insert(entry.to_string());
            }
            items.push((file_name, file_type));
        }
        // Error records of Krkn files live outside Krkn's directory (see `transitions::error_path`).
        let krkn_records = match records {
            KrknRecords::None => None,
            KrknRecords::Some(names) if !names.contains(&node.dir_name) => None,
            KrknRecords::Some(_) => dir
                .parent()
                .map(|root| root.join(CHAOSDECK_DIR).join(KRKN_ERRORS_DIR).join(&node.dir_name)),
            KrknRecords::Unreadable(kind, message) => {
                return Err(std::io::Error::new(*kind, message.clone()));
            }
        };
        if let Some(records) = krkn_records {
            match fs::read_dir(&records) {
                Ok(found) => {
                    for item in found {
                        let file_name = item?.file_name().to_string_lossy().into_owned();
                        if let Some(entry) = file_name.strip_suffix(ERROR_EXT) {
                            sidecars.insert(entry.to_string());
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        node.entries.reserve_exact(items.len());
        for (file_name, file_type) in items {
            let path = dir.join(&file_name);
            if file_type == FileType::Symlink {
                node.unknown.push(Unknown { path, reason: "symbolic link (not followed)".into() });
                continue;
            }
            // Krkn's importlib cache and standalone-run logs belong to Krkn, not to the journal.
            if file_type == FileType::Directory
                && (file_name == "__pycache__" || file_name == "logs")
            {
                continue;
            }
            if file_name == LEGACY_LOCK_FILE
                || file_name == ".keep"
                || file_name.ends_with(ERROR_EXT)
            {
                continue;
            }
            if file_name.starts_with('.') && file_name.ends_with(".tmp") {
                node.unknown.push(Unknown {
                    path,
                    reason: "unfinished write (crashed before rename)".into(),
                });
                continue;
            }
            let parsed =
                names::parse_entry_file(&file_name).filter(|_| file_type == FileType::RegularFile);
            let Some(entry_name) = parsed else {
                node.unknown.push(Unknown {
                    path,
                    reason: "does not match <scenario_type>_<ts>_<suffix>".into(),
                });
                continue;
            };
            let has_error = sidecars.contains(&file_name);
            // Opened by the name the node records, so listing and executing agree on the file.
            let read = read_at(dir_fd.as_fd(), &file_name, &mut self.buf, self.depth);
            let text = match &read {
                Ok(len) => Ok(utf8_lossy(&self.buf[..*len])),
                Err(e) => Err(e),
            };
            node.entries.push(node_of(
                path,
                file_name,
                entry_name,
                text,
                self.depth,
                has_error,
                &mut self.liveness,
            ));
        }
        node.entries
            .sort_by(|a, b| (a.name.ts_ns, &a.file_name).cmp(&(b.name.ts_ns, &b.file_name)));
        Ok(node)
    }
}

/// Reads the file `name` in `dir` into `buf` (grown as needed), without following a symlink;
/// returns its length. No stat first: entries are a few KiB, so a read into a buffer that large
/// is the whole cost after the open.
///
/// At [`Depth::Headers`], a read that leaves the buffer part empty is taken as the end of the
/// file instead of asking again for the zero-length read that proves it: on the local file
/// systems journals live on a regular file is only read short at its end, and a listing never
/// executes what it read — execution parses the file again, whole ([`Depth::Full`] reads to the
/// end).
fn read_at(
    dir: BorrowedFd<'_>,
    name: &str,
    buf: &mut Vec<u8>,
    depth: Depth,
) -> std::io::Result<usize> {
    const START: usize = 16 * 1024;
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    if buf.len() < START {
        buf.resize(START, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match rustix::io::read(&fd, &mut buf[len..]) {
            Ok(0) => return Ok(len),
            Ok(n) => {
                len += n;
                if depth == Depth::Headers && len < buf.len() {
                    return Ok(len);
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The text of a file, borrowed when it is valid UTF-8 (always, for files chaosdeck wrote):
/// `String::from_utf8_lossy` checks chunk by chunk, several times slower on the valid case.
fn utf8_lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Reads one entry file fully into a node (state, body, last error).
pub fn read_entry(
    path: PathBuf,
    file_name: String,
    name: EntryName,
    liveness: &mut Liveness,
) -> EntryNode {
    let has_error = !name.executed && transitions::has_error(&path);
    let bytes = fsio::read_nofollow(&path);
    let text = match &bytes {
        Ok(bytes) => Ok(utf8_lossy(bytes)),
        Err(e) => Err(e),
    };
    node_of(path, file_name, name, text, Depth::Full, has_error, liveness)
}

fn node_of(
    path: PathBuf,
    file_name: String,
    name: EntryName,
    text: Result<std::borrow::Cow<'_, str>, &std::io::Error>,
    depth: Depth,
    has_error: bool,
    liveness: &mut Liveness,
) -> EntryNode {
    // The scenario file of a header-only listing, read in the same pass as the header.
    let mut listed_scenario_file = None;
    let body = match (&text, name.flavor) {
        (Err(e), _) => EntryBody::Invalid(format!("cannot read: {e}")),
        (Ok(text), Flavor::Chaosdeck) if depth == Depth::Headers => {
            match Header::read_listing(text) {
                Some((header, scenario_file)) => {
                    listed_scenario_file = scenario_file.and_then(scenario_file_value);
                    EntryBody::Listed(header)
                }
                None => EntryBody::Invalid(
                    "no chaosdeck header or body (run `chaosdeck check` for details)".into(),
                ),
            }
        }
        (Ok(text), Flavor::Chaosdeck) => match Entry::parse(text) {
            Ok(entry) => EntryBody::Chaosdeck(Box::new(entry)),
            Err(e) => EntryBody::Invalid(e.to_string()),
        },
        (Ok(text), Flavor::Krkn) => match krkn::summarize(text) {
            Ok(summary) => EntryBody::Krkn(Box::new(summary)),
            Err(e) => EntryBody::Invalid(e),
        },
    };
    let last_error =
        if name.executed || !has_error { None } else { transitions::read_error(&path) };
    let not_applied = match &body {
        EntryBody::Chaosdeck(e) => e.not_applied.is_some(),
        EntryBody::Listed(h) => h.not_applied.is_some(),
        _ => false,
    };
    let state = match (&body, name.executed, &last_error) {
        (_, true, _) if not_applied => EntryState::NotApplied,
        (_, true, _) => EntryState::Executed,
        (EntryBody::Invalid(_), false, _) => EntryState::Invalid,
        (_, false, Some(_)) => EntryState::Failed,
        (_, false, None) => EntryState::Pending,
    };
    let writer_alive = match &body {
        EntryBody::Chaosdeck(e) if !name.executed => liveness.alive(&e.writer),
        EntryBody::Listed(Header { writer: Some(w), .. }) if !name.executed => liveness.alive(w),
        _ => None,
    };
    let scenario_file = match &body {
        EntryBody::Chaosdeck(e) => e.scenario_file.clone(),
        EntryBody::Listed(_) => listed_scenario_file,
        _ => None,
    };
    EntryNode { file_name, path, name, state, body, last_error, writer_alive, scenario_file }
}

/// `scenario_file` read from the body's top-level line (the text after `scenario_file: `), so a
/// header-only listing can name the file without parsing the YAML.
fn scenario_file_value(raw: &str) -> Option<String> {
    let value = raw.trim();
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
        .unwrap_or(value);
    (!value.is_empty() && value != "null" && value != "~").then(|| value.to_string())
}

/// Whether writer processes on this host still run (cached per pid for one scan).
#[derive(Default)]
pub struct Liveness {
    host: Option<String>,
    pids: HashMap<u32, bool>,
}

impl Liveness {
    fn alive(&mut self, writer: &Writer) -> Option<bool> {
        let host = self.host.get_or_insert_with(|| Writer::current().host);
        if writer.host != *host {
            return None;
        }
        Some(*self.pids.entry(writer.pid).or_insert_with(|| pid_alive(writer.pid)))
    }
}

fn pid_alive(pid: u32) -> bool {
    // 0 is no process: kill(0, 0) would ask about our own process group and say yes.
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission; nothing is delivered.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::pid_alive;

    #[test]
    fn pid_zero_is_no_writer_and_this_process_is_alive() {
        assert!(!pid_alive(0), "kill(0, 0) asks about the process group, not a writer");
        assert!(!pid_alive(u32::MAX), "not a pid_t");
        assert!(pid_alive(std::process::id()));
    }
}
