//! The files a container sees: one small filesystem per mount, sized like the real thing.
//!
//! Owns: the contents and capacity of every container root, emptyDir and PersistentVolumeClaim
//! the sandbox has been asked about, and the mount table of a container (read from its pod and
//! claims each time, so a new pod on the same claim sees the same files). Must not change any
//! API object: a signal to PID 1 is the kubelet's business ([`crate::controllers::restarts`]).
//!
//! A root filesystem is keyed by the container's restart count, so a restart starts from a
//! clean image as a real one does, while volumes outlive it (emptyDir for the pod's life, a
//! claim for the claim's).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use crate::meta;
use crate::resources as r;
use crate::store::Store;

/// What a container's root and an emptyDir without `sizeLimit` hold: the node's disk.
pub const NODE_DISK_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// Contents kept for files of at most this size (what `cat` can show); larger files keep
/// only their size, as a fill needs nothing else.
const KEPT_CONTENT_BYTES: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct Filesystems {
    volumes: Mutex<HashMap<String, Volume>>,
}

#[derive(Debug, Default)]
struct Volume {
    files: BTreeMap<String, File>,
}

#[derive(Debug, Clone)]
pub struct File {
    pub size: u64,
    pub content: Vec<u8>,
}

/// One entry of a container's mount table.
#[derive(Debug, Clone)]
pub struct Mount {
    /// Absolute, without a trailing slash except for `/`.
    pub path: String,
    /// `overlay`, the claim's volume name or `emptydir`: what `df` prints as the filesystem.
    pub device: String,
    pub capacity: u64,
    key: String,
}

/// Where an absolute path lands: the mount and the path inside it ("" for the mount's root).
#[derive(Debug, Clone)]
pub struct Located {
    pub mount: Mount,
    pub inner: String,
}

/// Why a file operation failed, in the words coreutils use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsError {
    NotFound,
    NoSpace,
    IsDirectory,
}

impl FsError {
    pub fn text(self) -> &'static str {
        match self {
            FsError::NotFound => "No such file or directory",
            FsError::NoSpace => "No space left on device",
            FsError::IsDirectory => "Is a directory",
        }
    }
}

/// The mount table of `container` in `pod`: its root, then each volume it mounts that the
/// sandbox models (claims and emptyDirs), longest path last so lookups can scan backwards.
pub fn mounts(store: &Store, pod: &Value, container: &str) -> Vec<Mount> {
    let uid = meta::uid(pod);
    let ns = meta::namespace(pod);
    let restarts = meta::at(pod, &["status", "containerStatuses"])
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(container)))
        .and_then(|c| c.get("restartCount"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut table = vec![Mount {
        path: "/".into(),
        device: "overlay".into(),
        capacity: NODE_DISK_BYTES,
        key: format!("root/{uid}/{container}/{restarts}"),
    }];
    let volumes = meta::at(pod, &["spec", "volumes"]).and_then(Value::as_array);
    let spec = meta::at(pod, &["spec", "containers"])
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(container)));
    let mounted = spec.and_then(|c| c.get("volumeMounts")).and_then(Value::as_array);
    for vm in mounted.into_iter().flatten() {
        let (Some(name), Some(path)) =
            (vm.get("name").and_then(Value::as_str), vm.get("mountPath").and_then(Value::as_str))
        else {
            continue;
        };
        let Some(volume) = volumes
            .into_iter()
            .flatten()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
        else {
            continue;
        };
        let mount = if let Some(claim) =
            volume.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str)
        {
            let Ok(claim) = store.get(r::PVCS, ns, claim) else { continue };
            let capacity = meta::str_at(&claim, &["status", "capacity", "storage"])
                .and_then(parse_quantity)
                .unwrap_or(0);
            let device = meta::str_at(&claim, &["spec", "volumeName"]).unwrap_or("pvc").to_string();
            Mount {
                path: normalize(path),
                device: format!("/dev/{device}"),
                capacity,
                key: format!("pvc/{}", meta::uid(&claim)),
            }
        } else if let Some(dir) = volume.get("emptyDir") {
            let capacity = dir
                .get("sizeLimit")
                .and_then(Value::as_str)
                .and_then(parse_quantity)
                .unwrap_or(NODE_DISK_BYTES);
            Mount {
                path: normalize(path),
                device: "emptydir".into(),
                capacity,
                key: format!("emptydir/{uid}/{name}"),
            }
        } else {
            continue;
        };
        table.push(mount);
    }
    table.sort_by_key(|m| m.path.len());
    table
}

