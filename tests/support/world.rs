//! A cluster held by the test process (the sandbox or a real control plane, see
//! [`Target`]), plus helpers to run the real binary against it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chaosdeck::journal::scan;
use chaosdeck::journal::scan::JournalTree;

use super::cluster::{Seed, Target, TestCluster, client_for};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::ListParams;

pub struct World {
    pub cluster: TestCluster,
    pub dir: tempfile::TempDir,
    /// The dead man's switch identities, made when a test first asks for them.
    accounts: std::sync::OnceLock<super::accounts::SwitchAccounts>,
}

impl World {
    /// The demo cluster on `target`.
    pub async fn new(target: Target) -> World {
        World {
            cluster: TestCluster::start(target, Seed::Demo).await,
            dir: tempfile::tempdir().unwrap(),
            accounts: std::sync::OnceLock::new(),
        }
    }

    /// The shipped identities of the dead man's switch (deploy/rbac.yaml and
    /// deploy/watchdog.yaml applied on the real control plane): the runner and the watchdog.
    pub fn accounts(&self) -> &super::accounts::SwitchAccounts {
        self.accounts.get_or_init(|| super::accounts::SwitchAccounts::shipped(self))
    }

    /// Who undoes and reconciles: the runner once the switch is in use (mirrors are only
    /// their author's to remove), the admin otherwise.
    fn operator(&self) -> &Path {
        self.accounts.get().map(|a| a.runner.as_path()).unwrap_or(self.kubeconfig())
    }

    pub fn kubeconfig(&self) -> &Path {
        self.cluster.kubeconfig()
    }

    pub fn client(&self) -> kube::Client {
        self.cluster.client()
    }

