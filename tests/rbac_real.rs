//! Least privilege on a real control plane (RBAC on): a ServiceAccount bound to the roles of
//! deploy/rbac.yaml runs and rolls back every scenario type; with one verb taken away, `run`
//! refuses before changing anything and `check-permissions` lists the same gap; a change the
//! API server refuses outright is retired at once as "not applied".

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chaosdeck::journal::EntryState;
use support::accounts::{self, rbac, repo};
use support::cluster::{REAL_CONTEXT, Target};
use support::world::{Lines, World, wait_exit};

/// Applies `manifest` (deploy/rbac.yaml, maybe edited) as admin and writes a kubeconfig for
/// the ServiceAccount `chaosdeck/chaosdeck` with a fresh token, context [`REAL_CONTEXT`].
fn service_account_kubeconfig(world: &World, manifest: &str) -> PathBuf {
    accounts::account_kubeconfig(world, manifest, "chaosdeck", "chaosdeck")
}

fn await_can_i(world: &World, sa: &Path, verb: &str, resource: &str, ns: &str, want: bool) {
    accounts::await_can_i(world, sa, verb, resource, ns, want)
}

/// A config running `files` (tests/data/engine) as `scenario_type` with `kubeconfig`.
fn config(world: &World, kubeconfig: &Path, scenario_type: &str, files: &[&str]) -> PathBuf {
    let data = repo().join("tests/data/engine");
    let list: Vec<String> =
        files.iter().map(|f| format!("            - {}", data.join(f).display())).collect();
    let text = format!(
        "kraken:\n    kubeconfig_path: {}\n    auto_rollback: True\n    rollback_versions_directory: {}\n    chaos_scenarios:\n        - {scenario_type}:\n{}\ntunings:\n    wait_duration: 0\n    iterations: 1\nchaosdeck:\n    cluster: kubeconfig\n",
        kubeconfig.display(),
        world.journal().display(),
        list.join("\n")
    );
    let path = world.dir.path().join(format!("sa-{scenario_type}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn chaosdeck(args: &[&str], extra: &[&Path]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"));
    cmd.args(args);
    for p in extra {
        cmd.arg(p);
    }
    cmd
}

/// `run --headless -c config --yes-i-mean-it <ctx>`, with an optional failpoint.
fn run(config: &Path, failpoint: Option<&str>) -> (Option<i32>, String) {
    let mut cmd = chaosdeck(&["run", "--headless", "--config"], &[config]);
    cmd.args(["--yes-i-mean-it", REAL_CONTEXT]);
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    if let Some(fp) = failpoint {
        cmd.env("CHAOSDECK_FAILPOINT", fp);
    }
    let mut child = support::world::Running(cmd.spawn().unwrap());
    let mut lines = Lines::of(&mut child);
    let code = wait_exit(&mut child, Duration::from_secs(240));
    (code, lines.rest())
}

const ALL: [(&str, &[&str]); 8] = [
    ("application_outages_scenarios", &["app_outage.yaml"]),
    ("hog_scenarios", &["cpu-hog.yml"]),
    ("service_hijacking_scenarios", &["service_hijacking.yaml"]),
    ("syn_flood_scenarios", &["syn_flood.yaml"]),
    ("http_load_scenarios", &["http_load.yml"]),
    ("pod_disruption_scenarios", &["pod.yml"]),
    // Cordon and taint; the drain's permissions (list pods, create pods/eviction) are checked
    // by check-permissions above (its config names node_drain.yml).
    ("node_scenarios", &["node.yml"]),
    // Helper pods, their exec and their deletion (the helper runs as a test process).
    ("network_chaos_ng_scenarios", &["pod_network_filter.yaml", "node_network_chaos.yaml"]),
];

