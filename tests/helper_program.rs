//! `chaosdeck helper`, the program the helper pod runs on a node, as a process: with the files
//! backend (the test bed's stand-in) its whole lifetime — rules and qdiscs in force, `status`,
//! `remove`, SIGTERM, the deadline, what is not its own left alone; with the kernel backend,
//! the exact `nsenter`, `iptables` and `tc` words it sends, to fakes on PATH. Nothing here
//! touches this machine's tables or qdiscs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const TAG: &str = "1795-abcdefgh";
const UID: &str = "0b1c7e7a-4c55-4b8e-9d4c-6f0b8a7c2d11";

fn helper() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"));
    cmd.arg("helper");
    cmd
}

fn filter(state: &Path, seconds: u64, backend: &str) -> Command {
    let mut cmd = helper();
    cmd.args(["filter", "--tag", TAG, "--pod-uid", UID, "--for", &seconds.to_string()])
        .args(["--chain", "INPUT", "--protocol", "tcp", "--port", "8080", "--port", "9090"])
        .args(["--backend", backend, "--state-dir"])
        .arg(state);
    cmd
}

fn tag_command(verb: &str, state: &Path) -> Output {
    helper().args([verb, "--tag", TAG, "--state-dir"]).arg(state).output().unwrap()
}

/// Starts `cmd` and waits until it printed its count of rules in force.
fn start(mut cmd: Command) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
            panic!("the helper ended before applying its rules:\n{seen}{err}");
        }
        seen.push_str(&line);
        if line.starts_with("chaosdeck-helper: ") {
            break;
        }
    }
    // Keep reading so the helper never blocks on a full pipe.
    std::thread::spawn(move || for _ in out.lines() {});
    (child, seen)
}

fn wait(child: &mut Child, within: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

fn rules_file(state: &Path) -> PathBuf {
    state.join(format!("netns-{UID}.iptables"))
}

#[test]
fn the_files_backend_applies_reports_removes_and_leaves_others_alone() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let other = "-A INPUT -p tcp -m tcp --dport 22 -m comment --comment \"chaosdeck-1795-abcdefgh2\" -j DROP\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n";
    std::fs::write(rules_file(state), other).unwrap();

    let (mut child, applied) = start(filter(state, 300, "files"));
    assert!(applied.ends_with(&format!("chaosdeck-helper: 2 rules tagged {TAG}\n")), "{applied}");
    assert!(
        applied.contains(&format!(
            "-A INPUT -p tcp -m tcp --dport 9090 -m comment --comment \"chaosdeck-{TAG}\" -j DROP"
        )),
        "{applied}"
    );
    let status = tag_command("status", state);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success() && text.lines().count() == 3, "{text}");

    let removed = tag_command("remove", state);
    let text = String::from_utf8_lossy(&removed.stdout);
    assert!(removed.status.success(), "{text}");
    assert_eq!(text, format!("chaosdeck-helper: 0 rules tagged {TAG}\n"));
    assert_eq!(std::fs::read_to_string(rules_file(state)).unwrap(), other);
    // Again: nothing left to remove is not an error.
    assert!(tag_command("remove", state).status.success());

    // SIGTERM (the pod deleted): it removes what is tagged — nothing now — and exits 0.
    // SAFETY: kill(2) on our own child's pid, not yet waited for.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait(&mut child, Duration::from_secs(10)), Some(0));
    assert_eq!(std::fs::read_to_string(rules_file(state)).unwrap(), other);
}

#[test]
fn the_deadline_removes_the_rules_with_nobody_asking() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let started = Instant::now();
    let (mut child, _) = start(filter(state, 1, "files"));
    assert!(tag_command("status", state).stdout.len() > 100);
    assert_eq!(wait(&mut child, Duration::from_secs(10)), Some(0));
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(5), "{took:?}");
    assert_eq!(std::fs::read_to_string(rules_file(state)).unwrap(), "");
    let status = tag_command("status", state);
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        format!("chaosdeck-helper: 0 rules tagged {TAG}\n")
    );
}

#[test]
fn a_bad_tag_or_rule_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = helper()
        .args(["remove", "--tag", "../../etc/passwd", "--state-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a tag is an entry id"));
    let out = helper()
        .args(["filter", "--tag", TAG, "--pod-uid", UID, "--for", "5", "--chain", "FORWARD"])
        .args(["--protocol", "tcp", "--port", "80", "--backend", "files", "--state-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chain \"FORWARD\""));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

const FAKE_NSENTER: &str = r#"#!/bin/sh
printf 'nsenter %s\n' "$*" >> "$FAKE_LOG"
[ "$1" = --target ] && [ "$3" = --net ] && [ "$4" = -- ] || { echo "unexpected: $*" >&2; exit 2; }
shift 4
exec "$@"
"#;