    pub async fn shutdown(self) {
        self.cluster.shutdown().await
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
            self.kubeconfig().display(),
            if auto_rollback { "True" } else { "False" },
            self.journal().display(),
            list.join("\n")
        );
        let path = self.dir.path().join(format!("{scenario_type}-{}.yaml", files.len()));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Like [`World::config`] with the dead man's switch on, reaching the cluster through
    /// `kubeconfig` (the world's own, or a proxy's copy).
    pub fn config_dead_man(
        &self,
        scenario_type: &str,
        files: &[&str],
        kubeconfig: &Path,
        lease_duration: u64,
        renew: u64,
    ) -> PathBuf {
        let path = self.config(scenario_type, files, true, 0);
        let text = std::fs::read_to_string(&path).unwrap().replace(
            &format!("kubeconfig_path: {}", self.kubeconfig().display()),
            &format!("kubeconfig_path: {}", kubeconfig.display()),
        );
        let text = format!(
            "{text}    dead_man_switch: {{enabled: true, lease_duration: {lease_duration}, renew: {renew}}}\n"
        );
        let path = self.dir.path().join(format!("{scenario_type}-dead-man.yaml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `chaosdeck watchdog` against this cluster as `id`, with the watchdog's ServiceAccount,
    /// its stderr collected.
    pub fn watchdog(&self, id: &str, env: &[(&str, &str)]) -> (Running, Lines) {
        self.watchdog_as(id, &self.accounts().watchdog.clone(), env)
    }

    /// [`World::watchdog`] with the credentials of `kubeconfig`.
    pub fn watchdog_as(
        &self,
        id: &str,
        kubeconfig: &Path,
        env: &[(&str, &str)],
    ) -> (Running, Lines) {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"));
        cmd.args(["watchdog", "--kubeconfig"]).arg(kubeconfig).args([
            "--id",
            id,
            "--claim-timeout",
            "5",
        ]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = Running(cmd.spawn().unwrap());
        let mut lines = Lines::of(&mut child);
        assert!(
            lines.wait_for("watching Leases and mirrors", Duration::from_secs(30)),
            "watchdog {id} did not start:\n{}",
            lines.rest()
        );
        (child, lines)
    }

    /// `chaosdeck watchdog` from the image (`scripts/image run`), started as
    /// deploy/watchdog.yaml's Deployment starts it: its args, `POD_NAME`, the ServiceAccount's
    /// token and CA at the in-cluster paths, `KUBERNETES_SERVICE_HOST`/`_PORT`, uid 65532,
    /// read-only root, no capabilities. kwok runs no containers, so the test runs the pod's
    /// one container itself, on the host's network (the API server listens on loopback).
    /// The service host is spelled `localhost`, not the runner's `127.0.0.1`, as in a cluster,
    /// where the watchdog's URL is never the operator's.
    pub fn watchdog_in_image(&self, pod_name: &str) -> (Container, Lines) {
        self.accounts();
        let (mut cmd, name) =
            self.in_cluster_container(pod_name, "chaosdeck-system", "chaosdeck-watchdog");
        cmd.args(["-e", &format!("POD_NAME={pod_name}"), "--"])
            .args(["watchdog", "--namespace", "chaosdeck-system"])
            .args(["--metrics-addr", "127.0.0.1:0", "--claim-timeout", "5"]);
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = Running(cmd.spawn().unwrap());
        let mut lines = Lines::of(&mut child);
        let container = Container { name, _podman: child };
        assert!(
            lines.wait_for("watching Leases and mirrors", Duration::from_secs(60)),
            "the watchdog container did not start (scripts/image build makes the image):\n{}",
            lines.rest()
        );
        (container, lines)
    }

    /// `scripts/image run` set up as a kubelet would start pod `pod_name` of ServiceAccount
    /// `namespace/account`: its hostname (a run names its Lease holder by it), a fresh token
    /// with the CA at the in-cluster paths, `KUBERNETES_SERVICE_HOST`/`_PORT` (the host
    /// spelled `localhost`, never the operator's `127.0.0.1`), the host's network (the API
    /// server listens on loopback). The caller adds env, mounts, `--` and args. Returns the
    /// command and the container's name.
    fn in_cluster_container(
        &self,
        pod_name: &str,
        namespace: &str,
        account: &str,
    ) -> (Command, String) {
        let secrets = super::accounts::service_account_mount(self, namespace, account);
        let port = self.cluster.server().rsplit(':').next().unwrap().trim_end_matches('/');
        let name = format!("chaosdeck-test-{}-{pod_name}", std::process::id());
        let mut cmd = Command::new(super::accounts::repo().join("scripts/image"));
        cmd.arg("run").args(["--name", &name, "--network", "host", "--hostname", pod_name]);
        cmd.arg("-v")
            .arg(format!("{}:/var/run/secrets/kubernetes.io/serviceaccount:ro", secrets.display()));
        cmd.args(["-e", "KUBERNETES_SERVICE_HOST=localhost"])
            .args(["-e", &format!("KUBERNETES_SERVICE_PORT={port}")]);
        (cmd, name)
    }

    /// The first container of `pod` (as the API server holds it) run from the image, as its
    /// kubelet would run it: its args, its env (`fieldRef: metadata.name` resolved), its
    /// ConfigMap volumes as files read from the cluster, its emptyDirs as fresh directories,
    /// and what [`World::in_cluster_container`] sets. kwok starts no container, so the test
    /// does.
    pub async fn run_pod_in_image(&self, pod: &Pod) -> (Container, Lines) {
        use std::os::unix::fs::PermissionsExt;
        let ns = pod.metadata.namespace.clone().unwrap();
        let pod_name = pod.metadata.name.clone().unwrap();
        let spec = pod.spec.clone().unwrap();
        let account = spec.service_account_name.clone().unwrap_or_else(|| "default".into());
        let container = &spec.containers[0];
        let (mut cmd, name) = self.in_cluster_container(&pod_name, &ns, &account);
        for var in container.env.clone().unwrap_or_default() {
            let value = match (&var.value, &var.value_from) {
                (Some(v), _) => v.clone(),
                (None, Some(from)) => {
                    let path = from.field_ref.as_ref().map(|f| f.field_path.as_str());
                    assert_eq!(path, Some("metadata.name"), "env {} not modelled", var.name);
                    pod_name.clone()
                }
                (None, None) => String::new(),
            };
            cmd.args(["-e", &format!("{}={value}", var.name)]);
        }
        let volumes = spec.volumes.clone().unwrap_or_default();
        for mount in container.volume_mounts.clone().unwrap_or_default() {
            let volume = volumes.iter().find(|v| v.name == mount.name).unwrap();
            // The token volume admission adds: mounted above, from a fresh token.
            if volume.projected.is_some()
                && mount.mount_path == "/var/run/secrets/kubernetes.io/serviceaccount"
            {
                continue;
            }
            let dir = self.dir.path().join(format!("volume-{pod_name}-{}", mount.name));
            std::fs::create_dir_all(&dir).unwrap();
            if let Some(source) = &volume.config_map {
                let api: Api<ConfigMap> = Api::namespaced(self.client(), &ns);
                let cm = api.get(&source.name).await.unwrap();
                for (key, text) in cm.data.unwrap_or_default() {
                    std::fs::write(dir.join(&key), text).unwrap();
                    std::fs::set_permissions(dir.join(key), std::fs::Permissions::from_mode(0o644))
                        .unwrap();
                }
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            } else {
                assert!(volume.empty_dir.is_some(), "volume {} not modelled", volume.name);
                // An emptyDir is writable by the pod's user.
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
            }
            let ro = if mount.read_only == Some(true) { ":ro" } else { "" };
            cmd.arg("-v").arg(format!("{}:{}{ro}", dir.display(), mount.mount_path));
        }
        cmd.arg("--").args(container.args.clone().unwrap_or_default());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = Running(cmd.spawn().unwrap());
        // Headless lines go to stdout and stderr; the markers tests wait for are on stderr.
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
        let lines = Lines::of(&mut child);
        (Container { name, _podman: child }, lines)
    }

    /// `chaosdeck reconcile` on this world's journal; (exit code, stdout).
    pub fn reconcile(&self) -> (i32, String) {
        self.reconcile_as(self.operator())
    }

    /// [`World::reconcile`] with the credentials of `kubeconfig`.
    pub fn reconcile_as(&self, kubeconfig: &Path) -> (i32, String) {
        let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["reconcile", "--dir"])
            .arg(self.journal())
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What chaos may change, read with kube-rs's typed API (a client chaosdeck did not
    /// write). Controller-owned pods are counted (their names change on re-creation), bare pods
    /// are named.
    pub fn snapshot(&self) -> String {
        let kubeconfig = self.kubeconfig().to_path_buf();
        // Callers are sync code inside async tests: a runtime of its own, on a thread of its
        // own (with a client of its own), reads the cluster without blocking theirs.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            runtime.unwrap().block_on(async { snapshot_of(client_for(&kubeconfig).await).await })
        })
        .join()
        .unwrap()
    }

    /// The cluster before any chaos: waits until the seeded workloads have settled (every
    /// Deployment ready, no pod Pending, two snapshots in a row alike), so a later `settle(&before)` compares with a
    /// state the cluster returns to rather than with a moment of its start-up.
    pub fn steady(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = self.snapshot();
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = self.snapshot();
            let ready = now
                .lines()
                .filter_map(|l| l.strip_prefix("Deployment ")?.split(" ready ").nth(1))
                .all(|counts| counts.split_once('/').is_some_and(|(r, w)| r == w));
            if now == last && ready && !now.contains(" Pending") {
                return now;
            }
            assert!(Instant::now() < deadline, "the cluster never settled:\n{now}");
            last = now;
        }
    }

    /// Polls until the cluster no longer looks like `before`: a journal line is written ahead
    /// of its change, so seeing the line does not mean the change has reached the cluster.
    pub fn changed_from(&self, before: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.snapshot();
            if now != before || Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(100));
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

    /// What `chaosdeck run` needs on this cluster: a real one must be named
    /// (`--yes-i-mean-it <context>`), the sandbox need not.
    pub fn confirmation(&self) -> Vec<&'static str> {
        match self.cluster.target {
            Target::Sandbox => Vec::new(),
            Target::Real => vec!["--yes-i-mean-it", self.cluster.context()],
        }
    }

