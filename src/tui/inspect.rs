//! What the Inspector shows for one entry file, read fresh from disk: the description shared
//! with `chaosdeck show` (before/after view included) and the raw file.

use std::path::PathBuf;

use crate::journal::describe::describe;
use crate::journal::names::parse_entry_file;
use crate::journal::scan::{Liveness, read_entry};

use super::app::Inspected;

/// The Inspector's text for `path`; `None` when the name is not an entry's (nothing to show).
/// Blocking file I/O: the UI loop calls it on a blocking task.
pub fn load(path: PathBuf) -> Option<Inspected> {
    let file_name = path.file_name()?.to_string_lossy().into_owned();
    let name = parse_entry_file(&file_name)?;
    let node = read_entry(path.clone(), file_name, name, &mut Liveness::default());
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("cannot read: {e}"));
    let text = format!("{}\n--- raw file ---\n{raw}", describe(&node));
    Some(Inspected { path, text })
}
