//! A sandbox held by the test process, plus helpers to run the real binary against it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chaosdeck::journal::scan;
use chaosdeck::journal::scan::JournalTree;
use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};

pub struct World {
    pub sandbox: Sandbox,
    pub kubeconfig: tempfile::NamedTempFile,
    pub dir: tempfile::TempDir,
}

impl World {
    pub async fn new() -> World {
        let sandbox = Sandbox::start(SandboxOptions {
            seed: Seed::Demo,
            pod_ready_delay: Duration::from_millis(50),
            ..Default::default()
        })
        .await
        .expect("sandbox starts");
        let kubeconfig = tempfile::NamedTempFile::new().unwrap();
        sandbox.write_kubeconfig(kubeconfig.path()).unwrap();
        World { sandbox, kubeconfig, dir: tempfile::tempdir().unwrap() }
    }

    pub fn journal(&self) -> PathBuf {
        self.dir.path().join("journal")
    }

    /// A config running `file` (from tests/data/engine) as `scenario_type`.
    pub fn config(
        &self,
        scenario_type: &str,
        files: &[&str],
        auto_rollback: bool,
        wait: u64,
    ) -> PathBuf {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/engine");
        let list: Vec<String> =
            files.iter().map(|f| format!("            - {}", data.join(f).display())).collect();
        let text = format!(
            "kraken:\n    kubeconfig_path: {}\n    auto_rollback: {}\n    rollback_versions_directory: {}\n    chaos_scenarios:\n        - {scenario_type}:\n{}\ntunings:\n    wait_duration: {wait}\n    iterations: 1\nchaosdeck:\n    cluster: kubeconfig\n",
            self.kubeconfig.path().display(),
            if auto_rollback { "True" } else { "False" },
            self.journal().display(),
            list.join("\n")
        );
        let path = self.dir.path().join(format!("{scenario_type}-{}.yaml", files.len()));
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig.path())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What chaos may change, as kubectl sees it. Controller-owned pods are counted (their
    /// names change on re-creation), bare pods are named.
    pub fn snapshot(&self) -> String {
        let mut lines = Vec::new();
        let objects = self.kubectl(&[
            "get",
            "networkpolicies,configmaps,services",
            "-A",
            "--no-headers",
            "-o",
            "custom-columns=K:.kind,NS:.metadata.namespace,N:.metadata.name,SEL:.spec.selector",
        ]);
        lines.extend(objects.lines().map(str::to_string));
        let nodes = self.kubectl(&[
            "get",
            "nodes",
            "--no-headers",
            "-o",
            "custom-columns=N:.metadata.name,U:.spec.unschedulable,T:.spec.taints",
        ]);
        lines.extend(nodes.lines().map(|l| format!("node {l}")));
        let pods = self.kubectl(&["get", "pods", "-A", "--no-headers", "-o", "custom-columns=NS:.metadata.namespace,N:.metadata.name,O:.metadata.ownerReferences[0].name,P:.status.phase"]);
        let mut counts = std::collections::BTreeMap::new();
        for l in pods.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 {
                continue;
            }
            let key = if f[2] == "<none>" {
                format!("bare pod {}/{} {}", f[0], f[1], f[3])
            } else {
                format!("pods of {}/{} {}", f[0], f[2], f[3])
            };
            *counts.entry(key).or_insert(0) += 1;
        }
        lines.extend(counts.into_iter().map(|(k, n)| format!("{k} x{n}")));
        lines.sort();
        lines.join("\n")
    }

    /// The cluster before any chaos: waits until the seeded workloads have settled (no pod
    /// Pending, two snapshots in a row alike), so a later `settle(&before)` compares with a
    /// state the cluster returns to rather than with a moment of its start-up.
    pub fn steady(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = self.snapshot();
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = self.snapshot();
            if now == last && !now.contains(" Pending") {
                return now;
            }
            assert!(Instant::now() < deadline, "the sandbox never settled:\n{now}");
            last = now;
        }
    }

    /// Polls until the cluster looks like `want` again (controllers need a moment).
    pub fn settle(&self, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.snapshot();
            if now == want || Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The journal as the scanner reads it; a scan error fails the test (an unreadable journal
    /// is not an empty one).
    pub fn tree(&self) -> JournalTree {
        let dir = self.journal();
        scan(&dir).unwrap_or_else(|e| panic!("scanning the journal {}: {e}", dir.display()))
    }

    pub fn outstanding(&self) -> usize {
        self.tree().outstanding()
    }

    pub fn executed(&self) -> usize {
        self.tree()
            .entries()
            .filter(|(_, e)| e.state == chaosdeck::journal::EntryState::Executed)
            .count()
    }

    pub fn run(&self, config: &Path, failpoint: Option<&str>) -> Running {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"));
        cmd.args(["run", "--headless", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(fp) = failpoint {
            cmd.env("CHAOSDECK_FAILPOINT", fp);
        }
        Running(cmd.spawn().unwrap())
    }

    pub fn execute_rollback(&self) -> (i32, String) {
        let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["execute-rollback", "--dir"])
            .arg(self.journal())
            .arg("--kubeconfig")
            .arg(self.kubeconfig.path())
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// A `chaosdeck run` child that is killed when the test ends, even by a failed assertion, so
/// no run outlives its test.
pub struct Running(pub Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Collects a child's stderr lines on a thread, so tests can wait for a marker.
pub struct Lines(mpsc::Receiver<String>, Vec<String>);

impl Lines {
    pub fn of(child: &mut Child) -> Lines {
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx, Vec::new())
    }

    pub fn wait_for(&mut self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.0.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.1.push(line);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    pub fn rest(&mut self) -> String {
        while let Ok(line) = self.0.recv_timeout(Duration::from_millis(50)) {
            self.1.push(line);
        }
        self.1.join("\n")
    }
}

pub fn wait_exit(child: &mut Child, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code().or_else(|| {
                std::os::unix::process::ExitStatusExt::signal(&status).map(|s| 128 + s)
            });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
