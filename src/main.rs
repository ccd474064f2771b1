use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Errors reach users as messages; capturing (and symbolising) a backtrace for each one costs
    // tens of MB of heap when RUST_BACKTRACE is set. Panics keep their backtraces.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: first statement of main, before any other thread exists.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    if let Err(e) = color_eyre::install() {
        eprintln!("warning: cannot install the error report hooks: {e}");
    }
    chaosdeck::cli::main_with(chaosdeck::cli::Cli::parse())
}
