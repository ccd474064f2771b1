//! Selecting entries by run uuid (full or unique prefix), scenario type and file.

use std::path::Path;

use super::scan::{ContextNode, EntryNode, JournalTree};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// A run uuid or a prefix of one.
    pub run_uuid: Option<String>,
    pub scenario_type: Option<String>,
    /// One entry file (path or file name).
    pub file: Option<String>,
}

impl Filter {
    pub fn matches(&self, ctx: &ContextNode, entry: &EntryNode) -> bool {
        if let Some(run) = &self.run_uuid
            && !ctx.name.run_uuid.starts_with(run.as_str())
        {
            return false;
        }
        if let Some(st) = &self.scenario_type
            && entry.name.scenario_type != *st
        {
            return false;
        }
        if let Some(file) = &self.file {
            // A bare file name matches by name; a path must point at this very file.
            let wanted = Path::new(file);
            let same = if wanted.components().count() == 1 {
                wanted.as_os_str() == entry.file_name.as_str()
            } else {
                wanted == entry.path || paths_equal(wanted, &entry.path)
            };
            if !same {
                return false;
            }
        }
        true
    }

    /// The distinct run uuids the run filter matches, to refuse an ambiguous prefix.
    pub fn matching_runs(&self, tree: &JournalTree) -> Vec<String> {
        let mut runs: Vec<String> = tree
            .contexts
            .iter()
            .filter(|c| {
                self.run_uuid.as_ref().is_none_or(|r| c.name.run_uuid.starts_with(r.as_str()))
            })
            .map(|c| c.name.run_uuid.clone())
            .collect();
        runs.sort();
        runs.dedup();
        runs
    }
}

fn paths_equal(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
