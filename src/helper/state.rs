//! What `filter` leaves for `status` and `remove` (separate processes, exec'd into the helper
//! pod): where its rules live. One small file per tag in the state directory.

use std::path::{Path, PathBuf};

use super::args::Backend;
use super::tables::{Files, Kernel, Tables};

/// Where one tag's rules live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Kernel { pid: u32 },
    Files { path: PathBuf },
}

impl Place {
    pub fn tables(&self) -> Box<dyn Tables> {
        match self {
            Place::Kernel { pid } => Box::new(Kernel { pid: *pid }),
            Place::Files { path } => Box::new(Files { path: path.clone() }),
        }
    }

    /// The place of pod `uid`'s rules for `backend`.
    pub fn of_pod(
        backend: Backend,
        state_dir: &Path,
        proc_root: &Path,
        uid: &str,
    ) -> Result<Place, String> {
        match backend {
            Backend::Kernel => {
                Ok(Place::Kernel { pid: super::tables::pid_of_pod(proc_root, uid)? })
            }
            Backend::Files => {
                Ok(Place::Files { path: state_dir.join(format!("netns-{uid}.rules")) })
            }
        }
    }
}

/// A tag is an entry id: it names a file here and a comment in the tables, so nothing else.
pub fn check_tag(tag: &str) -> Result<(), String> {
    if tag.len() < 8 || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("a tag is an entry id: at least 8 letters, digits or dashes".into());
    }
    Ok(())
}

fn file(state_dir: &Path, tag: &str) -> PathBuf {
    state_dir.join(format!("{tag}.place"))
}

pub fn save(state_dir: &Path, tag: &str, place: &Place) -> Result<(), String> {
    std::fs::create_dir_all(state_dir)
        .map_err(|e| format!("creating {}: {e}", state_dir.display()))?;
    let text = match place {
        Place::Kernel { pid } => format!("kernel {pid}\n"),
        Place::Files { path } => format!("files {}\n", path.display()),
    };
    std::fs::write(file(state_dir, tag), text)
        .map_err(|e| format!("writing the state of {tag}: {e}"))
}

pub fn load(state_dir: &Path, tag: &str) -> Result<Option<Place>, String> {
    let text = match std::fs::read_to_string(file(state_dir, tag)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("reading the state of {tag}: {e}")),
    };
    let line = text.trim_end();
    match line.split_once(' ') {
        Some(("kernel", pid)) => pid
            .parse()
            .map(|pid| Some(Place::Kernel { pid }))
            .map_err(|_| format!("the state of {tag} is damaged: {line:?}")),
        Some(("files", path)) => Ok(Some(Place::Files { path: PathBuf::from(path) })),
        _ => Err(format!("the state of {tag} is damaged: {line:?}")),
    }
}
