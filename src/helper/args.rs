//! The words every helper fault takes (its tag, its deadline, whose network namespace, where
//! its state lives), and the line every answer ends with.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where a fault leaves its state for `status` and `remove` (an emptyDir in the helper pod).
pub const DEFAULT_STATE_DIR: &str = "/run/chaosdeck";

#[derive(Args, Debug)]
pub struct TagArgs {
    #[arg(long)]
    pub tag: String,
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

/// Where the fault lives.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The network namespace itself, through `nsenter`, `iptables` and `tc` (a real node).
    Kernel,
    /// Files under the state directory standing in for the tables (the test bed: no table of
    /// this machine is touched).
    Files,
}

#[derive(Args, Debug)]
pub struct Common {
    /// The entry id: every rule's comment is `chaosdeck-<tag>`, every qdisc's handle is
    /// recorded with it.
    #[arg(long)]
    pub tag: String,
    /// Seconds after which the fault is removed, whatever else happens.
    #[arg(long = "for")]
    pub seconds: u64,
    /// The target pod's uid (its network namespace is found through the node's /proc).
    #[arg(long, conflicts_with = "node")]
    pub pod_uid: Option<String>,
    /// The node itself (the helper runs with hostNetwork): its name, for messages and the
    /// files backend.
    #[arg(long, required_unless_present = "pod_uid")]
    pub node: Option<String>,
    #[arg(long, value_enum, default_value = "kernel")]
    pub backend: Backend,
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// The node's /proc (hostPID).
    #[arg(long, default_value = "/proc", hide = true)]
    pub proc_root: PathBuf,
}

/// The last line of every answer: what the undo reads.
pub fn tagged_line(count: usize, tag: &str) -> String {
    format!("chaosdeck-helper: {count} rules tagged {tag}")
}
