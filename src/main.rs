use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("warning: cannot install the error report hooks: {e}");
    }
    chaosdeck::cli::main_with(chaosdeck::cli::Cli::parse())
}
