//! A cgroup v2 `io.max` limit on one device: read before writing (the previous limit is kept
//! in the helper's state), written as one line, and on removal the previous limit written back —
//! only while the line still holds this helper's limit, so a later change by someone else is
//! left as it is.
//!
//! The file is the kernel's (`/sys/fs/cgroup/<the container's cgroup>/io.max`) or, for the test
//! bed, a plain file that plays its rules: a line per device with all four keys, `max` where
//! unlimited, and no line when all four are `max`; a write changes only the keys it names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const KEYS: [&str; 4] = ["rbps", "wbps", "riops", "wiops"];

/// The four limits of one device; `None` is `max`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits(pub BTreeMap<String, u64>);

impl Limits {
    /// `rbps=1048576 wbps=max riops=max wiops=max`.
    pub fn line(&self) -> String {
        KEYS.iter()
            .map(|k| match self.0.get(*k) {
                Some(v) => format!("{k}={v}"),
                None => format!("{k}=max"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn parse(words: &str) -> Result<Limits, String> {
        let mut out = BTreeMap::new();
        for w in words.split_whitespace() {
            let (k, v) = w.split_once('=').ok_or_else(|| format!("{w:?} is not key=value"))?;
            if !KEYS.contains(&k) {
                return Err(format!("{k:?} is not an io.max key"));
            }
            if v != "max" {
                out.insert(k.to_string(), v.parse().map_err(|_| format!("{w:?}: not a number"))?);
            }
        }
        Ok(Limits(out))
    }
}

/// A device number `MAJ:MIN`.
pub fn check_device(dev: &str) -> Result<(), String> {
    let ok = dev
        .split_once(':')
        .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
    if ok { Ok(()) } else { Err(format!("{dev:?} is not a device number MAJ:MIN")) }
}

/// The limits `file` holds for `device` (no line: all `max`).
pub fn read(file: &Path, device: &str) -> Result<Limits, String> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("reading {}: {e}", file.display())),
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(&format!("{device} ")) {
            return Limits::parse(rest);
        }
    }
    Ok(Limits::default())
}

/// Writes `device`'s limits. The kernel's file takes the line as it is; the stand-in (`plain`)
/// rewrites its lines the way the kernel would show them.
pub fn write(file: &Path, device: &str, limits: &Limits, plain: bool) -> Result<(), String> {
    let line = format!("{device} {}", limits.line());
    if !plain {
        return std::fs::write(file, format!("{line}\n"))
            .map_err(|e| format!("writing {line:?} to {}: {e}", file.display()));
    }
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(&format!("{device} ")))
        .map(str::to_string)
        .collect();
    if !limits.0.is_empty() {
        lines.push(line);
    }
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(file, body).map_err(|e| format!("writing {}: {e}", file.display()))
}

/// Where a pod's container with `mount` keeps its `io.max`, and the device behind `mount`: the
/// first process of pod `uid` (under `proc_root`) whose mounts hold `mount`, its cgroup (v2,
/// `0::<path>`) under `cgroup_root`, and the mount's `MAJ:MIN` from its mountinfo.
pub fn locate(
    proc_root: &Path,
    cgroup_root: &Path,
    uid: &str,
    mount: &str,
) -> Result<(PathBuf, String), String> {
    let marks = [format!("pod{uid}"), format!("pod{}", uid.replace('-', "_"))];
    let entries = std::fs::read_dir(proc_root)
        .map_err(|e| format!("reading {}: {e}", proc_root.display()))?;
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let dir = proc_root.join(pid.to_string());
        let Ok(cgroup) = std::fs::read_to_string(dir.join("cgroup")) else { continue };
        if !marks.iter().any(|m| cgroup.contains(m.as_str())) {
            continue;
        }
        let Ok(mountinfo) = std::fs::read_to_string(dir.join("mountinfo")) else { continue };
        // `36 35 98:0 /mnt1 /data rw,…`: the fifth field is the mount point, the third MAJ:MIN.
        let device = mountinfo.lines().find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.get(4) == Some(&mount)).then(|| f.get(2).map(|d| d.to_string())).flatten()
        });
        let Some(device) = device else { continue };
        let Some(path) = cgroup.lines().find_map(|l| l.strip_prefix("0::")) else {
            return Err(format!("pod {uid}'s cgroup is not cgroup v2 (no 0:: line)"));
        };
        let file = cgroup_root.join(path.trim_start_matches('/')).join("io.max");
        return Ok((file, device));
    }
    Err(format!("no process of pod {uid} on this node mounts {mount} (is hostPID set?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_and_write_like_the_kernels_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("io.max");
        std::fs::write(&file, "8:0 rbps=max wbps=100 riops=max wiops=max\n").unwrap_or_default();
        assert_eq!(read(&file, "8:16"), Ok(Limits::default()));
        let ours = Limits::parse("rbps=1048576 wiops=50").unwrap_or_default();
        write(&file, "8:16", &ours, true).unwrap_or_default();
        assert_eq!(read(&file, "8:16"), Ok(ours.clone()));
        assert_eq!(
            read(&file, "8:0").map(|l| l.line()),
            Ok("rbps=max wbps=100 riops=max wiops=max".into())
        );
        write(&file, "8:16", &Limits::default(), true).unwrap_or_default();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap_or_default(),
            "8:0 rbps=max wbps=100 riops=max wiops=max\n"
        );
        assert!(check_device("8:16").is_ok() && check_device("8:16; x").is_err());
    }
}
