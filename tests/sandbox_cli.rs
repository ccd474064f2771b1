//! `chaosdeck sandbox` as a process: prints where it listens, writes a 0600 kubeconfig that
//! kubectl accepts, and stops cleanly on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn serves_until_ctrl_c() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("state").join("sandbox.kubeconfig");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("chaosdeck"))
        .args(["sandbox", "--seed", "empty", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chaosdeck starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with("Press Ctrl-C")) {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => lines.push(l),
            Err(e) => panic!("no banner ({e}); got {lines:?}"),
        }
    }
    let text = lines.join("\n");
    assert!(text.contains("listening on http://127.0.0.1:"), "{text}");
    assert!(text.contains("no authentication"), "{text}");
    assert!(
        text.contains(&format!("kubectl --kubeconfig {} get pods -A", kubeconfig.display())),
        "{text}"
    );
    let mode = std::fs::metadata(&kubeconfig).expect("kubeconfig written").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .args(["get", "namespaces", "-o", "name"])
        .output()
        .expect("kubectl");
    let names = String::from_utf8_lossy(&out.stdout);
    assert!(
        names.contains("namespace/kube-system"),
        "{names} / {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // SIGINT is what Ctrl-C sends.
    let pid = i32::try_from(child.id()).expect("pid fits");
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = child.wait().expect("exit");
    assert!(status.success(), "{status:?}");
}

#[test]
fn rejects_a_bad_seed() {
    let out = Command::new(assert_cmd::cargo::cargo_bin!("chaosdeck"))
        .args(["sandbox", "--seed", "huge"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad seed \"huge\""), "{err}");
}
