//! Where a network namespace's rules live: the kernel (`nsenter` into the target's network
//! namespace, then `iptables`), or a file (the test bed's stand-in). Both take and give
//! iptables' own words, so the helper's logic is the same on both.

use std::path::{Path, PathBuf};
use std::process::Command;

pub trait Tables {
    /// `iptables -S`: every rule, one per line.
    fn list(&self) -> Result<Vec<String>, String>;
    /// `iptables -w <args>` (`-A …` or `-D …`).
    fn change(&self, args: &[String]) -> Result<(), String>;
}

/// The network namespace of process `pid`, through `nsenter --target <pid> --net`.
pub struct Kernel {
    pub pid: u32,
}

impl Kernel {
    fn iptables(&self, args: &[String]) -> Result<String, String> {
        let pid = self.pid.to_string();
        let out = Command::new("nsenter")
            .args(["--target", &pid, "--net", "--", "iptables", "-w"])
            .args(args)
            .output()
            .map_err(|e| format!("cannot run nsenter: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "iptables {} in the network namespace of pid {pid} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Tables for Kernel {
    fn list(&self) -> Result<Vec<String>, String> {
        Ok(self.iptables(&["-S".to_string()])?.lines().map(str::to_string).collect())
    }

    fn change(&self, args: &[String]) -> Result<(), String> {
        self.iptables(args).map(|_| ())
    }
}

/// One file of `-S` lines per network namespace.
pub struct Files {
    pub path: PathBuf,
}

impl Files {
    fn write(&self, lines: &[String]) -> Result<(), String> {
        let tmp = self.path.with_extension("tmp");
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| format!("writing {}: {e}", self.path.display()))
    }
}

/// `-A CHAIN words…` as `-S` prints it: the comment's value quoted.
fn as_listed(args: &[String]) -> String {
    let mut out = Vec::new();
    let mut quote_next = false;
    for (i, w) in args.iter().enumerate() {
        let w = if i == 0 { "-A" } else { w.as_str() };
        if quote_next {
            out.push(format!("\"{w}\""));
        } else {
            out.push(w.to_string());
        }
        quote_next = w == "--comment";
    }
    out.join(" ")
}

impl Tables for Files {
    fn list(&self) -> Result<Vec<String>, String> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(text.lines().map(str::to_string).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(format!("reading {}: {e}", self.path.display())),
        }
    }

    fn change(&self, args: &[String]) -> Result<(), String> {
        let mut lines = self.list()?;
        let line = as_listed(args);
        match args.first().map(String::as_str) {
            Some("-A") => lines.push(line),
            Some("-D") => {
                let Some(at) = lines.iter().position(|l| *l == line) else {
                    return Err(
                        "iptables: Bad rule (does a matching rule exist in that chain?)".into()
                    );
                };
                lines.remove(at);
            }
            _ => return Err(format!("unsupported iptables words: {}", args.join(" "))),
        }
        self.write(&lines)
    }
}

/// The lowest pid whose cgroup names pod `uid` (under `proc_root`, normally `/proc`): any
/// process of the pod, the sandbox container's included, is in the pod's network namespace.
pub fn pid_of_pod(proc_root: &Path, uid: &str) -> Result<u32, String> {
    let dashed = format!("pod{uid}");
    let underscored = format!("pod{}", uid.replace('-', "_"));
    let entries = std::fs::read_dir(proc_root)
        .map_err(|e| format!("reading {}: {e}", proc_root.display()))?;
    let mut found: Option<u32> = None;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cgroup) = std::fs::read_to_string(entry.path().join("cgroup")) else { continue };
        if (cgroup.contains(&dashed) || cgroup.contains(&underscored))
            && found.is_none_or(|f| pid < f)
        {
            found = Some(pid);
        }
    }
    found.ok_or_else(|| format!("no process of pod {uid} on this node (is hostPID set?)"))
}
