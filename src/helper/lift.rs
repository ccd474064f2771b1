//! Lifting an I/O limit someone else left (Krkn's storage throttle, whose own rollback fails):
//! one shot, on the node whose cgroup it is. cgroup v2 gets `<dev> rbps=max wbps=max riops=max
//! wiops=max` in `io.max`, read back; v1 gets `<dev> 0` in the four `blkio.throttle.*_device`
//! files. Exit 0 only when the limit is gone; exit [`CGROUP_GONE`] when the cgroup itself is
//! gone (its container ended, and the limit with it: nothing to write to).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::args::{Backend, DEFAULT_STATE_DIR};
use super::iomax::{self, Limits};

#[derive(Args, Debug)]
pub struct LiftArgs {
    /// The node, for messages.
    #[arg(long)]
    pub node: String,
    /// The device, `MAJ:MIN`.
    #[arg(long)]
    pub device: String,
    /// The cgroup, as Krkn recorded it (`/kubepods.slice/…`).
    #[arg(long)]
    pub cgroup_path: String,
    #[arg(long, default_value = "v2")]
    pub cgroup_version: String,
    #[arg(long, value_enum, default_value = "kernel")]
    pub backend: Backend,
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// The node's cgroup mount.
    #[arg(long, default_value = "/sys/fs/cgroup", hide = true)]
    pub cgroup_root: PathBuf,
}

const V1_FILES: [&str; 4] = [
    "blkio.throttle.read_bps_device",
    "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device",
    "blkio.throttle.write_iops_device",
];

/// The exit code for "the cgroup no longer exists": not a failure, and not a lift either, so
/// the undo can say which.
pub const CGROUP_GONE: u8 = 3;

/// A pod's cgroup as the kubelet names it: absolute, under kubepods, no `..`, plain characters.
pub fn check_cgroup_path(path: &str) -> Result<(), String> {
    let plain = path.chars().all(|c| c.is_ascii_alphanumeric() || "/._:@-".contains(c));
    let under_kubepods = path.starts_with("/kubepods");
    if !plain || !under_kubepods || path.split('/').any(|p| p == "..") {
        return Err("the cgroup path is not a pod's cgroup (/kubepods…, plain characters)".into());
    }
    Ok(())
}

pub fn run(a: &LiftArgs) -> Result<ExitCode, String> {
    iomax::check_device(&a.device)?;
    check_cgroup_path(&a.cgroup_path)?;
    let root = match a.backend {
        Backend::Kernel => a.cgroup_root.clone(),
        Backend::Files => a.state_dir.join("cgroup"),
    };
    let dir = root.join(a.cgroup_path.trim_start_matches('/'));
    let plain = a.backend == Backend::Files;
    if !dir.is_dir() {
        println!(
            "chaosdeck-helper: cgroup {} is gone on node {}: its container ended, and the limit \
             with it",
            a.cgroup_path, a.node
        );
        return Ok(ExitCode::from(CGROUP_GONE));
    }
    match a.cgroup_version.as_str() {
        "v2" => {
            let file = dir.join("io.max");
            iomax::write(&file, &a.device, &Limits::default(), plain)?;
            let now = iomax::read(&file, &a.device)?;
            if now != Limits::default() {
                return Err(format!(
                    "{} still reads {} for {}",
                    file.display(),
                    now.line(),
                    a.device
                ));
            }
        }
        "v1" => {
            for name in V1_FILES {
                let file = dir.join(name);
                std::fs::write(&file, format!("{} 0\n", a.device))
                    .map_err(|e| format!("writing {}: {e}", file.display()))?;
            }
        }
        other => return Err(format!("cgroup version {other:?} is not v1 or v2")),
    }
    println!(
        "chaosdeck-helper: lifted the I/O limits of {} in cgroup {} on node {}",
        a.device, a.cgroup_path, a.node
    );
    Ok(ExitCode::SUCCESS)
}