/// iptables' words on a rules file, enough to play `-S`, `-A` and `-D` for one rule per call.
const FAKE_IPTABLES: &str = r#"#!/bin/sh
printf 'iptables %s\n' "$*" >> "$FAKE_LOG"
[ "$1" = -w ] && shift
op=$1; shift
case "$op" in
  -S) cat "$FAKE_RULES"; exit 0 ;;
esac
line="-A"; prev=""
for w in "$@"; do
  if [ "$prev" = "--comment" ]; then line="$line \"$w\""; else line="$line $w"; fi
  prev=$w
done
case "$op" in
  -A) printf '%s\n' "$line" >> "$FAKE_RULES" ;;
  -D) awk -v l="$line" 'BEGIN{d=0} $0==l && !d {d=1; next} {print}' "$FAKE_RULES" > "$FAKE_RULES.new"
      mv "$FAKE_RULES.new" "$FAKE_RULES" ;;
  *) exit 2 ;;
esac
"#;

#[test]
fn the_kernel_backend_enters_the_pods_network_namespace_and_speaks_iptables() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for (name, text) in [("nsenter", FAKE_NSENTER), ("iptables", FAKE_IPTABLES)] {
        let path = bin.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // A node's /proc: the pod's process (systemd cgroup names use underscores) and another.
    let proc_root = dir.path().join("proc");
    let pod_cgroup = format!(
        "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-1.scope\n",
        UID.replace('-', "_")
    );
    for (pid, cgroup) in [("4242", pod_cgroup.as_str()), ("7", "0::/init.scope\n")] {
        std::fs::create_dir_all(proc_root.join(pid)).unwrap();
        std::fs::write(proc_root.join(pid).join("cgroup"), cgroup).unwrap();
    }
    let log = dir.path().join("log");
    let rules = dir.path().join("rules");
    std::fs::write(&rules, "-P INPUT ACCEPT\n").unwrap();
    let state = dir.path().join("state");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());

    let mut cmd = filter(&state, 300, "kernel");
    cmd.arg("--proc-root").arg(&proc_root);
    cmd.env("PATH", &path).env("FAKE_LOG", &log).env("FAKE_RULES", &rules);
    let (mut child, applied) = start(cmd);
    assert!(applied.ends_with(&format!("2 rules tagged {TAG}\n")), "{applied}");
    let removed = helper()
        .args(["remove", "--tag", TAG, "--state-dir"])
        .arg(&state)
        .env("PATH", &path)
        .env("FAKE_LOG", &log)
        .env("FAKE_RULES", &rules)
        .output()
        .unwrap();
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), "-P INPUT ACCEPT\n");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait(&mut child, Duration::from_secs(10)), Some(0));

    let sent = std::fs::read_to_string(&log).unwrap();
    let comment = format!("chaosdeck-{TAG}");
    let first: Vec<&str> = sent.lines().take(4).collect();
    assert_eq!(
        first,
        [
            format!("nsenter --target 4242 --net -- iptables -w -A INPUT -p tcp -m tcp --dport 8080 -m comment --comment {comment} -j DROP").as_str(),
            format!("iptables -w -A INPUT -p tcp -m tcp --dport 8080 -m comment --comment {comment} -j DROP").as_str(),
            format!("nsenter --target 4242 --net -- iptables -w -A INPUT -p tcp -m tcp --dport 9090 -m comment --comment {comment} -j DROP").as_str(),
            format!("iptables -w -A INPUT -p tcp -m tcp --dport 9090 -m comment --comment {comment} -j DROP").as_str(),
        ]
    );
    assert!(
        sent.contains(&format!(
            "nsenter --target 4242 --net -- iptables -w -D INPUT -p tcp -m tcp --dport 8080 -m comment --comment {comment} -j DROP"
        )),
        "{sent}"
    );
    assert!(!sent.contains("--target 7 "), "{sent}");
}

fn netem(state: &Path, dev: &str, seconds: u64) -> Command {
    let mut cmd = helper();
    cmd.args(["netem", "--tag", TAG, "--pod-uid", UID, "--for", &seconds.to_string()])
        .args(["--dev", dev, "--handle", "1a2b", "--delay", "100ms", "--loss", "10"])
        .args(["--backend", "files", "--state-dir"])
        .arg(state);
    cmd
}