/// `path` made absolute (relative to `/`, the default working directory) with `.`, `..` and
/// repeated slashes resolved lexically.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

pub fn locate(table: &[Mount], path: &str) -> Located {
    let path = normalize(path);
    let mount = table
        .iter()
        .rev()
        .find(|m| m.path == "/" || path == m.path || path.starts_with(&format!("{}/", m.path)))
        .or_else(|| table.first())
        .cloned()
        .unwrap_or(Mount {
            path: "/".into(),
            device: "overlay".into(),
            capacity: NODE_DISK_BYTES,
            key: "root/unknown".into(),
        });
    let inner = path[mount.path.len().min(path.len())..].trim_start_matches('/').to_string();
    Located { mount, inner }
}

impl Filesystems {
    fn with<T>(&self, key: &str, f: impl FnOnce(&mut Volume) -> T) -> T {
        let mut volumes = self.volumes.lock().unwrap_or_else(|p| p.into_inner());
        f(volumes.entry(key.to_string()).or_default())
    }

    pub fn used(&self, mount: &Mount) -> u64 {
        self.with(&mount.key, |v| v.files.values().map(|f| f.size).sum())
    }

    pub fn file(&self, at: &Located) -> Option<File> {
        self.with(&at.mount.key, |v| v.files.get(&at.inner).cloned())
    }

    /// Whether `at` is a directory: a mount point, or the parent of some file.
    pub fn is_dir(&self, table: &[Mount], at: &Located) -> bool {
        if at.inner.is_empty() {
            return true;
        }
        let full = join(&at.mount.path, &at.inner);
        let prefix = format!("{}/", at.inner);
        table.iter().any(|m| m.path.starts_with(&format!("{full}/")))
            || self.with(&at.mount.key, |v| v.files.keys().any(|k| k.starts_with(&prefix)))
    }

    /// Names directly under the directory `at`: its files and the mount points inside it.
    pub fn list(&self, table: &[Mount], at: &Located) -> Vec<(String, Option<u64>)> {
        let prefix = if at.inner.is_empty() { String::new() } else { format!("{}/", at.inner) };
        let mut names: BTreeMap<String, Option<u64>> = BTreeMap::new();
        self.with(&at.mount.key, |v| {
            for (path, file) in v.files.range(prefix.clone()..) {
                let Some(rest) = path.strip_prefix(&prefix) else { break };
                match rest.split_once('/') {
                    Some((dir, _)) => {
                        names.entry(dir.to_string()).or_insert(None);
                    }
                    None => {
                        names.insert(rest.to_string(), Some(file.size));
                    }
                }
            }
        });
        let full = join(&at.mount.path, &at.inner);
        let dir_prefix = if full == "/" { "/".to_string() } else { format!("{full}/") };
        for m in table {
            if let Some(rest) = m.path.strip_prefix(&dir_prefix)
                && !rest.is_empty()
            {
                let first = rest.split('/').next().unwrap_or(rest);
                names.entry(first.to_string()).or_insert(None);
            }
        }
        names.into_iter().collect()
    }

    /// Reserves `size` bytes for the file at `at` (created empty first, as `fallocate` does,
    /// so a refusal still leaves the name behind).
    pub fn allocate(&self, at: &Located, size: u64) -> Result<(), FsError> {
        if at.inner.is_empty() {
            return Err(FsError::IsDirectory);
        }
        let capacity = at.mount.capacity;
        self.with(&at.mount.key, |v| {
            let used: u64 = v.files.values().map(|f| f.size).sum();
            let file =
                v.files.entry(at.inner.clone()).or_insert(File { size: 0, content: Vec::new() });
            let extra = size.saturating_sub(file.size);
            if used.saturating_add(extra) > capacity {
                return Err(FsError::NoSpace);
            }
            if size > file.size {
                file.size = size;
                file.content.clear();
            }
            Ok(())
        })
    }

