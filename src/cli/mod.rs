//! The command line: argument definitions and one handler per subcommand.
//!
//! Owns: parsing arguments, printing results, mapping outcomes to exit codes. Must not hold
//! journal or cluster logic of its own: it calls `journal`, `config` and `cluster`.

use clap::{Parser, Subcommand};

use crate::sandbox::command::SandboxArgs;

#[derive(Parser, Debug)]
#[command(
    name = "chaosdeck",
    version,
    about = "Kubernetes chaos game days with a durable rollback journal"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the embedded sandbox cluster on loopback until Ctrl-C.
    Sandbox(SandboxArgs),
}