/// Every scenario type as the ServiceAccount: a clean run (the scenario reverts itself), a
/// failure right after the first change (auto rollback as the ServiceAccount), and a SIGKILL
/// after the last change of service hijacking undone by `execute-rollback` as the
/// ServiceAccount; the cluster is back as it was each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real control plane (Go; scripts/realcluster)"]
async fn every_scenario_runs_and_rolls_back_as_a_least_privilege_service_account() {
    let world = World::new(Target::Real).await;
    let _helpers = support::helpers::HelperNodes::start(&world.cluster);
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(world.client(), "shop");
    let solo = serde_json::from_value(serde_json::json!({"metadata": {"name": "solo"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    pods.create(&Default::default(), &solo).await.unwrap();
    let sa = service_account_kubeconfig(&world, &rbac());
    await_can_i(&world, &sa, "create", "networkpolicies.networking.k8s.io", "shop", true);
    let before = world.steady();

    let check = chaosdeck(
        &["check-permissions", "-c"],
        &[&config(&world, &sa, "node_scenarios", &["node.yml", "node_drain.yml"])],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "check-permissions:\n{text}");
    assert!(text.contains("every permission is granted"), "{text}");

    for (scenario_type, files) in ALL {
        let cfg = config(&world, &sa, scenario_type, files);
        let started = Instant::now();
        let (code, log) = run(&cfg, None);
        eprintln!("{scenario_type} as the ServiceAccount: {:?}", started.elapsed());
        assert_eq!(code, Some(0), "{scenario_type} as the ServiceAccount:\n{log}");
        assert!(log.contains("journal: wrote"), "{scenario_type}: no journaled change:\n{log}");
        assert_eq!(world.outstanding(), 0, "{scenario_type}:\n{log}");
        assert_eq!(world.settle(&before), before, "{scenario_type}: not restored");

        let (code, log) = run(&cfg, Some("fail-after-change:1"));
        assert_eq!(code, Some(1), "{scenario_type} failure as the ServiceAccount:\n{log}");
        assert!(log.contains("rollback done"), "{scenario_type}: no rollback:\n{log}");
        assert_eq!(world.outstanding(), 0, "{scenario_type}: left pending:\n{log}");
        assert_eq!(world.settle(&before), before, "{scenario_type}: not restored by rollback");
    }

    // SIGKILL after the third change of service hijacking; execute-rollback as the SA.
    let cfg = config(&world, &sa, "service_hijacking_scenarios", &["service_hijacking.yaml"]);
    let mut cmd = chaosdeck(&["run", "--headless", "--config"], &[&cfg]);
    cmd.args(["--yes-i-mean-it", REAL_CONTEXT]).env("CHAOSDECK_FAILPOINT", "hang-after-change:3");
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = support::world::Running(cmd.spawn().unwrap());
    let mut lines = Lines::of(&mut child);
    assert!(
        lines.wait_for("failpoint: hanging after change", Duration::from_secs(60)),
        "{}",
        lines.rest()
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    assert_eq!(world.outstanding(), 3);
    let out = chaosdeck(&["execute-rollback", "--dir"], &[&world.journal()])
        .arg("--kubeconfig")
        .arg(&sa)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(world.outstanding(), 0);
    assert_eq!(world.settle(&before), before, "not restored by execute-rollback as the SA");
    world.shutdown().await;
}

/// The application-outage role without `create` on networkpolicies: `run` exits 2 listing
/// exactly that permission, writes no entry (no context directory), changes nothing;
/// `check-permissions` prints the same line and exits 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real control plane (Go; scripts/realcluster)"]
async fn a_missing_verb_is_refused_before_anything_changes() {
    let world = World::new(Target::Real).await;
    let manifest = rbac().replace(
        "    resources: [networkpolicies]\n    verbs: [create, get, delete]",
        "    resources: [networkpolicies]\n    verbs: [get, delete]",
    );
    assert_ne!(manifest, rbac(), "the edit must take the verb away");
    let sa = service_account_kubeconfig(&world, &manifest);
    await_can_i(&world, &sa, "get", "networkpolicies.networking.k8s.io", "shop", true);
    await_can_i(&world, &sa, "create", "networkpolicies.networking.k8s.io", "shop", false);
    let before = world.steady();
    let cfg = config(&world, &sa, "application_outages_scenarios", &["app_outage.yaml"]);

    let started = Instant::now();
    let (code, log) = run(&cfg, None);
    eprintln!("refused run took {:?}", started.elapsed());
    let missing = "missing: create networkpolicies.networking.k8s.io in namespace shop";
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains(missing), "{log}");
    assert_eq!(log.matches("missing: ").count(), 1, "exactly one permission missing:\n{log}");
    assert!(!log.contains("journal: wrote"), "{log}");
    let tree = world.tree();
    assert!(tree.contexts.is_empty(), "a context directory was created: {:?}", tree.contexts);
    assert_eq!(world.snapshot(), before, "the cluster changed");

    let out = chaosdeck(&["check-permissions", "-c"], &[&cfg]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains(missing), "{text}");
    assert!(world.tree().contexts.is_empty());
    world.shutdown().await;
}

/// A hog pod whose toleration has an invalid effect: the API server answers 422 to each
/// create. Each entry (written ahead) is retired at once as not applied with that reason;
/// nothing is pending, the audit log, list-rollback and show say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real control plane (Go; scripts/realcluster)"]
async fn a_change_the_api_server_refuses_is_retired_as_not_applied() {
    let world = World::new(Target::Real).await;
    let before = world.steady();
    let hog = world.dir.path().join("bad-hog.yml");
    std::fs::write(
        &hog,
        "duration: 2\nhog-type: cpu\nnamespace: default\nnode-selector: \"node-role.kubernetes.io/worker=\"\nnumber-of-nodes: 2\ntaints: [\"chaosdeck.io/x:Sometimes\"]\n",
    )
    .unwrap();
    let text = format!(
        "kraken:\n    kubeconfig_path: {}\n    auto_rollback: True\n    rollback_versions_directory: {}\n    chaos_scenarios:\n        - hog_scenarios:\n            - {}\ntunings:\n    wait_duration: 0\n    iterations: 1\nchaosdeck:\n    cluster: kubeconfig\n",
        world.kubeconfig().display(),
        world.journal().display(),
        hog.display()
    );
    let cfg = world.dir.path().join("bad-hog-config.yaml");
    std::fs::write(&cfg, text).unwrap();
    let (code, log) = run(&cfg, None);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("journal: wrote"), "{log}");
    assert!(log.contains("journal: not applied"), "{log}");
    let tree = world.tree();
    let entries: Vec<_> = tree.entries().map(|(_, e)| e.clone()).collect();
    assert_eq!(entries.len(), 2, "one entry per hog pod");
    for e in &entries {
        assert_eq!(e.state, EntryState::NotApplied, "{}", e.path.display());
        let chaosdeck::journal::scan::EntryBody::Chaosdeck(body) = &e.body else {
            panic!("{:?}", e.body)
        };
        let reason = &body.not_applied.as_ref().unwrap().reason;
        assert!(reason.contains("HTTP 422"), "{reason}");
    }
    assert_eq!(world.outstanding(), 0);
    let audit = std::fs::read_to_string(world.journal().join("audit.log")).unwrap();
    assert_eq!(audit.matches("not-applied ").count(), 2, "{audit}");
    let list = chaosdeck(&["list-rollback", "--dir"], &[&world.journal()]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("not-applied"), "{list}");
    let show = chaosdeck(&["show"], &[&entries[0].path]).output().unwrap();
    let show_text = String::from_utf8_lossy(&show.stdout);
    assert!(
        show_text.contains("not applied: the API server refused the create (HTTP 422)"),
        "{show_text}"
    );
    assert_eq!(world.settle(&before), before);
    world.shutdown().await;
}

/// The dead man's switch under the shipped RBAC only: a run as the chaosdeck ServiceAccount
/// (deploy/rbac.yaml plus watchdog.yaml's chaosdeck-dead-man-switch Role) SIGKILLed in an
/// outage's chaos window is undone by a `chaosdeck watchdog` holding nothing but the
/// chaosdeck-watchdog ServiceAccount's token; the mirror records it and reconcile retires it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real control plane (Go; scripts/realcluster)"]
async fn the_watchdog_undoes_a_killed_run_with_only_its_manifest_s_permissions() {
    use chaosdeck::deadman::mirror::{self, MirrorState};
    let world = World::new(Target::Real).await;
    let switch = world.accounts();
    let (sa, watchdog) = (switch.runner.clone(), switch.watchdog.clone());
    // Nothing outside its namespace: the watchdog can neither make nor undo a change of its
    // own; it undoes as the run's author, whom it may impersonate.
    await_can_i(&world, &watchdog, "delete", "networkpolicies.networking.k8s.io", "shop", false);
    await_can_i(&world, &watchdog, "create", "networkpolicies.networking.k8s.io", "shop", false);
    await_can_i(&world, &watchdog, "impersonate", "serviceaccounts/chaosdeck", "chaosdeck", true);
    let before = world.steady();

    let cfg =
        world.config_dead_man("application_outages_scenarios", &["app_outage.yaml"], &sa, 3, 1);
    let log = world.run_and_kill_after_change(&cfg, 1);
    assert!(log.contains("dead man's switch: Lease"), "switch not armed");
    assert_eq!(world.outstanding(), 1);
    assert_ne!(world.snapshot(), before, "the outage's NetworkPolicy is in place");

    let (_running, mut watchdog_lines) = world.watchdog_as("wd-sa", &watchdog, &[]);
    assert_eq!(world.settle(&before), before, "the watchdog did not restore the cluster");
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(world.client(), "chaosdeck-system");
    let deadline = Instant::now() + Duration::from_secs(10);
    let states = loop {
        let list = api
            .list(&kube::api::ListParams::default().labels("chaosdeck.io/mirror=entry"))
            .await
            .unwrap();
        let states: Vec<_> = list.items.iter().map(|cm| mirror::read(cm).unwrap()).collect();
        if states.iter().all(|m| m.state == MirrorState::Executed) || Instant::now() > deadline {
            break states;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].state, MirrorState::Executed, "{:?}", states[0].outcome);
    let log = watchdog_lines.rest();
    assert!(!log.contains("forbidden"), "the watchdog was refused something:\n{log}");

    let (code, out) = world.reconcile();
    assert_eq!(code, 0, "reconcile:\n{out}");
    assert!(out.contains("undone by wd-sa"), "{out}");
    assert_eq!(world.outstanding(), 0);
    world.shutdown().await;
}

/// `chaosdeck rbac -c config.yaml` is enough, and nothing more is bound: a ServiceAccount with
/// only the Roles and RoleBindings it prints (changes in shop and default, reads and nodes
/// cluster-wide) runs every scenario type of one config and rolls each back; a create
/// elsewhere is refused (it may not create pods in kube-system).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real control plane (Go; scripts/realcluster)"]
async fn a_config_runs_with_exactly_what_chaosdeck_rbac_prints() {
    let world = World::new(Target::Real).await;
    let _helpers = support::helpers::HelperNodes::start(&world.cluster);
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(world.client(), "shop");
    let solo = serde_json::from_value(serde_json::json!({"metadata": {"name": "solo"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    pods.create(&Default::default(), &solo).await.unwrap();
    let account = "apiVersion: v1\nkind: Namespace\nmetadata: {name: runner}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: runner, namespace: runner}\n";
    let sa = accounts::account_kubeconfig(&world, account, "runner", "runner");
    let data = repo().join("tests/data/engine");
    let groups: String = ALL
        .iter()
        .map(|(scenario_type, files)| {
            let list: Vec<String> =
                files.iter().map(|f| format!("            - {}", data.join(f).display())).collect();
            format!("        - {scenario_type}:\n{}\n", list.join("\n"))
        })
        .collect();
    let text = format!(
        "kraken:\n    kubeconfig_path: {}\n    auto_rollback: True\n    rollback_versions_directory: {}\n    chaos_scenarios:\n{groups}tunings:\n    wait_duration: 0\n    iterations: 1\nchaosdeck:\n    cluster: kubeconfig\n",
        sa.display(),
        world.journal().display(),
    );
    let cfg = world.dir.path().join("all-scenarios.yaml");
    std::fs::write(&cfg, text).unwrap();

    let printed =
        chaosdeck(&["rbac", "--service-account", "runner/runner", "-c"], &[&cfg]).output().unwrap();
    let manifest = String::from_utf8_lossy(&printed.stdout).into_owned();
    assert_eq!(printed.status.code(), Some(0), "{}", String::from_utf8_lossy(&printed.stderr));
    assert!(
        manifest.contains("namespace: shop") && manifest.contains("namespace: default"),
        "{manifest}"
    );
    accounts::ok(
        accounts::kubectl_on(
            Target::Real,
            world.kubeconfig(),
            &["apply", "-f", "-"],
            Some(&manifest),
        ),
        "apply chaosdeck rbac",
    );
    await_can_i(&world, &sa, "create", "networkpolicies.networking.k8s.io", "shop", true);
    await_can_i(&world, &sa, "create", "pods", "kube-system", false);
    await_can_i(&world, &sa, "create", "pods", "payments", false);
    let before = world.steady();
    let started = Instant::now();
    let (code, log) = run(&cfg, None);
    eprintln!("every scenario type with `chaosdeck rbac`'s roles: {:?}", started.elapsed());
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(world.outstanding(), 0, "{log}");
    assert_eq!(world.settle(&before), before, "not restored:\n{log}");
    world.shutdown().await;
}
