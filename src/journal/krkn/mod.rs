//! Krkn's rollback version files (`<scenario_type>_<ts>_<suffix>.py`), read as data and never
//! executed: no Python, no krkn-lib.
//!
//! Owns: parsing a version file (`file`, `literal`, `payload`), mapping Krkn's callables to
//! chaosdeck's generic undo actions or to an explanation when they need exec or a cloud
//! (`plan`), executing those actions with the look-ups service hijacking needs (`apply`), and
//! the instructions for running what chaosdeck cannot with Krkn itself. Naming, listing and the
//! `.py` → `.py.executed` rename are the journal's (Krkn's rules are the same as ours).

pub mod apply;
pub mod file;
pub mod literal;
pub mod payload;
pub mod plan;

use std::path::Path;

pub use file::{RollbackContent, VersionFile};
pub use plan::Plan;

use super::kubectl::shell_word;
use super::names::parse_context_dir;

/// What a Krkn version file says it will do, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct KrknSummary {
    pub callable: String,
    /// The right-hand side of `rollback_content = ...`, verbatim.
    pub content: String,
    pub parsed: RollbackContent,
    pub plan: Plan,
}

impl KrknSummary {
    /// One line for listings: `krkn rollback_hog_pod: delete Pod default/cpu-hog-kqlog`.
    pub fn line(&self) -> String {
        format!("krkn {}: {}", self.callable, self.plan.summary())
    }
}

/// Parses and decodes a version file; Err is the reason it is invalid.
pub fn summarize(text: &str) -> Result<KrknSummary, String> {
    let file = file::parse(text)?;
    let plan = plan::plan(&file.callable, &file.content)?;
    Ok(KrknSummary {
        callable: file.callable,
        content: file.content_line,
        parsed: file.content,
        plan,
    })
}

/// How to run one version file with Krkn, for what chaosdeck does not execute.
pub fn krkn_instructions(path: &Path, scenario_type: &str) -> String {
    let run_uuid = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| parse_context_dir(&n.to_string_lossy()))
        .map(|c| c.run_uuid)
        .unwrap_or_else(|| "<run_uuid>".into());
    // Both come from names on disk, which anyone can create: quoted for the shell.
    let (run_uuid, scenario_type) = (shell_word(&run_uuid), shell_word(scenario_type));
    format!(
        "from a krkn checkout whose config points \
         kraken.rollback_versions_directory at this directory, \
         `python run_kraken.py execute-rollback -r {run_uuid} -s {scenario_type}` \
         (or the krknctl/krkn-hub rollback image with RUN_UUID={run_uuid})"
    )
}