    pub fn run(&self, config: &Path, failpoint: Option<&str>) -> Running {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"));
        cmd.args(["run", "--headless", "--config"]).arg(config).args(self.confirmation());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(fp) = failpoint {
            cmd.env("CHAOSDECK_FAILPOINT", fp);
        }
        Running(cmd.spawn().unwrap())
    }

    /// Runs `config` to its end: its exit code (`None` if it outlived `timeout` and was killed)
    /// and all it logged.
    pub fn run_to_exit(
        &self,
        config: &Path,
        failpoint: Option<&str>,
        timeout: Duration,
    ) -> (Option<i32>, String) {
        let mut child = self.run(config, failpoint);
        let mut lines = Lines::of(&mut child);
        let code = wait_exit(&mut child, timeout);
        (code, lines.rest())
    }

    /// Runs `config` until its `changes`-th change is in the cluster (the failpoint hangs the run
    /// right after it), SIGKILLs it there and returns what it logged: the crash the crash-safety
    /// tests start from.
    pub fn run_and_kill_after_change(&self, config: &Path, changes: usize) -> String {
        let mut child = self.run(config, Some(&format!("hang-after-change:{changes}")));
        let mut lines = Lines::of(&mut child);
        assert!(
            lines.wait_for("failpoint: hanging after change", Duration::from_secs(60)),
            "{} at change {changes}:\n{}",
            config.display(),
            lines.rest()
        );
        // SAFETY: kill(2) on our own child's pid; it has not been waited for, so the pid is its.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        lines.rest()
    }

