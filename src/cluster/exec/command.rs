//! The closed vocabulary of commands chaosdeck runs inside containers, and the one function
//! that turns a command into argv.
//!
//! Every exec a scenario or an undo sends is one of these; nothing else reaches `pods/exec`.
//! Values from files (paths, tags) are checked when a command is built and travel as single
//! argv words: no shell ever parses them, so a path cannot smuggle a second command.

use std::fmt;

/// An absolute path inside a container: no `..`, no empty or `.` components, no control
/// characters, at most 4096 bytes. Built only through [`ContainerPath::parse`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerPath(String);

impl ContainerPath {
    pub fn parse(path: &str) -> Result<Self, String> {
        if !path.starts_with('/') {
            return Err("a path in a container must be absolute (start with /)".into());
        }
        if path.len() > 4096 {
            return Err("a path in a container is at most 4096 bytes".into());
        }
        if path.chars().any(char::is_control) {
            return Err("a path in a container must not hold control characters".into());
        }
        let trimmed = path.trim_end_matches('/');
        if trimmed.split('/').skip(1).any(|c| c.is_empty() || c == "." || c == "..") {
            return Err("a path in a container must not hold `.`, `..` or `//`".into());
        }
        Ok(ContainerPath(if trimmed.is_empty() { "/".into() } else { trimmed.into() }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last component (`""` for `/`).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    /// `self/rest`, for a relative path of plain components.
    pub fn join_relative(&self, rest: &str) -> Result<Self, String> {
        let base = if self.0 == "/" { "" } else { self.0.as_str() };
        ContainerPath::parse(&format!("{base}/{rest}"))
    }

    /// `self/name`, for a file name that is one component.
    pub fn join(&self, name: &str) -> Result<Self, String> {
        if name.contains('/') {
            return Err("a file name must not contain `/`".into());
        }
        let base = if self.0 == "/" { "" } else { self.0.as_str() };
        ContainerPath::parse(&format!("{base}/{name}"))
    }
}

impl TryFrom<String> for ContainerPath {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ContainerPath::parse(&s)
    }
}

impl From<ContainerPath> for String {
    fn from(p: ContainerPath) -> String {
        p.0
    }
}

impl fmt::Display for ContainerPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What chaosdeck may run in a container. Built only through the constructors below, which
/// check what each command needs (a removal's tag, a signal's range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCommand(Kind);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    DiskUsage {
        path: ContainerPath,
    },
    Allocate {
        path: ContainerPath,
        bytes: u64,
    },
    RemoveTagged {
        path: ContainerPath,
    },
    List {
        path: ContainerPath,
    },
    SignalPid1 {
        signal: u8,
    },
    /// chaosdeck's helper, run in its own pod: list or remove the rules carrying a tag.
    Helper {
        verb: HelperVerb,
        tag: String,
    },
}

/// What chaosdeck asks of its helper pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperVerb {
    /// Print the rules carrying the tag (`iptables -S`, filtered) and their count.
    Status,
    /// Remove every rule carrying the tag, then read the tables again and print how many are
    /// left (0 when the fault is gone).
    Remove,
}

/// chaosdeck in the helper image, found on its PATH (a name, not a path: the test bed's kwok
/// runs only the stand-ins on its own PATH).
pub const HELPER_PROGRAM: &str = "chaosdeck";

impl ExecCommand {
    /// The filesystem holding `path`, in POSIX 1024-byte blocks (`df -P -k`).
    pub fn disk_usage(path: ContainerPath) -> Self {
        ExecCommand(Kind::DiskUsage { path })
    }

    /// Reserve `bytes` for a file at `path` (`fallocate -l`): fills a volume without writing
    /// the bytes, so a fill of gigabytes costs one round trip.
    pub fn allocate(path: ContainerPath, bytes: u64) -> Self {
        ExecCommand(Kind::Allocate { path, bytes })
    }

    /// Remove `path` (`rm --`), refused unless its file name carries `tag` (at least 8
    /// characters, so a short tag cannot match files by accident): an undo can only remove a
    /// file chaosdeck (or Krkn) named.
    pub fn remove_tagged(path: ContainerPath, tag: &str) -> Result<Self, String> {
        if tag.chars().count() < 8 {
            return Err("a removal tag has at least 8 characters".into());
        }
        if !path.file_name().contains(tag) {
            return Err(format!("{path} does not carry the tag of the entry that created it"));
        }
        Ok(ExecCommand(Kind::RemoveTagged { path }))
    }

    /// The listing of a directory (`ls -l`), as Krkn checks its PVC undo.
    pub fn list(path: ContainerPath) -> Self {
        ExecCommand(Kind::List { path })
    }

    /// Send `signal` (1–15) to PID 1 of the container (`kill -s N 1`).
    pub fn signal_pid1(signal: u8) -> Result<Self, String> {
        if !(1..=15).contains(&signal) {
            return Err(format!("signal {signal} is not one of 1–15"));
        }
        Ok(ExecCommand(Kind::SignalPid1 { signal }))
    }

