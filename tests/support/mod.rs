//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod accounts;
pub mod cluster;
pub mod observe;
pub mod proxy;
pub mod runs;
pub mod tmux;
pub mod world;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chaosdeck::journal::{EntryDraft, ObjectRef, UndoAction};

/// Runs kubectl against `kubeconfig`; (succeeded, stdout + stderr).
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The project's own Krkn files (`config.yaml`, `scenarios/`, `rollback/`), written in Krkn's
/// formats so that a fresh clone tests the Krkn interop with nothing beside it.
pub fn krkn_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/krkn")
}

/// `shared/fixtures` beside the repository: files made by Krkn's own code, an additional
/// check CI runs (tests using it are `#[ignore = "needs ../shared/fixtures"]`).
pub fn fixtures() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    assert!(
        dir.is_dir(),
        "fixtures missing at {}: shared/ must sit beside the repository",
        dir.display()
    );
    dir
}

/// Copies a directory tree (fixtures are read-only; tests work on copies), private to the
/// user as a journal must be (whatever the umask).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let dest = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_tree(&item.path(), &dest);
        } else {
            std::fs::copy(item.path(), &dest).unwrap();
            let mut perms = std::fs::metadata(&dest).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
            std::fs::set_permissions(&dest, perms).unwrap();
        }
    }
}

/// The entry of a pod chaos created, written before its uid was known: it deletes the pod that
/// carries its entry label (the pod's name here), as chaosdeck's own entries do.
pub fn delete_pod_draft(scenario_type: &str, ns: &str, pod: &str) -> EntryDraft {
    EntryDraft {
        scenario_type: scenario_type.into(),
        scenario_file: None,
        step: format!("created Pod {ns}/{pod}"),
        undo: vec![UndoAction::Delete {
            target: ObjectRef::new("v1", "Pod", Some(ns), pod),
            uid: None,
            require_labels: BTreeMap::from([(
                chaosdeck::journal::entry::ENTRY_LABEL.to_string(),
                pod.to_string(),
            )]),
        }],
    }
}