    pub fn execute_rollback(&self) -> (i32, String) {
        self.execute_rollback_as(self.operator())
    }

    /// [`World::execute_rollback`] with the credentials of `kubeconfig`.
    pub fn execute_rollback_as(&self, kubeconfig: &Path) -> (i32, String) {
        let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["execute-rollback", "--dir"])
            .arg(self.journal())
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

async fn snapshot_of(client: kube::Client) -> String {
    let all = ListParams::default();
    let mut lines = Vec::new();
    for p in Api::<NetworkPolicy>::all(client.clone()).list(&all).await.unwrap() {
        lines.push(format!("NetworkPolicy {}", at(&p.metadata)));
    }
    for c in Api::<ConfigMap>::all(client.clone()).list(&all).await.unwrap() {
        // chaosdeck's own bookkeeping (the dead man's switch's mirrors), not the system under
        // chaos.
        if c.metadata.namespace.as_deref() == Some("chaosdeck-system") {
            continue;
        }
        // Published into every namespace by kube-controller-manager, including those a test
        // makes for its accounts.
        if c.metadata.name.as_deref() == Some("kube-root-ca.crt") {
            continue;
        }
        lines.push(format!("ConfigMap {}", at(&c.metadata)));
    }
    for s in Api::<Service>::all(client.clone()).list(&all).await.unwrap() {
        let selector = s.spec.and_then(|spec| spec.selector);
        lines.push(format!("Service {} {}", at(&s.metadata), json(&selector)));
    }
    for n in Api::<Node>::all(client.clone()).list(&all).await.unwrap() {
        let spec = n.spec.unwrap_or_default();
        lines.push(format!(
            "node {} {} {}",
            n.metadata.name.unwrap_or_default(),
            spec.unschedulable.unwrap_or(false),
            json(&spec.taints)
        ));
    }
    // Readiness too: "restored" means the workloads are back, not only their objects.
    for d in Api::<Deployment>::all(client.clone()).list(&all).await.unwrap() {
        let want = d.spec.replicas.unwrap_or(1);
        let ready = d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
        lines.push(format!("Deployment {} ready {ready}/{want}", at(&d.metadata)));
    }
    let mut counts = std::collections::BTreeMap::new();
    for p in Api::<Pod>::all(client).list(&all).await.unwrap() {
        let phase = p.status.and_then(|s| s.phase).unwrap_or_default();
        let owner = p.metadata.owner_references.as_ref().and_then(|o| o.first());
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        let key = match owner {
            None => format!("bare pod {} {phase}", at(&p.metadata)),
            Some(o) => format!("pods of {ns}/{} {phase}", o.name),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    lines.extend(counts.into_iter().map(|(k, n)| format!("{k} x{n}")));
    lines.sort();
    lines.join("\n")
}

fn at(meta: &ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or(""))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
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

/// A container started by a test, removed when dropped (killing `podman run` alone would leave
/// it running).
pub struct Container {
    pub name: String,
    _podman: Running,
}

impl Container {
    /// The exit code of the container's process (`podman run` passes it on), within `within`.
    pub fn wait(&mut self, within: Duration) -> Option<i32> {
        wait_exit(&mut self._podman, within)
    }

    /// SIGTERM, then SIGKILL after `grace` seconds: what a kubelet does to a deleted pod.
    pub fn stop(&self, grace: u32) {
        let out = Command::new("podman")
            .args(["stop", "--time", &grace.to_string(), &self.name])
            .output()
            .unwrap();
        assert!(out.status.success(), "podman stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// SIGKILL to the container's process, as a node's OOM killer or a kubelet would send it.
    pub fn kill(&self) {
        let out =
            Command::new("podman").args(["kill", "--signal", "KILL", &self.name]).output().unwrap();
        assert!(out.status.success(), "podman kill: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "--force", "--time", "0", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
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

/// Waits until `ok` holds; how long it took, or None after `within`.
pub async fn until(within: Duration, mut ok: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if ok().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
