//! The helper image on a real kernel. network_chaos_ng's helper pods — their spec read back
//! from the sandbox, where a run made them — are run from `chaosdeck-helper:<version>` by
//! podman exactly as their spec asks (image, command, capabilities, user, host PID namespace,
//! read-only root, emptyDir), the way a kubelet would. The pod they target is a container of
//! chaosdeck's image serving HTTP in a network namespace of its own, under the cgroup a kubelet
//! gives pod `<uid>` (`/kubepods/pod<uid>`); the node of a node fault is a network namespace of
//! the test's, so this machine's own tables are never touched. The rules are read with the
//! machine's `iptables`, and the fault is seen on the wire (the server stops answering, then
//! answers again). This kernel has no netem and no dummy links, so netem and link-down are left
//! to `tests/helper_program.rs` (the exact words) and the test bed.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use chaosdeck::helper::pod::helper_image;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use support::accounts::repo;
use support::cluster::Target;
use support::helpers::HELPER_SELECTOR;
use support::world::{World, until};

/// A network namespace of the test's, deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(role: &str) -> Netns {
        let name = name(role);
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns(name);
        run_ok(&mut ns.exec(&["ip", "link", "set", "lo", "up"]));
        ns
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }

    fn exec(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0]).args(argv);
        cmd
    }

    /// `iptables -S` lines of this namespace that carry `tag`.
    fn rules(&self, tag: &str) -> Vec<String> {
        let out = run_ok(&mut self.exec(&["iptables", "-w", "-S"]));
        out.lines()
            .filter(|l| l.contains(&format!("chaosdeck-{tag}")))
            .map(str::to_string)
            .collect()
    }

    /// Whether a server on 127.0.0.1:`port` here answers within a second.
    fn answers(&self, port: u16) -> bool {
        let url = format!("http://127.0.0.1:{port}/version");
        let out = self
            .exec(&["curl", "-s", "-m", "1", "-o", "/dev/null", "-w", "%{http_code}", &url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout) == "200"
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A container, removed (SIGKILL) when dropped, with the pod cgroup it was put in, if any.
struct Container(String, Option<String>);

impl Container {
    fn logs(&self) -> String {
        let out = Command::new("podman").args(["logs", &self.0]).output().unwrap();
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }

    fn exec(&self, argv: &[&str]) -> String {
        run_ok(Command::new("podman").args(["exec", &self.0]).args(argv))
    }

    /// Its exit code once it has ended (`podman wait`), within `within`.
    fn wait(&self, within: Duration) -> Option<i32> {
        let mut child =
            Command::new("podman").args(["wait", &self.0]).stdout(Stdio::piped()).spawn().unwrap();
        support::world::wait_exit(&mut child, within)?;
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        out.trim().parse().ok()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rm", "-f", "-t", "0", &self.0]).output();
        // podman leaves the (empty) parent cgroups it made in every hierarchy.
        let Some(uid) = &self.1 else { return };
        let roots = std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten();
        for root in roots.map(|e| e.path()).chain([std::path::PathBuf::from("/sys/fs/cgroup")]) {
            remove_cgroup(&root.join("kubepods").join(format!("pod{uid}")));
            let _ = std::fs::remove_dir(root.join("kubepods"));
        }
    }
}

/// An empty cgroup and the empty ones under it (rmdir, deepest first).
fn remove_cgroup(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup(&entry.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

fn run_ok(cmd: &mut Command) -> String {
    support::accounts::ok(cmd.output().unwrap(), &format!("{cmd:?}"))
}

/// A name no other test of this run (they run side by side) or other run uses.
fn name(role: &str) -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("chaosdeck-test-{}-{n}-{role}", std::process::id())
}

/// chaosdeck's image serving the sandbox's API on 127.0.0.1:`port` in `ns` — a pod's app
/// (uid 65532, no capabilities), in pod `uid`'s cgroup when it is one.
fn app(ns: &Netns, pod_uid: Option<&str>, port: u16) -> Container {
    let name = name(&format!("app-{port}"));
    let mut cmd = Command::new(repo().join("scripts/image"));
    cmd.args(["run", "-d", "--name", &name, "--network", &format!("ns:{}", ns.path())]);
    cmd.args(["--tmpfs", "/tmp:mode=1777"]);
    if let Some(uid) = pod_uid {
        // The kubelet's cgroupfs layout; podman's own monitor stays out of the pod's cgroup.
        cmd.args(["--cgroups", "no-conmon", "--cgroup-parent", &format!("/kubepods/pod{uid}")]);
    }
    cmd.args(["--", "sandbox", "--port", &port.to_string(), "--kubeconfig-out", "/tmp/kc"]);
    run_ok(&mut cmd);
    let app = Container(name, pod_uid.map(str::to_string));
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        ns.answers(port)
    });
    assert!(up, "the app did not answer:\n{}", app.logs());
    app
}

/// The first helper pod a run of `file` makes on the sandbox, as the API server holds it.
async fn helper_pod_of(w: &World, file: &str) -> Pod {
    let cfg = w.config("network_chaos_ng_scenarios", &[file], true, 0);
    let mut run = w.run(&cfg, None);
    let pods: Api<Pod> = Api::all(w.client());
    let mut found = None;
    until(Duration::from_secs(30), async || {
        let list = pods.list(&ListParams::default().labels(HELPER_SELECTOR)).await.unwrap();
        found = list.items.into_iter().next();
        found.is_some()
    })
    .await;
    assert_eq!(
        support::world::wait_exit(&mut run.0, Duration::from_secs(60)),
        Some(0),
        "the run of {file}"
    );
    found.unwrap_or_else(|| panic!("{file}: no helper pod"))
}

/// The word after `flag` in the helper's command.
fn flag<'a>(command: &'a [String], flag: &str) -> Option<&'a str> {
    command.windows(2).find(|w| w[0] == flag).map(|w| w[1].as_str())
}

