//! The real kubectl binary against the sandbox.
//!
//! Each test starts its own sandbox on an ephemeral port and points kubectl at a kubeconfig
//! in a temp dir (discovery cache there too, so nothing leaks into ~/.kube).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};

struct Cluster {
    runtime: tokio::runtime::Runtime,
    sandbox: Option<Sandbox>,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Cluster {
    fn start(seed: Seed) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sandbox = runtime
            .block_on(Sandbox::start(SandboxOptions {
                seed,
                pod_ready_delay: Duration::from_millis(100),
                ..Default::default()
            }))
            .expect("sandbox starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        sandbox.write_kubeconfig(&kubeconfig).expect("kubeconfig written");
        Self { runtime, sandbox: Some(sandbox), dir, kubeconfig }
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        let cache = self.dir.path().join("cache");
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&cache)
            .args(args)
            .env("HOME", self.dir.path())
            .output()
            .expect("kubectl runs")
    }

    /// Runs kubectl, asserting success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl, asserting failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} should fail: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(sb) = self.sandbox.take() {
            self.runtime.block_on(sb.shutdown());
        }
    }
}

fn fixture(name: &str) -> String {
    format!("{}/tests/data/sandbox/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn get_nodes_and_pods_and_error_wording() {
    let c = Cluster::start(Seed::Demo);
    let nodes = c.ok(&["get", "nodes"]);
    assert!(nodes.contains("sandbox-worker-1"), "{nodes}");
    assert!(nodes.contains("Ready"), "{nodes}");
    let names = c.ok(&["get", "nodes", "-o", "name"]);
    assert_eq!(names.lines().count(), 4, "{names}");

    let err = c.fails(&["get", "pod", "nope"]);
    assert!(err.contains("Error from server (NotFound): pods \"nope\" not found"), "{err}");
    let err = c.fails(&["get", "deployment", "nope", "-n", "shop"]);
    assert!(
        err.contains("Error from server (NotFound): deployments.apps \"nope\" not found"),
        "{err}"
    );

    let manifest = fixture("namespace-team-a.yaml");
    c.ok(&["create", "--validate=false", "-f", &manifest]);
    let err = c.fails(&["create", "--validate=false", "-f", &manifest]);
    assert!(err.contains("Error from server (AlreadyExists)"), "{err}");
    assert!(err.contains("namespaces \"team-a\" already exists"), "{err}");

    let got = c.ok(&["get", "configmap", "cfg", "-n", "team-a", "-o", "jsonpath={.data.a}"]);
    assert_eq!(got, "1");
    let all = c.ok(&["get", "configmaps", "-A"]);
    assert!(all.contains("team-a") && all.contains("cfg"), "{all}");
}
