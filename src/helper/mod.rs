//! The helper: the program chaosdeck's helper pod runs on the target's node
//! (`chaosdeck helper …`). It applies one fault tagged with its entry id, removes it by itself
//! when its deadline passes or when it is stopped — whether or not anyone is left to tell it,
//! and whether or not the node can reach the API server — and answers `status` and `remove`
//! for the undo, which reaches it through `pods/exec`.
//!
//! Owns: the rules it adds (each carries the comment `chaosdeck-<tag>`), finding them again by
//! that comment, and its own deadline. Must not talk to the API server or touch anything not
//! tagged with its entry id: it runs with NET_ADMIN on someone's node.
//!
//! One file per job: `args` (the words the helper takes and the line it answers with),
//! `rules` (a rule as iptables spells it, and reading one back), `tables`
//! (where rules live: the kernel through `nsenter`/`iptables`, or files for the test bed),
//! `state` (what `filter` leaves for `status`/`remove`), `filter` (the fault's lifetime).

mod args;
mod filter;
mod rules;
mod state;
mod tables;

use std::process::ExitCode;

use clap::{Args, Subcommand};

pub use args::{Backend, DEFAULT_STATE_DIR, TagArgs, tagged_line};
pub use rules::Rule;

#[derive(Args, Debug)]
pub struct HelperArgs {
    #[command(subcommand)]
    pub command: HelperCommand,
}

#[derive(Subcommand, Debug)]
pub enum HelperCommand {
    /// Drop traffic of one pod (its network namespace) until --for seconds pass or a signal.
    Filter(filter::FilterArgs),
    /// Print the rules tagged `chaosdeck-<tag>` and their count.
    Status(TagArgs),
    /// Remove the rules tagged `chaosdeck-<tag>`, read the tables again, print how many are left.
    Remove(TagArgs),
}

pub async fn run(args: HelperArgs) -> color_eyre::Result<ExitCode> {
    let result = match args.command {
        HelperCommand::Filter(f) => filter::run(f).await,
        HelperCommand::Status(t) => filter::status(&t),
        HelperCommand::Remove(t) => filter::remove(&t),
    };
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("chaosdeck-helper: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
