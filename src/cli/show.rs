//! `chaosdeck show FILE`: one entry in full, for a human.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr, eyre};

use crate::journal::names::parse_entry_file;
use crate::journal::scan::{EntryBody, EntryNode, Liveness, read_entry};

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The entry file.
    pub file: PathBuf,
}

pub fn run(args: ShowArgs) -> Result<ExitCode> {
    let node = load(&args.file)?;
    print!("{}", crate::journal::describe::describe(&node));
    let raw = std::fs::read_to_string(&node.path)
        .wrap_err_with(|| format!("cannot read {}", node.path.display()))?;
    // As written, but for control characters: a file anyone may have edited.
    crate::out::line(format!("\n--- raw file ---\n{}", crate::refs::printable_lines(&raw)));
    Ok(if matches!(node.body, EntryBody::Invalid(_)) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn load(file: &std::path::Path) -> Result<EntryNode> {
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| eyre!("{} is not a file name", file.display()))?;
    let name = parse_entry_file(&file_name).ok_or_else(|| {
        eyre!(
            "{}: not a journal entry name (<scenario_type>_<ts>_<suffix>.yaml or Krkn's .py)",
            file.display()
        )
    })?;
    std::fs::symlink_metadata(file).wrap_err_with(|| format!("cannot read {}", file.display()))?;
    Ok(read_entry(file.to_path_buf(), file_name, name, &mut Liveness::default()))
}
