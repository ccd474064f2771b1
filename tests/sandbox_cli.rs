//! `chaosdeck sandbox` as a process: prints where it listens, serves the API there, writes a
//! 0600 kubeconfig that kubectl accepts, and stops cleanly on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A `chaosdeck sandbox` process that has printed its banner.
struct Served {
    child: Child,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    banner: String,
}

fn serve() -> Served {
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
    Served { child, dir, kubeconfig, banner: lines.join("\n") }
}

/// SIGINT is what Ctrl-C sends: the sandbox stops cleanly.
fn ctrl_c(mut served: Served) {
    let pid = i32::try_from(served.child.id()).expect("pid fits");
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = served.child.wait().expect("exit");
    assert!(status.success(), "{status:?}");
}

#[test]
fn serves_until_ctrl_c() {
    let served = serve();
    let text = &served.banner;
    assert!(text.contains("listening on http://127.0.0.1:"), "{text}");
    assert!(text.contains("no authentication"), "{text}");
    assert!(
        text.contains(&format!("kubectl --kubeconfig {} get pods -A", served.kubeconfig.display())),
        "{text}"
    );
    let mode =
        std::fs::metadata(&served.kubeconfig).expect("kubeconfig written").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // The printed address serves the API (plain HTTP, as any client would reach it).
    let addr = text
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| c == '/' || c.is_whitespace()).next())
        .expect("address in the banner")
        .to_string();
    let mut stream = TcpStream::connect(&addr).expect("connects");
    write!(stream, "GET /api/v1/namespaces HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
        .expect("request sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"kube-system\""), "{answer}");
    ctrl_c(served);
}

#[test]
#[ignore = "needs kubectl"]
fn its_kubeconfig_works_with_kubectl() {
    let served = serve();
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&served.kubeconfig)
        .arg("--cache-dir")
        .arg(served.dir.path().join("cache"))
        .args(["get", "namespaces", "-o", "name"])
        .output()
        .expect("kubectl");
    let names = String::from_utf8_lossy(&out.stdout);
    assert!(
        names.contains("namespace/kube-system"),
        "{names} / {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ctrl_c(served);
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

#[test]
fn a_bad_latency_is_refused_on_the_command_line() {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .args(["sandbox", "--latency", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected e.g. 20ms or 20ms±5ms"), "{err}");
}
