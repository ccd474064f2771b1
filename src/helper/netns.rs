//! One network namespace, as `iptables` and `tc` see it: the kernel's (through `nsenter` into a
//! pod's namespace, or directly in the node's own), or files that play both programs' words
//! for the test bed. The helper's logic is the same on both.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The two programs a fault uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Iptables,
    Tc,
    Ip,
}

impl Program {
    fn name(self) -> &'static str {
        match self {
            Program::Iptables => "iptables",
            Program::Tc => "tc",
            Program::Ip => "ip",
        }
    }
}

pub trait Netns {
    /// Runs `program args…` in the namespace; its standard output.
    fn run(&self, program: Program, args: &[String]) -> Result<String, String>;
}

/// The kernel: a pod's namespace through `nsenter --target <pid> --net`, or the node's own.
pub struct Kernel {
    pub pid: Option<u32>,
}

impl Netns for Kernel {
    fn run(&self, program: Program, args: &[String]) -> Result<String, String> {
        let mut words: Vec<String> = Vec::new();
        if let Some(pid) = self.pid {
            words.extend(["--target".into(), pid.to_string(), "--net".into(), "--".into()]);
        }
        words.push(program.name().into());
        if program == Program::Iptables {
            words.push("-w".into());
        }
        words.extend(args.iter().cloned());
        let (first, rest) = match self.pid {
            Some(_) => ("nsenter", &words[..]),
            None => (program.name(), &words[1..]),
        };
        let out = Command::new(first)
            .args(rest)
            .output()
            .map_err(|e| format!("cannot run {first}: {e}"))?;
        if !out.status.success() {
            let at = self.pid.map_or("the node".to_string(), |p| format!("pid {p}'s namespace"));
            return Err(format!(
                "{} {} in {at} failed ({}): {}",
                program.name(),
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Files `<base>.iptables` (`-S` lines), `<base>.qdisc` (`<dev> <tc qdisc show line>`) and
/// `<base>.links` (`<dev> down`, for the devices set down).
pub struct Files {
    pub base: PathBuf,
}

fn read_lines(path: &Path) -> Result<Vec<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().map(str::to_string).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

fn write_lines(path: &Path, lines: &[String]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// `-A CHAIN words…` as `-S` prints it: the comment's value quoted.
fn as_listed(args: &[String]) -> String {
    let mut out = Vec::new();
    let mut quote_next = false;
    for (i, w) in args.iter().enumerate() {
        let w = if i == 0 { "-A" } else { w.as_str() };
        out.push(if quote_next { format!("\"{w}\"") } else { w.to_string() });
        quote_next = w == "--comment";
    }
    out.join(" ")
}

impl Files {
    fn path(&self, ext: &str) -> PathBuf {
        let mut name = self.base.as_os_str().to_owned();
        name.push(format!(".{ext}"));
        PathBuf::from(name)
    }

    fn iptables(&self, args: &[String]) -> Result<String, String> {
        let path = self.path("iptables");
        let mut lines = read_lines(&path)?;
        match args.first().map(String::as_str) {
            Some("-S") => return Ok(lines.iter().map(|l| format!("{l}\n")).collect()),
            Some("-A") => lines.push(as_listed(args)),
            Some("-D") => {
                let line = as_listed(args);
                let at = lines.iter().position(|l| *l == line).ok_or(
                    "iptables: Bad rule (does a matching rule exist in that chain?)".to_string(),
                )?;
                lines.remove(at);
            }
            _ => return Err(format!("unsupported iptables words: {}", args.join(" "))),
        }
        write_lines(&path, &lines).map(|()| String::new())
    }

    fn tc(&self, args: &[String]) -> Result<String, String> {
        let path = self.path("qdisc");
        let mut lines = read_lines(&path)?;
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["qdisc", "show", "dev", dev] => Ok(lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("{dev} ")))
                .map(|l| format!("{l}\n"))
                .collect()),
            ["qdisc", "add", "dev", dev, "root", "handle", handle, "netem", rest @ ..] => {
                if lines.iter().any(|l| l.starts_with(&format!("{dev} "))) {
                    return Err("Error: Exclusivity flag on, cannot modify.".into());
                }
                lines.push(format!(
                    "{dev} qdisc netem {handle} root refcnt 2 limit 1000 {}",
                    rest.join(" ")
                ));
                write_lines(&path, &lines).map(|()| String::new())
            }
            ["qdisc", "del", "dev", dev, "root", "handle", handle] => {
                let prefix = format!("{dev} qdisc netem {handle} root");
                let at = lines
                    .iter()
                    .position(|l| l.starts_with(&prefix))
                    .ok_or("Error: Invalid handle.".to_string())?;
                lines.remove(at);
                write_lines(&path, &lines).map(|()| String::new())
            }
            _ => Err(format!("unsupported tc words: {}", args.join(" "))),
        }
    }
}

impl Files {
    fn ip(&self, args: &[String]) -> Result<String, String> {
        let path = self.path("links");
        let mut down = read_lines(&path)?;
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["-o", "link", "show", "dev", dev] => {
                let flags = if down.iter().any(|l| *l == format!("{dev} down")) {
                    "BROADCAST,MULTICAST"
                } else {
                    "BROADCAST,MULTICAST,UP,LOWER_UP"
                };
                Ok(format!("2: {dev}: <{flags}> mtu 1500 qdisc noqueue state UNKNOWN\n"))
            }
            ["link", "set", "dev", dev, state @ ("up" | "down")] => {
                down.retain(|l| *l != format!("{dev} down"));
                if *state == "down" {
                    down.push(format!("{dev} down"));
                }
                write_lines(&path, &down).map(|()| String::new())
            }
            _ => Err(format!("unsupported ip words: {}", args.join(" "))),
        }
    }
}

impl Netns for Files {
    fn run(&self, program: Program, args: &[String]) -> Result<String, String> {
        match program {
            Program::Iptables => self.iptables(args),
            Program::Tc => self.tc(args),
            Program::Ip => self.ip(args),
        }
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
