//! The words the helper takes besides a fault's own, and the line every answer ends with.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where `filter` leaves its state for `status` and `remove` (an emptyDir in the helper pod).
pub const DEFAULT_STATE_DIR: &str = "/run/chaosdeck";

#[derive(Args, Debug)]
pub struct TagArgs {
    #[arg(long)]
    pub tag: String,
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

/// Where the rules live.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The pod's network namespace, through `nsenter` and `iptables` (a real node).
    Kernel,
    /// A file per network namespace under the state directory (the test bed's stand-in: no
    /// table of this machine is touched).
    Files,
}

/// The last line of every answer: what the undo reads.
pub fn tagged_line(count: usize, tag: &str) -> String {
    format!("chaosdeck-helper: {count} rules tagged {tag}")
}