    /// Writes a small file whole (what a container's image or a test puts there).
    pub fn write(&self, at: &Located, content: &[u8]) -> Result<(), FsError> {
        if at.inner.is_empty() {
            return Err(FsError::IsDirectory);
        }
        let capacity = at.mount.capacity;
        self.with(&at.mount.key, |v| {
            let used: u64 =
                v.files.iter().filter(|(k, _)| **k != at.inner).map(|(_, f)| f.size).sum();
            if used.saturating_add(content.len() as u64) > capacity {
                return Err(FsError::NoSpace);
            }
            let kept = if content.len() <= KEPT_CONTENT_BYTES { content.to_vec() } else { vec![] };
            v.files.insert(at.inner.clone(), File { size: content.len() as u64, content: kept });
            Ok(())
        })
    }

    pub fn remove(&self, at: &Located) -> Result<(), FsError> {
        self.with(&at.mount.key, |v| v.files.remove(&at.inner).map(|_| ()).ok_or(FsError::NotFound))
    }
}

fn join(mount: &str, inner: &str) -> String {
    match (mount, inner) {
        (m, "") => m.to_string(),
        ("/", i) => format!("/{i}"),
        (m, i) => format!("{m}/{i}"),
    }
}

/// A Kubernetes quantity of bytes (`10Gi`, `500M`, `1073741824`), or None when it is not one.
pub fn parse_quantity(q: &str) -> Option<u64> {
    let q = q.trim();
    let split = q.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let factor: f64 = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let value = number.parse::<f64>().ok()? * factor;
    (value.is_finite() && value >= 0.0 && value < u64::MAX as f64).then(|| value.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<Mount> {
        let m = |path: &str, cap: u64| Mount {
            path: path.into(),
            device: "d".into(),
            capacity: cap,
            key: path.into(),
        };
        vec![m("/", NODE_DISK_BYTES), m("/data", 100), m("/data/cache", 50)]
    }

    #[test]
    fn a_path_lands_on_its_longest_mount() {
        let t = table();
        assert_eq!(locate(&t, "/data/x").mount.path, "/data");
        assert_eq!(locate(&t, "/data/x").inner, "x");
        assert_eq!(locate(&t, "/data/cache/../y").mount.path, "/data");
        assert_eq!(locate(&t, "/database").mount.path, "/");
        assert_eq!(locate(&t, "/data/cache").inner, "");
        assert_eq!(locate(&t, "tmp/f").mount.path, "/");
    }

    #[test]
    fn allocation_counts_against_the_mount_and_refuses_past_capacity() {
        let t = table();
        let fs = Filesystems::default();
        let a = locate(&t, "/data/a");
        assert_eq!(fs.allocate(&a, 60), Ok(()));
        assert_eq!(fs.allocate(&locate(&t, "/data/b"), 41), Err(FsError::NoSpace));
        assert_eq!(fs.file(&locate(&t, "/data/b")).map(|f| f.size), Some(0));
        assert_eq!(fs.used(&a.mount), 60);
        assert_eq!(fs.remove(&a), Ok(()));
        assert_eq!(fs.remove(&a), Err(FsError::NotFound));
        assert_eq!(fs.used(&a.mount), 0);
    }

    #[test]
    fn listing_shows_files_directories_and_mount_points() {
        let t = table();
        let fs = Filesystems::default();
        fs.write(&locate(&t, "/etc/hostname"), b"web-0\n").unwrap_or_default();
        let names: Vec<String> =
            fs.list(&t, &locate(&t, "/")).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["data", "etc"]);
        assert!(fs.is_dir(&t, &locate(&t, "/etc")));
        assert!(!fs.is_dir(&t, &locate(&t, "/etc/hostname")));
    }

    #[test]
    fn quantities_parse_in_both_unit_families() {
        assert_eq!(parse_quantity("1Gi"), Some(1 << 30));
        assert_eq!(parse_quantity("500M"), Some(500_000_000));
        assert_eq!(parse_quantity("1.5Ki"), Some(1536));
        assert_eq!(parse_quantity("12"), Some(12));
        assert_eq!(parse_quantity("1Qi"), None);
        assert_eq!(parse_quantity("-1"), None);
    }
}