#[test]
fn a_netem_qdisc_is_found_and_removed_by_its_handle_only() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let qdiscs = state.join(format!("netns-{UID}.qdisc"));
    let other = "eth1 qdisc fq_codel 0: root refcnt 2\n";
    std::fs::write(&qdiscs, other).unwrap();

    let (mut child, applied) = start(netem(state, "eth0", 300));
    assert!(
        applied.starts_with(
            "dev eth0: qdisc netem 1a2b: root refcnt 2 limit 1000 delay 100ms loss 10%\n"
        ),
        "{applied}"
    );
    assert!(applied.ends_with(&format!("chaosdeck-helper: 1 rules tagged {TAG}\n")), "{applied}");
    let removed = tag_command("remove", state);
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    assert_eq!(std::fs::read_to_string(&qdiscs).unwrap(), other);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait(&mut child, Duration::from_secs(10)), Some(0));
    assert_eq!(std::fs::read_to_string(&qdiscs).unwrap(), other);

    // Another root qdisc already on eth1: tc refuses, the helper says so and exits 1.
    let out = netem(state, "eth1", 300).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Exclusivity flag on"), "{out:?}");
    assert_eq!(std::fs::read_to_string(&qdiscs).unwrap(), other);
}

const FAKE_TC: &str = r#"#!/bin/sh
printf 'tc %s\n' "$*" >> "$FAKE_LOG"
case "$2" in
  show) grep "^$4 " "$FAKE_QDISC" | cut -d' ' -f2- ;;
  add) shift 3; dev=$1; shift 3; h=$1; shift 2
       printf '%s qdisc netem %s root refcnt 2 limit 1000 %s\n' "$dev" "$h" "$*" >> "$FAKE_QDISC" ;;
  del) grep -v "^$4 qdisc netem $7 root" "$FAKE_QDISC" > "$FAKE_QDISC.new"; mv "$FAKE_QDISC.new" "$FAKE_QDISC" ;;
  *) exit 2 ;;
esac
"#;

#[test]
fn the_kernel_backend_speaks_tc_on_the_nodes_own_devices() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let tc = bin.join("tc");
    std::fs::write(&tc, FAKE_TC).unwrap();
    std::fs::set_permissions(&tc, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = dir.path().join("log");
    let qdisc = dir.path().join("qdisc");
    std::fs::write(&qdisc, "").unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let state = dir.path().join("state");
    let mut cmd = helper();
    cmd.args(["netem", "--tag", TAG, "--node", "worker-1", "--for", "0", "--dev", "ens5"])
        .args(["--handle", "1a2b", "--rate", "1mbit", "--state-dir"])
        .arg(&state)
        .env("PATH", &path)
        .env("FAKE_LOG", &log)
        .env("FAKE_QDISC", &qdisc);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("dev ens5: qdisc netem 1a2b: root refcnt 2 limit 1000 rate 1mbit\nchaosdeck-helper: 1 rules tagged {TAG}\n")), "{said}");
    assert!(said.ends_with(&format!("chaosdeck-helper: 0 rules tagged {TAG}\n")), "{said}");
    let sent = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        sent.lines().collect::<Vec<_>>(),
        [
            "tc qdisc add dev ens5 root handle 1a2b: netem rate 1mbit",
            "tc qdisc show dev ens5",
            "tc qdisc show dev ens5",
            "tc qdisc del dev ens5 root handle 1a2b:",
            "tc qdisc show dev ens5",
        ]
    );
    assert_eq!(std::fs::read_to_string(&qdisc).unwrap(), "");
}

#[test]
fn link_down_comes_back_up_at_its_deadline_and_never_takes_a_down_link() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let links = state.join("netns-node-worker-1.links");
    let down = |dev: &str, secs: u64| {
        let mut cmd = helper();
        cmd.args(["link-down", "--tag", TAG, "--node", "worker-1", "--for", &secs.to_string()])
            .args(["--dev", dev, "--backend", "files", "--state-dir"])
            .arg(state);
        cmd
    };
    let started = Instant::now();
    let (mut child, applied) = start(down("eth0", 1));
    assert!(applied.starts_with("dev eth0: down\n"), "{applied}");
    assert_eq!(std::fs::read_to_string(&links).unwrap(), "eth0 down\n");
    assert_eq!(wait(&mut child, Duration::from_secs(10)), Some(0));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(std::fs::read_to_string(&links).unwrap(), "");

    // A link someone else set down is not this helper's to bring up: nothing is changed.
    std::fs::write(&links, "eth1 down\n").unwrap();
    let out = down("eth1", 300).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("eth1 is down already"), "{out:?}");
    assert_eq!(std::fs::read_to_string(&links).unwrap(), "eth1 down\n");
}

