//! `chaosdeck check`: validate every entry of a journal; exit 1 if any is invalid.

use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};

use super::location::JournalLocation;
use crate::journal::scan;
use crate::journal::scan::{EntryBody, EntryState};

#[derive(Args, Debug, Default)]
pub struct CheckArgs {
    #[command(flatten)]
    pub location: JournalLocation,
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let dir = args.location.resolve()?;
    let tree =
        scan(&dir).wrap_err_with(|| format!("cannot read the journal at {}", dir.display()))?;
    let mut invalid = 0;
    let mut entries = 0;
    for (_, e) in tree.entries() {
        entries += 1;
        if let EntryBody::Invalid(reason) = &e.body {
            invalid += 1;
            crate::out::line(format!("invalid   {}: {reason}", e.path.display()));
        }
    }
    let unknown: Vec<_> =
        tree.unknown.iter().chain(tree.contexts.iter().flat_map(|c| c.unknown.iter())).collect();
    for u in &unknown {
        crate::out::line(format!("unknown   {}: {}", u.path.display(), u.reason));
    }
    let outstanding = tree.entries().filter(|(_, e)| e.state.is_outstanding()).count();
    let failed = tree.entries().filter(|(_, e)| e.state == EntryState::Failed).count();
    crate::out::line(format!(
        "{}: {} contexts, {entries} entries ({outstanding} outstanding, {failed} with a failed undo), {invalid} invalid, {} unknown files",
        dir.display(),
        tree.contexts.len(),
        unknown.len()
    ));
    Ok(if invalid > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
