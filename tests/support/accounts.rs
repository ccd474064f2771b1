//! Identities on a test cluster: kubeconfigs for ServiceAccounts, as the shipped manifests
//! (deploy/rbac.yaml, deploy/watchdog.yaml) bind them.
//!
//! On the real control plane an account is a ServiceAccount with a fresh token
//! (`kubectl create token`), its rights those of the manifests applied. The sandbox has no
//! authentication: its tokens name the user they stand for, so the same kubeconfigs make its
//! admission (the dead man's switch policy) see the same identities, while every request is
//! allowed (it has no authorization).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::cluster::{REAL_CONTEXT, Target};
use super::world::World;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// kubectl matching the real server (`scripts/realcluster build` prints its cached directory);
/// `kubectl` from PATH for the sandbox.
pub fn kubectl_bin(target: Target) -> PathBuf {
    if target == Target::Sandbox {
        return PathBuf::from("kubectl");
    }
    chaosdeck_testbed::binaries().join("kubectl")
}

pub fn kubectl_on(target: Target, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(kubectl_bin(target));
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    cmd.stdin(std::process::Stdio::piped());
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

pub fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// deploy/rbac.yaml as shipped.
pub fn rbac() -> String {
    std::fs::read_to_string(repo().join("deploy/rbac.yaml")).unwrap()
}

/// deploy/watchdog.yaml without its Deployment and PodDisruptionBudget (the watchdog runs
/// in the tests as a process holding that ServiceAccount's token).
pub fn watchdog_manifest() -> String {
    let text = std::fs::read_to_string(repo().join("deploy/watchdog.yaml")).unwrap();
    let kept: Vec<&str> = text
        .split("\n---\n")
        .filter(|doc| {
            !doc.contains("\nkind: Deployment") && !doc.contains("\nkind: PodDisruptionBudget")
        })
        .collect();
    assert!(kept.len() >= 5, "deploy/watchdog.yaml lost its RBAC documents");
    kept.join("\n---\n")
}

/// The username Kubernetes gives a ServiceAccount.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Applies `manifest` as admin (real control plane; the sandbox has no RBAC to apply) and
/// writes a kubeconfig for the ServiceAccount `namespace/name`, context [`REAL_CONTEXT`] on
/// the real one.
pub fn account_kubeconfig(world: &World, manifest: &str, namespace: &str, name: &str) -> PathBuf {
    let path = world.dir.path().join(format!("{namespace}-{name}.kubeconfig"));
    let server = world.cluster.server().to_string();
    let user = service_account_user(namespace, name);
    if world.cluster.target == Target::Sandbox {
        let text = chaosdeck::sandbox::kubeconfig::yaml_for(&server, Some(&user));
        std::fs::write(&path, text).unwrap();
        return path;
    }
    let admin = world.kubeconfig();
    let target = world.cluster.target;
    ok(kubectl_on(target, admin, &["apply", "-f", "-"], Some(manifest)), "apply");
    let (token, ca) = token_and_ca(world, namespace, name);
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {name}\n  user:\n    token: {token}\ncontexts:\n- name: {REAL_CONTEXT}\n  context: {{cluster: real, user: {name}}}\ncurrent-context: {REAL_CONTEXT}\n",
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A fresh token of ServiceAccount `namespace/name` (`kubectl create token`) and the real
/// control plane's CA, base64 as a kubeconfig holds it.
fn token_and_ca(world: &World, namespace: &str, name: &str) -> (String, String) {
    let admin = world.kubeconfig();
    let target = world.cluster.target;
    let token = ok(
        kubectl_on(
            target,
            admin,
            &["create", "token", name, "-n", namespace, "--duration=1h"],
            None,
        ),
        "create token",
    );
    let ca = ok(
        kubectl_on(
            target,
            admin,
            &[
                "config",
                "view",
                "--raw",
                "--minify",
                "--flatten",
                "-o",
                "jsonpath={.clusters[0].cluster.certificate-authority-data}",
            ],
            None,
        ),
        "ca",
    );
    (token.trim().to_string(), ca.trim().to_string())
}

/// What the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount for a pod of
/// ServiceAccount `namespace/name` (token, ca.crt, namespace), in a directory of its own,
/// readable by the image's uid 65532. The account's manifest must be applied already.
pub fn service_account_mount(world: &World, namespace: &str, name: &str) -> PathBuf {
    use base64::Engine;
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(world.cluster.target, Target::Real, "only the real control plane has tokens");
    let (token, ca) = token_and_ca(world, namespace, name);
    let ca = base64::engine::general_purpose::STANDARD.decode(ca).unwrap();
    let dir = world.dir.path().join(format!("serviceaccount-{namespace}-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, bytes) in
        [("token", token.as_bytes()), ("ca.crt", &ca[..]), ("namespace", namespace.as_bytes())]
    {
        std::fs::write(dir.join(file), bytes).unwrap();
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Waits until RBAC (an informer in the API server) answers `can-i` as expected; the sandbox
/// has no authorization and answers yes to everything, so it is not asked.
pub fn await_can_i(
    world: &World,
    kubeconfig: &Path,
    verb: &str,
    resource: &str,
    ns: &str,
    want: bool,
) {
    if world.cluster.target == Target::Sandbox {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = kubectl_on(
            world.cluster.target,
            kubeconfig,
            &["auth", "can-i", verb, resource, "-n", ns],
            None,
        );
        let yes = String::from_utf8_lossy(&out.stdout).trim() == "yes";
        if yes == want {
            return;
        }
        assert!(Instant::now() < deadline, "can-i {verb} {resource} -n {ns} never became {want}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the API server enforces deploy/watchdog.yaml's policies (each takes effect a
/// moment after it is applied, not both at once), asking as `kubeconfig` the way attach does
/// before it opens a run.
pub fn await_switch_policies(kubeconfig: &Path) {
    let kubeconfig = kubeconfig.to_path_buf();
    // Callers are sync code inside async tests: a runtime of its own, on a thread of its own.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let client = super::cluster::client_for(&kubeconfig).await;
            let ops = chaosdeck::cluster::ClusterOps::new(client);
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                use chaosdeck::journal::mirror_link::lease_and_mirror_policies_enforced;
                let verdict = lease_and_mirror_policies_enforced(&ops, "chaosdeck-system").await;
                match verdict {
                    Ok(()) => return,
                    Err(why) => assert!(Instant::now() < deadline, "{why}"),
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    })
    .join()
    .unwrap();
}

/// The identities of a dead man's switch game day as the shipped manifests make them: the
/// operator's `chaosdeck/chaosdeck` (deploy/rbac.yaml plus watchdog.yaml's
/// chaosdeck-dead-man-switch Role) and the watchdog's `chaosdeck-system/chaosdeck-watchdog`.
pub struct SwitchAccounts {
    pub runner: PathBuf,
    pub watchdog: PathBuf,
}

impl SwitchAccounts {
    pub fn shipped(world: &World) -> SwitchAccounts {
        let runner = account_kubeconfig(world, &rbac(), "chaosdeck", "chaosdeck");
        let watchdog = account_kubeconfig(
            world,
            &watchdog_manifest(),
            "chaosdeck-system",
            "chaosdeck-watchdog",
        );
        await_can_i(
            world,
            &runner,
            "create",
            "leases.coordination.k8s.io",
            "chaosdeck-system",
            true,
        );
        await_can_i(world, &watchdog, "update", "configmaps", "chaosdeck-system", true);
        await_switch_policies(&runner);
        SwitchAccounts { runner, watchdog }
    }
}