#[test]
fn a_throttle_writes_the_previous_limit_back_and_only_over_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let iomax = state.join(format!("netns-{UID}.io.max"));
    let before = "253:0 rbps=max wbps=100 riops=max wiops=max\n";
    std::fs::write(&iomax, before).unwrap();
    let throttle = |secs: u64| {
        let mut cmd = helper();
        cmd.args(["throttle", "--tag", TAG, "--pod-uid", UID, "--for", &secs.to_string()])
            .args(["--mount", "/data", "--rbps", "1048576", "--backend", "files", "--state-dir"])
            .arg(state);
        cmd
    };
    let (mut child, applied) = start(throttle(300));
    assert!(
        applied.starts_with("io.max 253:0 rbps=1048576 wbps=100 riops=max wiops=max\n"),
        "{applied}"
    );
    let removed = tag_command("remove", state);
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    assert_eq!(std::fs::read_to_string(&iomax).unwrap(), before);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait(&mut child, Duration::from_secs(10)), Some(0));

    // Someone changes the limit during the throttle: the helper leaves theirs in place.
    let (mut child, _) = start(throttle(300));
    let theirs = "253:0 rbps=5 wbps=100 riops=max wiops=max\n";
    std::fs::write(&iomax, theirs).unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait(&mut child, Duration::from_secs(10)), Some(0));
    assert_eq!(std::fs::read_to_string(&iomax).unwrap(), theirs);
}

#[test]
fn the_kernel_throttle_finds_the_containers_cgroup_and_device_through_proc() {
    let dir = tempfile::tempdir().unwrap();
    let proc_root = dir.path().join("proc");
    let cgroup_root = dir.path().join("cgroup");
    let scope = format!(
        "kubepods.slice/kubepods-pod{}.slice/cri-containerd-abc.scope",
        UID.replace('-', "_")
    );
    // The pause process (no /data) and the container's process.
    for (pid, mounts) in [
        ("100", "22 1 0:21 / / rw - overlay overlay rw\n"),
        (
            "101",
            "22 1 0:21 / / rw - overlay overlay rw\n36 22 8:16 /vol /data rw - ext4 /dev/sdb rw\n",
        ),
    ] {
        std::fs::create_dir_all(proc_root.join(pid)).unwrap();
        std::fs::write(proc_root.join(pid).join("cgroup"), format!("0::/{scope}\n")).unwrap();
        std::fs::write(proc_root.join(pid).join("mountinfo"), mounts).unwrap();
    }
    std::fs::create_dir_all(cgroup_root.join(&scope)).unwrap();
    let file = cgroup_root.join(&scope).join("io.max");
    std::fs::write(&file, "").unwrap();
    let out = helper()
        .args(["throttle", "--tag", TAG, "--pod-uid", UID, "--for", "0", "--mount", "/data"])
        .args(["--wiops", "50", "--state-dir"])
        .arg(dir.path().join("state"))
        .arg("--proc-root")
        .arg(&proc_root)
        .arg("--cgroup-root")
        .arg(&cgroup_root)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.starts_with("io.max 8:16 rbps=max wbps=max riops=max wiops=50\n"), "{said}");
    // The kernel's file takes one line per write: the last one lifts the limit.
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "8:16 rbps=max wbps=max riops=max wiops=max\n"
    );
}

/// `helper lift`, for a limit someone else left (Krkn's throttle): the cgroup v2 file gets the
/// device's `max` line, which the kernel takes as "no limit"; a cgroup that is gone (its
/// container ended) exits 3, not a failure and not a lift; a path outside the pods' cgroups is
/// refused before any file is named.
#[test]
fn lift_writes_max_for_the_device_and_says_when_the_cgroup_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let cgroup_root = dir.path().join("cgroup");
    let scope = "kubepods.slice/cri-containerd-4be1c9d07f3a.scope";
    let lift = |cgroup: &str| {
        helper()
            .args(["lift", "--node", "worker-1", "--device", "8:16", "--cgroup-path", cgroup])
            .arg("--cgroup-root")
            .arg(&cgroup_root)
            .output()
            .unwrap()
    };
    // Gone: nothing written, nothing created.
    let out = lift(&format!("/{scope}"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("is gone on node worker-1"), "{said}");
    assert!(!cgroup_root.exists());
    // Present with Krkn's limit: lifted and read back.
    std::fs::create_dir_all(cgroup_root.join(scope)).unwrap();
    let file = cgroup_root.join(scope).join("io.max");
    std::fs::write(&file, "").unwrap();
    let out = lift(&format!("/{scope}"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("lifted the I/O limits of 8:16"), "{said}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "8:16 rbps=max wbps=max riops=max wiops=max\n"
    );
    // A path from a hostile file: refused, exit 1, nothing written.
    std::fs::remove_file(&file).unwrap();
    let out = lift("/kubepods.slice/../../etc");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pod's cgroup"));
    assert!(!file.exists());
}
