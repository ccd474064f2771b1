//! `scripts/realcluster down` signals only processes the script started: a pid file is data in
//! a directory, and a planted one must not make it kill whatever that pid now is (`1` would be
//! every process the user may signal). It needs no control plane: only the script's `down`.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command};

fn script() -> std::path::PathBuf {
    chaosdeck_testbed::script()
}

/// A directory as `up` leaves it, with `pids` holding `files`.
fn cluster_dir(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".chaosdeck-realcluster"), "").unwrap();
    std::fs::create_dir(dir.path().join("pids")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join("pids").join(name), text).unwrap();
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn down(dir: &std::path::Path) -> std::process::Output {
    Command::new(script()).arg("down").arg("--dir").arg(dir).output().unwrap()
}

fn alive(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}

fn start_time(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(") ").unwrap().1;
    rest.split_whitespace().nth(19).unwrap().to_string()
}

#[test]
fn planted_pid_files_are_not_signalled() {
    let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = bystander.id();
    // The bystander's pid with another start time (a reused pid), a bare pid (the old format,
    // or a planted one), and init.
    let dir = cluster_dir(&[
        ("reused", format!("{pid} 1")),
        ("bare", format!("{pid}")),
        ("init", "1".to_string()),
    ]);
    let out = down(dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(alive(&mut bystander), "down killed a process it did not start");
    assert!(!dir.path().exists(), "down removes its directory");
    let _ = bystander.kill();
    let _ = bystander.wait();
}

#[test]
fn its_own_process_is_stopped() {
    let mut own = Command::new("setsid").args(["sleep", "30"]).spawn().unwrap();
    // setsid forks when it leads a group already; wait for the exec'd sleep to be the pid.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let pid = own.id();
    let dir = cluster_dir(&[("daemon", format!("{pid} {}", start_time(pid)))]);
    let out = down(dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!alive(&mut own), "down left the process it started running");
}

#[test]
fn a_directory_others_may_write_is_refused() {
    let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = bystander.id();
    let dir = cluster_dir(&[("daemon", format!("{pid} {}", start_time(pid)))]);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = down(dir.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not private to you"));
    assert!(alive(&mut bystander));
    let _ = bystander.kill();
    let _ = bystander.wait();
}