/// The helper pod's container started as its kubelet would, its network that of `node` when
/// it asks for the host's (the test's stand-in for the node).
fn start_helper(pod: &Pod, node: &Netns, role: &str) -> Container {
    let spec = pod.spec.clone().unwrap();
    let c = &spec.containers[0];
    assert_eq!(c.image.as_deref(), Some(helper_image().as_str()), "the helper pod's image");
    let name = name(role);
    let mut cmd = Command::new(repo().join("scripts/image"));
    cmd.args(["run-helper", "-d", "--name", &name]);
    let sc = c.security_context.clone().unwrap_or_default();
    assert_ne!(sc.privileged, Some(true), "a helper is never privileged");
    let caps = sc.capabilities.clone().unwrap_or_default();
    for cap in caps.drop.unwrap_or_default() {
        cmd.args(["--cap-drop", &cap]);
    }
    for cap in caps.add.unwrap_or_default() {
        cmd.args(["--cap-add", &cap]);
    }
    if sc.allow_privilege_escalation == Some(false) {
        cmd.args(["--security-opt", "no-new-privileges"]);
    }
    if sc.read_only_root_filesystem == Some(true) {
        cmd.arg("--read-only");
    }
    if let Some(user) = sc.run_as_user {
        cmd.args(["--user", &user.to_string()]);
    }
    if spec.host_pid == Some(true) {
        cmd.args(["--pid", "host"]);
    }
    let network =
        if spec.host_network == Some(true) { format!("ns:{}", node.path()) } else { "none".into() };
    cmd.args(["--network", &network]);
    let volumes = spec.volumes.clone().unwrap_or_default();
    for mount in c.volume_mounts.clone().unwrap_or_default() {
        let volume = volumes.iter().find(|v| v.name == mount.name).unwrap();
        assert!(volume.empty_dir.is_some(), "volume {} not modelled", volume.name);
        cmd.args(["--tmpfs", &mount.mount_path]);
    }
    let command = c.command.clone().unwrap();
    cmd.args(["--entrypoint", &serde_json::to_string(&command).unwrap(), "--"]);
    run_ok(&mut cmd);
    Container(name, None)
}

