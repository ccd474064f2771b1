//! What a fault leaves for `status` and `remove` (separate processes, exec'd into the helper
//! pod): which fault, and which network namespace. One small file per tag.

use std::path::{Path, PathBuf};

use super::args::{Backend, Common};
use super::fault::Fault;
use super::netns::{Files, Kernel, Netns, pid_of_pod};

/// Which network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The kernel's: a pod's (`nsenter` into `pid`) or, with no pid, the node's own.
    Kernel {
        pid: Option<u32>,
    },
    Files {
        base: PathBuf,
    },
}

impl Place {
    pub fn netns(&self) -> Box<dyn Netns> {
        match self {
            Place::Kernel { pid } => Box::new(Kernel { pid: *pid }),
            Place::Files { base } => Box::new(Files { base: base.clone() }),
        }
    }

    pub fn of(c: &Common) -> Result<Place, String> {
        let name = match (&c.pod_uid, &c.node) {
            (Some(uid), _) => {
                check_word(uid)?;
                format!("netns-{uid}")
            }
            (None, Some(node)) => {
                check_word(node)?;
                format!("netns-node-{node}")
            }
            (None, None) => return Err("name a pod (--pod-uid) or a node (--node)".into()),
        };
        match (c.backend, &c.pod_uid) {
            (Backend::Kernel, Some(uid)) => {
                Ok(Place::Kernel { pid: Some(pid_of_pod(&c.proc_root, uid)?) })
            }
            (Backend::Kernel, None) => Ok(Place::Kernel { pid: None }),
            (Backend::Files, _) => Ok(Place::Files { base: c.state_dir.join(name) }),
        }
    }
}

fn check_word(s: &str) -> Result<(), String> {
    let ok = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    if ok { Ok(()) } else { Err(format!("{s:?} is not a uid or node name")) }
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

pub fn save(state_dir: &Path, tag: &str, fault: &Fault, place: &Place) -> Result<(), String> {
    std::fs::create_dir_all(state_dir)
        .map_err(|e| format!("creating {}: {e}", state_dir.display()))?;
    let at = match place {
        Place::Kernel { pid: Some(pid) } => format!("kernel {pid}"),
        Place::Kernel { pid: None } => "kernel host".into(),
        Place::Files { base } => format!("files {}", base.display()),
    };
    std::fs::write(file(state_dir, tag), format!("{}\n{at}\n", fault.to_state()))
        .map_err(|e| format!("writing the state of {tag}: {e}"))
}

pub fn load(state_dir: &Path, tag: &str) -> Result<Option<(Fault, Place)>, String> {
    let text = match std::fs::read_to_string(file(state_dir, tag)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("reading the state of {tag}: {e}")),
    };
    let damaged = || format!("the state of {tag} is damaged");
    let mut lines = text.lines();
    let fault = lines.next().and_then(Fault::from_state).ok_or_else(damaged)?;
    let place = match lines.next().and_then(|l| l.split_once(' ')) {
        Some(("kernel", "host")) => Place::Kernel { pid: None },
        Some(("kernel", pid)) => Place::Kernel { pid: Some(pid.parse().map_err(|_| damaged())?) },
        Some(("files", base)) => Place::Files { base: PathBuf::from(base) },
        _ => return Err(damaged()),
    };
    Ok(Some((fault, place)))
}
