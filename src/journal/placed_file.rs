//! A file chaosdeck placed inside a container (a PVC fill), as its undo records it: where it
//! was written, which claim it sits on, and the tag its name carries.
//!
//! Owns: the rule that an undo removes only a file under the recorded mount whose name carries
//! the recorded tag ([`PlacedFile::command`]), and finding the same file through another pod
//! that mounts the claim ([`PlacedFile::seen_from`]). Must not send anything (the executor does).

use serde::{Deserialize, Serialize};

use crate::cluster::exec::{ContainerPath, ContainerTarget, ExecCommand};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedFile {
    /// The pod (its uid) and container that wrote the file.
    pub container: ContainerTarget,
    /// The claim the file sits on: a later pod on the same claim still has the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// Where that container mounts the volume.
    pub mount_path: ContainerPath,
    /// The file, under `mount_path`.
    pub path: ContainerPath,
    /// What the file's name carries: the entry id for chaosdeck's files, the name itself for
    /// Krkn's `kraken.tmp`.
    pub tag: String,
    /// How much was allocated (0 when not recorded, as in Krkn's files).
    #[serde(default)]
    pub bytes: u64,
}

impl PlacedFile {
    /// The file's path below its mount (`chaosdeck-fill-<id>.tmp`).
    pub fn relative(&self) -> Result<&str, String> {
        let mount = self.mount_path.as_str().trim_end_matches('/');
        self.path
            .as_str()
            .strip_prefix(mount)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|rest| !rest.is_empty())
            .ok_or_else(|| format!("{} is not under the mount {}", self.path, self.mount_path))
    }

    /// The removal the undo sends: refused when the file is not under its mount or its name
    /// does not carry its tag.
    pub fn command(&self) -> Result<ExecCommand, String> {
        self.relative()?;
        ExecCommand::remove_tagged(self.path.clone(), &self.tag)
    }

    /// The same file seen from `container`, which mounts the claim at `mount_path`.
    pub fn seen_from(
        &self,
        container: ContainerTarget,
        mount_path: ContainerPath,
    ) -> Result<PlacedFile, String> {
        let path = mount_path.join_relative(self.relative()?)?;
        Ok(PlacedFile { container, mount_path, path, ..self.clone() })
    }

    pub fn summary(&self) -> String {
        let on = self.claim.as_ref().map(|c| format!(" (claim {c})")).unwrap_or_default();
        format!("remove {} in {}{on}", self.path, self.container.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(path: &str, tag: &str) -> PlacedFile {
        PlacedFile {
            container: ContainerTarget {
                namespace: "payments".into(),
                pod: "ledger-0".into(),
                container: "ledger".into(),
                uid: Some("u1".into()),
                restarts: None,
            },
            claim: Some("ledger-data".into()),
            mount_path: ContainerPath::parse("/data").unwrap_or_else(|e| panic!("{e}")),
            path: ContainerPath::parse(path).unwrap_or_else(|e| panic!("{e}")),
            tag: tag.into(),
            bytes: 10,
        }
    }

    #[test]
    fn only_a_tagged_file_under_its_mount_is_removed() {
        assert!(placed("/data/chaosdeck-fill-1234abcd.tmp", "1234abcd").command().is_ok());
        assert!(placed("/data/ledger.db", "1234abcd").command().is_err());
        assert!(placed("/etc/chaosdeck-fill-1234abcd.tmp", "1234abcd").command().is_err());
        assert!(placed("/data", "1234abcd").command().is_err());
    }

    #[test]
    fn another_pod_on_the_claim_sees_the_file_under_its_own_mount() {
        let file = placed("/data/sub/chaosdeck-fill-1234abcd.tmp", "1234abcd");
        let other = ContainerTarget { pod: "ledger-1".into(), uid: None, ..file.container.clone() };
        let mount = ContainerPath::parse("/var/lib/ledger").unwrap_or_else(|e| panic!("{e}"));
        let moved = file.seen_from(other, mount).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(moved.path.as_str(), "/var/lib/ledger/sub/chaosdeck-fill-1234abcd.tmp");
        assert!(moved.command().is_ok());
    }
}