fn command_of(pod: &Pod) -> Vec<String> {
    pod.spec.as_ref().unwrap().containers[0].command.clone().unwrap()
}

/// Waits until `ns` holds a rule tagged `tag`, or says what the helper printed.
fn applied(ns: &Netns, tag: &str, helper: &Container) -> Vec<String> {
    let rules = (0..100).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        Some(ns.rules(tag)).filter(|r| !r.is_empty())
    });
    rules.unwrap_or_else(|| panic!("no rule tagged {tag}:\n{}", helper.logs()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman, iptables, curl and scripts/image build (the helper image)"]
async fn a_pods_filter_from_the_helper_image_drops_its_traffic_until_removed_or_its_deadline() {
    let w = World::new(Target::Sandbox).await;
    let pod = helper_pod_of(&w, "pod_network_filter.yaml").await;
    let command = command_of(&pod);
    let (tag, uid) = (flag(&command, "--tag").unwrap(), flag(&command, "--pod-uid").unwrap());
    assert_eq!(flag(&command, "--port"), Some("8080"), "{command:?}");
    let (node, target) = (Netns::new("node"), Netns::new("pod"));
    let _app = app(&target, Some(uid), 8080);

    // Removed by the undo's exec.
    let helper = start_helper(&pod, &node, "helper-1");
    let rules = applied(&target, tag, &helper);
    assert!(
        rules.iter().all(|r| r.contains("--dport 8080") && r.ends_with("-j DROP")),
        "{rules:?}"
    );
    assert!(node.rules(tag).is_empty(), "the pod's namespace, not the node's");
    assert!(!target.answers(8080), "the filter drops the app's traffic");
    let said = helper.exec(&["chaosdeck", "helper", "remove", "--tag", tag]);
    assert!(
        said.trim_end().ends_with(&format!("chaosdeck-helper: 0 rules tagged {tag}")),
        "{said}"
    );
    assert!(target.rules(tag).is_empty(), "{:?}", target.rules(tag));
    assert!(target.answers(8080), "the app answers again");
    drop(helper);

    // Removed by the helper itself at its deadline (`--for`), exiting 0.
    let lasts: u64 = flag(&command, "--for").unwrap().parse().unwrap();
    let helper = start_helper(&pod, &node, "helper-2");
    applied(&target, tag, &helper);
    assert_eq!(helper.wait(Duration::from_secs(lasts + 15)), Some(0), "{}", helper.logs());
    assert!(target.rules(tag).is_empty(), "{:?}", target.rules(tag));
    assert!(target.answers(8080), "the app answers after the deadline");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman, iptables, curl and scripts/image build (the helper image)"]
async fn a_nodes_filter_from_the_helper_image_is_removed_when_the_helper_is_stopped() {
    let w = World::new(Target::Sandbox).await;
    let pod = helper_pod_of(&w, "node_network_filter.yaml").await;
    let command = command_of(&pod);
    let tag = flag(&command, "--tag").unwrap();
    assert_eq!(pod.spec.as_ref().unwrap().host_network, Some(true), "a node's fault");
    let node = Netns::new("node");
    let _app = app(&node, None, 2309);
    let helper = start_helper(&pod, &node, "helper");
    let rules = applied(&node, tag, &helper);
    assert!(
        rules.iter().all(|r| r.starts_with("-A OUTPUT") && r.contains("--dport 2309")),
        "{rules:?}"
    );
    assert!(!node.answers(2309), "egress to port 2309 is dropped");
    // The kubelet stops a deleted pod's container with SIGTERM.
    run_ok(Command::new("podman").args(["stop", "-t", "10", &helper.0]));
    assert_eq!(helper.wait(Duration::from_secs(15)), Some(0), "{}", helper.logs());
    assert!(
        helper.logs().contains(&format!("SIGTERM: removing what is tagged {tag}")),
        "{}",
        helper.logs()
    );
    assert!(node.rules(tag).is_empty(), "{:?}", node.rules(tag));
    assert!(node.answers(2309), "port 2309 answers again");
    w.shutdown().await;
}
