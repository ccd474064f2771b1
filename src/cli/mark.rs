//! `chaosdeck mark-executed FILE`: the operator undid it by hand; record that, touch no cluster.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::{Result, bail};

use crate::exit::BAD_INPUT as EXIT_BAD_INPUT;
use crate::journal::lock::DEFAULT_PATIENCE;
use crate::journal::transitions::{self, Marked};

#[derive(Args, Debug)]
pub struct MarkArgs {
    /// The pending entry file.
    pub file: PathBuf,
    /// Why (recorded in the journal's audit log).
    #[arg(long, default_value = "undone by hand")]
    pub reason: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

pub fn run(args: MarkArgs) -> Result<ExitCode> {
    let node = super::show::load(&args.file)?;
    if node.name.executed {
        crate::out::line(format!("{} is already executed", node.path.display()));
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            crate::out::err_line("error: mark-executed needs --yes when not run interactively");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        print!(
            "{}\nMark it executed without undoing anything? [y/N] ",
            crate::journal::describe::describe(&node)
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("not marked");
        }
    }
    // Audit line first, then the rename, both under the context lock (see `state`).
    match transitions::mark_by_hand(&node.path, &args.reason, DEFAULT_PATIENCE)? {
        Marked::Renamed => crate::out::line(format!("marked executed: {}", node.path.display())),
        Marked::AlreadyExecuted => crate::out::line(format!(
            "{} was already executed by another process",
            node.path.display()
        )),
    }
    Ok(ExitCode::SUCCESS)
}