    /// Ask chaosdeck's helper about the fault tagged `tag` (an entry id: letters, digits and
    /// dashes, at least 8 characters, so it names one entry's rules and nothing else).
    pub fn helper(verb: HelperVerb, tag: &str) -> Result<Self, String> {
        if tag.chars().count() < 8 || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("a helper tag is an entry id: at least 8 letters, digits or dashes".into());
        }
        Ok(ExecCommand(Kind::Helper { verb, tag: tag.to_string() }))
    }

    /// The argv sent to the container. The only place commands become words.
    pub fn argv(&self) -> Vec<String> {
        let w = |words: &[&str]| words.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match &self.0 {
            Kind::DiskUsage { path } => w(&["df", "-P", "-k", path.as_str()]),
            Kind::Allocate { path, bytes } => {
                w(&["fallocate", "-l", &bytes.to_string(), path.as_str()])
            }
            // No -f: "No such file" tells an undo the file was already gone.
            Kind::RemoveTagged { path } => w(&["rm", "--", path.as_str()]),
            Kind::List { path } => w(&["ls", "-l", path.as_str()]),
            Kind::SignalPid1 { signal } => w(&["kill", "-s", &signal.to_string(), "1"]),
            Kind::Helper { verb, tag } => {
                let verb = match verb {
                    HelperVerb::Status => "status",
                    HelperVerb::Remove => "remove",
                };
                w(&[HELPER_PROGRAM, "helper", verb, "--tag", tag])
            }
        }
    }

    /// The program, for errors about a container that does not have it.
    pub fn program(&self) -> &'static str {
        match &self.0 {
            Kind::DiskUsage { .. } => "df",
            Kind::Allocate { .. } => "fallocate",
            Kind::RemoveTagged { .. } => "rm",
            Kind::List { .. } => "ls",
            Kind::SignalPid1 { .. } => "kill",
            Kind::Helper { .. } => HELPER_PROGRAM,
        }
    }
}

/// How many rules carrying a tag the helper found, from its last line
/// `chaosdeck-helper: <n> rules tagged <tag>`.
pub fn helper_tagged(stdout: &str, tag: &str) -> Result<usize, String> {
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    last.strip_prefix("chaosdeck-helper: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .filter(|n| crate::helper::tagged_line(*n, tag) == last)
        .ok_or_else(|| {
            format!(
                "the helper's answer does not say how many rules carry the tag: {:?}",
                crate::refs::printable(last)
            )
        })
}

/// One line of `df -P -k`: sizes in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskUsage {
    pub size: u64,
    pub used: u64,
    pub available: u64,
}

impl DiskUsage {
    /// Reads the first filesystem line of `df -P -k` output.
    pub fn parse(stdout: &str) -> Result<Self, String> {
        let line = stdout
            .lines()
            .skip(1)
            .find(|l| !l.trim().is_empty())
            .ok_or_else(|| "df printed no filesystem line".to_string())?;
        let cols: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| {
            cols.get(i)
                .and_then(|c| c.parse::<u64>().ok())
                .map(|k| k.saturating_mul(1024))
                .ok_or_else(|| {
                    format!("df printed an unexpected line: {}", crate::refs::printable(line))
                })
        };
        Ok(DiskUsage { size: num(1)?, used: num(2)?, available: num(3)? })
    }

    /// Used space in percent of the size (0 for an empty size).
    pub fn percent_used(&self) -> f64 {
        if self.size == 0 { 0.0 } else { self.used as f64 * 100.0 / self.size as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_absolute_and_plain() {
        assert!(ContainerPath::parse("/data/x").is_ok());
        assert_eq!(ContainerPath::parse("/data/").map(String::from), Ok("/data".into()));
        for bad in ["data", "/a/../etc", "/a//b", "/a/./b", "/a\n/b", ""] {
            assert!(ContainerPath::parse(bad).is_err(), "{bad:?} accepted");
        }
        let p = ContainerPath::parse("/data").unwrap_or_else(|e| panic!("{e}"));
        assert!(p.join("a/b").is_err());
        assert_eq!(p.join("f").map(String::from), Ok("/data/f".into()));
    }

    #[test]
    fn a_value_stays_one_word_whatever_it_holds() {
        let path = ContainerPath::parse("/data/x; rm -rf $HOME").unwrap_or_else(|e| panic!("{e}"));
        let argv = ExecCommand::allocate(path, 10).argv();
        assert_eq!(argv, ["fallocate", "-l", "10", "/data/x; rm -rf $HOME"]);
    }

    #[test]
    fn a_removal_needs_the_tag_in_the_file_name() {
        let p = |s: &str| ContainerPath::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let tag = "0d6c5a1e-entry";
        assert!(ExecCommand::remove_tagged(p("/data/chaosdeck-0d6c5a1e-entry.fill"), tag).is_ok());
        assert!(ExecCommand::remove_tagged(p("/data0d6c5a1e-entry/db"), tag).is_err());
        assert!(ExecCommand::remove_tagged(p("/data/x"), "x").is_err());
        let rm = ExecCommand::remove_tagged(p("/data/chaosdeck-0d6c5a1e-entry.fill"), tag);
        assert_eq!(
            rm.map(|c| c.argv()),
            Ok(["rm", "--", "/data/chaosdeck-0d6c5a1e-entry.fill"].map(String::from).to_vec())
        );
        assert!(ExecCommand::signal_pid1(0).is_err());
        assert!(ExecCommand::signal_pid1(16).is_err());
    }

    #[test]
    fn df_output_reads_in_bytes() {
        let out = "Filesystem 1024-blocks Used Available Capacity Mounted on\n\
                   /dev/pvc-1 1048576 524288 524288 50% /data\n";
        let du = DiskUsage::parse(out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(du.size, 1 << 30);
        assert_eq!(du.percent_used(), 50.0);
        assert!(DiskUsage::parse("Filesystem\n").is_err());
    }
}
