//! Selecting entries by run uuid (full or unique prefix), scenario type and file.

use std::path::Path;

use super::scan::{ContextNode, EntryNode, JournalTree};

#[derive(Debug, Clone, Default)]
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
            let wanted = Path::new(file);
            let same_name = wanted.file_name().is_some_and(|n| n == entry.file_name.as_str());
            let same_path = wanted.components().count() > 1 && wanted == entry.path;
            if !(same_name
                && (same_path
                    || wanted.components().count() == 1
                    || paths_equal(wanted, &entry.path)))
            {
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
