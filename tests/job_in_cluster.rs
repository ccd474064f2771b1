//! A game day run as a Job (`chaosdeck job`), on the real control plane: `--apply` creates the
//! ConfigMap and the Job as the operator; the Job's pod, as the API server holds it, is run
//! from the image with the ServiceAccount the Job names (kwok runs no containers, so the test
//! does). A run that ends restores the cluster itself; a pod killed in its chaos window is
//! undone by the watchdog within lease_duration + 2 s. `chaosdeck attach` shows a Job's run
//! from its mirrors and its `!` stops the Job and restores the cluster. Bad input makes no
//! object at all.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::ListParams;
use support::cluster::{REAL_CONTEXT, Target};
use support::world::World;

const LEASE: u64 = 3;

fn job(args: &[&str], config: &Path, kubeconfig: &Path) -> (i32, String) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .arg("job")
        .arg("-c")
        .arg(config)
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// The cluster as the game day sees it: everything but the game days' own ConfigMaps, Jobs
/// and pods in namespace chaosdeck.
fn outside_chaosdeck(w: &World) -> String {
    let text = w.snapshot();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("ConfigMap chaosdeck/") && !l.starts_with("pods of chaosdeck/"))
        .collect();
    kept.join("\n")
}

/// Waits until the cluster (outside namespace chaosdeck) is `want`; how long it took, or
/// None after `within`.
fn restored_within(w: &World, want: &str, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if outside_chaosdeck(w) == want {
            return Some(started.elapsed());
        }
        if started.elapsed() > within {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The pod the Job controller made for Job `name`.
async fn job_pod(w: &World, name: &str) -> Pod {
    let pods: Api<Pod> = Api::namespaced(w.client(), "chaosdeck");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = pods
            .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}")))
            .await
            .unwrap();
        if let Some(pod) = list.items.into_iter().next() {
            return pod;
        }
        assert!(Instant::now() < deadline, "the Job controller made no pod for {name}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `chaosdeck job --apply` of `config` as Job `name`, then that Job's pod run from the image;
/// returns the running container and its lines.
async fn apply_and_start(
    w: &World,
    name: &str,
    config: &Path,
) -> (support::world::Container, support::world::Lines) {
    apply(w, name, config);
    start(w, name).await
}

/// `chaosdeck job --apply`: the Job and its ConfigMap, and how to follow it.
fn apply(w: &World, name: &str, config: &Path) {
    let args = ["--apply", "--name", name, "--yes-i-mean-it", REAL_CONTEXT];
    let (code, out) = job(&args, config, w.kubeconfig());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("created ConfigMap chaosdeck/{name} and Job chaosdeck/{name}")),
        "{out}"
    );
    assert!(out.contains(&format!("chaosdeck attach --job chaosdeck/{name}")), "{out}");
}

/// What the kubelet would do with the Job's pod: its container, started.
async fn start(w: &World, name: &str) -> (support::world::Container, support::world::Lines) {
    let pod = job_pod(w, name).await;
    w.run_pod_in_image(&pod).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman, the image (scripts/image build) and the real control plane"]
async fn a_game_day_job_runs_in_the_cluster_and_its_killed_pod_is_undone_by_the_watchdog() {
    let w = World::new(Target::Real).await;
    w.steady();
    let before = outside_chaosdeck(&w);
    let runner = w.accounts().runner.clone();

    // 1. A whole game day: the pod's run changes the cluster and restores it itself.
    let config =
        w.config_dead_man("application_outages_scenarios", &["app_outage.yaml"], &runner, LEASE, 1);
    let (mut container, mut lines) = apply_and_start(&w, "gd-whole", &config).await;
    let code = container.wait(Duration::from_secs(120));
    let log = lines.rest();
    assert_eq!(code, Some(0), "the Job's run:\n{log}");
    assert!(log.contains("cluster: context in-cluster at https://localhost:"), "{log}");
    assert!(log.contains("dead man's switch: Lease"), "{log}");
    let restored = restored_within(&w, &before, Duration::from_secs(10));
    assert!(restored.is_some(), "the run did not restore the cluster:\n{log}\n{}", w.snapshot());

    // 2. The pod dies in its chaos window: the watchdog undoes what its mirrors say.
    let (_watchdog, _wl) = w.watchdog("wd-job", &[]);
    let config = w.config_dead_man(
        "application_outages_scenarios",
        &["long_outage.yaml"],
        &runner,
        LEASE,
        1,
    );
    let (container, mut lines) = apply_and_start(&w, "gd-killed", &config).await;
    assert!(lines.wait_for("outage in shop", Duration::from_secs(60)), "{}", lines.rest());
    assert_ne!(outside_chaosdeck(&w), before, "the outage is in the cluster");
    container.kill();
    let restored = restored_within(&w, &before, Duration::from_secs(LEASE + 2));
    eprintln!("Job pod killed: restored {restored:?} after the SIGKILL (bound {LEASE} s + 2 s)");
    assert!(restored.is_some(), "not restored within lease_duration + 2 s:\n{}", w.snapshot());
    w.shutdown().await;
}

/// A config the Job could not run unattended makes no object: the switch off, a bad
/// scenario file, a name that is no DNS label. A Job the API server refuses takes its
/// ConfigMap back out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real control plane (Go; scripts/realcluster)"]
async fn a_job_that_cannot_run_unattended_makes_nothing() {
    let w = World::new(Target::Real).await;
    // The namespace and ServiceAccount of deploy/rbac.yaml.
    w.accounts();
    let admin = w.kubeconfig().to_path_buf();
    let apply = ["--apply", "--yes-i-mean-it", REAL_CONTEXT];
    let no_switch = w.config("application_outages_scenarios", &["app_outage.yaml"], true, 0);
    let (code, out) = job(&apply, &no_switch, &admin);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("the dead man's switch is off"), "{out}");
    let good =
        w.config_dead_man("application_outages_scenarios", &["app_outage.yaml"], &admin, LEASE, 1);
    let (code, out) =
        job(&["--apply", "--name", "Bad_Name", "--yes-i-mean-it", REAL_CONTEXT], &good, &admin);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not a DNS label"), "{out}");
    // A Job the API server refuses (a ServiceAccount name that is no DNS subdomain).
    let (code, out) = job(
        &[
            "--apply",
            "--name",
            "gd-refused",
            "--service-account",
            "No_Such",
            "--yes-i-mean-it",
            REAL_CONTEXT,
        ],
        &good,
        &admin,
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("cannot create Job chaosdeck/gd-refused") && out.contains("removed again"),
        "{out}"
    );
    let cms: Api<ConfigMap> = Api::namespaced(w.client(), "chaosdeck");
    let jobs: Api<Job> = Api::namespaced(w.client(), "chaosdeck");
    let label = ListParams::default().labels("app.kubernetes.io/component=game-day");
    assert!(cms.list(&label).await.unwrap().items.is_empty(), "a ConfigMap was left");
    assert!(jobs.list(&label).await.unwrap().items.is_empty(), "a Job was left");
    // What it prints is what the API server accepts (server-side dry run, kubectl).
    let (code, printed) = {
        let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
            .args(["job", "--name", "gd-printed", "-c"])
            .arg(&good)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    assert_eq!(code, Some(0), "{printed}");
    let out = support::accounts::kubectl_on(
        Target::Real,
        &admin,
        &["create", "--dry-run=server", "-o", "name", "-f", "-"],
        Some(&printed),
    );
    let said = support::accounts::ok(out, "kubectl create --dry-run=server");
    assert_eq!(said.trim(), "configmap/gd-printed\njob.batch/gd-printed");
    w.shutdown().await;
}

/// `chaosdeck attach --job` in a real terminal (tmux) on a Job's run: it waits for the pod to
/// start the run, then in its chaos window the header says attached with the Lease, the run's
/// entry shows pending; `!` deletes the Job (whose pod the test then stops as a kubelet would:
/// SIGTERM) and undoes the entry as the run's author, retiring its mirror. No watchdog runs:
/// the restore is attach's (and the run's own). A Job that does not exist is said at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs tmux, podman, the image (scripts/image build) and the real control plane"]
async fn attach_follows_a_job_run_and_its_bang_stops_the_job_and_restores_the_cluster() {
    let w = World::new(Target::Real).await;
    w.steady();
    let before = outside_chaosdeck(&w);
    let runner = w.accounts().runner.clone();
    let admin = w.kubeconfig().to_path_buf();
    // A long lease: nothing but attach (and the run itself) undoes anything here.
    let config =
        w.config_dead_man("application_outages_scenarios", &["long_outage.yaml"], &runner, 30, 1);
    let attach_once = |job: &str, said: &str| {
        format!(
            "{} attach --job {job} --kubeconfig {} --dir {}; echo {said}=$?",
            assert_cmd::cargo::cargo_bin("chaosdeck").display(),
            admin.display(),
            w.dir.path().join("attached").display()
        )
    };
    let attach = |job: &str| format!("{}; sleep 120", attach_once(job, "EXIT"));
    let socket = format!("chaosdeck-attach-none-{}", std::process::id());
    let shell = format!("{}; {}; sleep 60", attach_once("gd-none", "A"), attach_once("a/b/c", "B"));
    let none = support::tmux::Tmux::start(socket, 120, 10, &shell, &[]);
    let screen = none.wait_for(&["A=2", "B=2"], Duration::from_secs(20));
    assert!(screen.contains("error: no Job chaosdeck/gd-none"), "{screen}");
    assert!(
        screen.contains("error: --job takes NAME or NAMESPACE/NAME, not \"a/b/c\""),
        "{screen}"
    );
    drop(none);

    // attach first: it waits for the Job's pod to start the run.
    apply(&w, "gd-attach", &config);
    let socket = format!("chaosdeck-attach-{}", std::process::id());
    let tmux = support::tmux::Tmux::start(
        socket,
        120,
        30,
        &attach("chaosdeck/gd-attach"),
        &[("NO_COLOR", "1")],
    );
    tmux.wait_for(
        &["waiting for Job chaosdeck/gd-attach to start its run"],
        Duration::from_secs(20),
    );
    let (container, mut lines) = start(&w, "gd-attach").await;
    assert!(lines.wait_for("outage in shop", Duration::from_secs(60)), "{}", lines.rest());
    assert_ne!(outside_chaosdeck(&w), before, "the outage is in the cluster");
    let screen = tmux.wait_for(&["attached", "1 pending"], Duration::from_secs(30));
    assert!(screen.contains("new entry (application_outages_scenarios"), "{screen}");
    // The run's progress, from its Lease (written with a renewal, at most a second after the
    // step): the Scenarios panel and the header say it runs.
    let leases: Api<Lease> = Api::namespaced(w.client(), "chaosdeck-system");
    let progress = || async {
        let lease = leases.list(&ListParams::default()).await.unwrap().items.pop()?;
        let text = lease.metadata.annotations?.remove("chaosdeck.io/progress")?;
        Some(chaosdeck::deadman::progress::Progress::decode(&text).unwrap())
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let progress = loop {
        match progress().await {
            Some(p)
                if p.scenarios.first().is_some_and(|s| s.step.starts_with("outage in shop")) =>
            {
                break p;
            }
            seen => assert!(Instant::now() < deadline, "no progress on the Lease: {seen:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(progress.state, "running", "{progress:?}");
    // The Job's config names the file as the ConfigMap mounts it.
    assert_eq!(progress.scenarios[0].file, "scenario-1-long_outage.yaml", "{progress:?}");
    let screen = tmux.wait_for(&["attached, running", "long_outage.yaml"], Duration::from_secs(10));
    assert!(screen.contains("run: scenario-1-long_outage.yaml running"), "{screen}");
    // The Health panel from the run's probes; the status bar keeps the Lease in sight.
    assert!(screen.contains("deploy shop/frontend 3/3 ready"), "{screen}");
    assert!(screen.contains("Lease held by chaosdeck pid 1 on gd-attach-"), "{screen}");
    tmux.keys("!");
    // The Job goes (its pod with it); the kubelet, here the test, then stops its container.
    let jobs: Api<Job> = Api::namespaced(w.client(), "chaosdeck");
    let deadline = Instant::now() + Duration::from_secs(20);
    while jobs.get_opt("gd-attach").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the Job was not deleted:\n{}", tmux.screen());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let restored = restored_within(&w, &before, Duration::from_secs(10));
    eprintln!("attach !: restored {restored:?} after the Job was gone");
    assert!(restored.is_some(), "not restored:\n{}\n{}", tmux.screen(), w.snapshot());
    container.stop(10);
    let screen = tmux.wait_for(&["0 pending"], Duration::from_secs(10));
    assert!(screen.contains("stopped Job chaosdeck/gd-attach"), "{screen}");
    // The run released its Lease on the way out: its row no longer says running.
    let screen = tmux.wait_for(&["the run ended: its Lease is released"], Duration::from_secs(10));
    assert!(!screen.contains("attached, running"), "{screen}");
    let cms: Api<ConfigMap> = Api::namespaced(w.client(), "chaosdeck-system");
    let mirrors =
        cms.list(&ListParams::default().labels("chaosdeck.io/mirror=entry")).await.unwrap();
    let names: Vec<_> = mirrors.items.iter().map(|m| m.metadata.name.clone()).collect();
    assert!(names.is_empty(), "mirrors left: {names:?}");
    tmux.keys("q");
    let _ = tmux.wait_for(&["EXIT=0"], Duration::from_secs(10));
    w.shutdown().await;
}

/// Whoever may update ConfigMaps in the Job's namespace must not get to change what the Job
/// runs with the ServiceAccount's rights: the game day's ConfigMap is immutable once applied,
/// so an edit (here: a scenario aimed at another namespace) is refused by the API server and
/// the Job's pod reads what the operator applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real control plane (Go; scripts/realcluster)"]
async fn a_game_days_configmap_cannot_be_edited_after_apply() {
    use kube::api::{Patch, PatchParams};
    let w = World::new(Target::Real).await;
    w.accounts();
    let admin = w.kubeconfig().to_path_buf();
    let config =
        w.config_dead_man("application_outages_scenarios", &["app_outage.yaml"], &admin, LEASE, 1);
    let (code, out) =
        job(&["--apply", "--name", "gd-pinned", "--yes-i-mean-it", REAL_CONTEXT], &config, &admin);
    assert_eq!(code, 0, "{out}");
    let cms: Api<ConfigMap> = Api::namespaced(w.client(), "chaosdeck");
    let applied = cms.get("gd-pinned").await.unwrap().data.unwrap();
    let key = "scenario-1-app_outage.yaml";
    let edit = serde_json::json!({"data": {key: "application_outage:\n  duration: 600\n  namespace: payments\n  pod_selector: {app: api}\n  block: [Ingress, Egress]\n"}});
    let refused = cms.patch("gd-pinned", &PatchParams::default(), &Patch::Merge(&edit)).await;
    let err = refused.expect_err("the game day's ConfigMap was edited after apply");
    assert!(err.to_string().contains("immutable"), "{err}");
    assert_eq!(cms.get("gd-pinned").await.unwrap().data.unwrap(), applied);
    w.shutdown().await;
}

/// Which run is a Job's (`attach --job`, and the Job `!` stops): a Lease whose holder names a
/// pod of the Job is that Job's run only if it was written as the identity the pod runs as. A
/// Lease another identity writes naming the Job's pod (allowed: the policy checks the author,
/// not the holder text) is not taken for it, either way round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real control plane (Go; scripts/realcluster)"]
async fn a_lease_naming_a_jobs_pod_is_its_run_only_as_the_pods_identity() {
    use chaosdeck::deadman::attached::{find_job_run, find_run, job_of};
    use kube::api::PostParams;
    use support::accounts::{account_kubeconfig, await_can_i, service_account_user};

    let w = World::new(Target::Real).await;
    w.steady();
    let runner = w.accounts().runner.clone();
    let config =
        w.config_dead_man("application_outages_scenarios", &["long_outage.yaml"], &runner, 30, 1);
    apply(&w, "gd-claimed", &config);
    // The Job controller's pod; no container is started: nothing here runs chaos.
    let pod = job_pod(&w, "gd-claimed").await.metadata.name.unwrap();
    let ns = "chaosdeck-system";
    let manifest = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: attackers}}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: mallory, namespace: attackers}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: mallory, namespace: {ns}}}\n\
         rules: [{{apiGroups: [coordination.k8s.io], resources: [leases], verbs: [create, get, list]}}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: mallory, namespace: {ns}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: mallory}}\n\
         subjects: [{{kind: ServiceAccount, name: mallory, namespace: attackers}}]\n"
    );
    let mallory = account_kubeconfig(&w, &manifest, "attackers", "mallory");
    await_can_i(&w, &mallory, "create", "leases.coordination.k8s.io", ns, true);
    // A run's Lease as `kubeconfig` writes it, its author itself (the policy requires that),
    // held by "chaosdeck pid 1 on <the Job's pod>".
    let lease_as = |kubeconfig: std::path::PathBuf, run: &'static str, author: String| {
        let pod = pod.clone();
        async move {
            let groups = format!(
                "system:serviceaccounts,system:serviceaccounts:{},system:authenticated",
                author.split(':').nth(2).unwrap_or_default()
            );
            let lease: Lease = serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("chaosdeck-run-{run}"),
                    "annotations": {"chaosdeck.io/author": author,
                        "chaosdeck.io/author-groups": groups}},
                "spec": {"holderIdentity": format!("chaosdeck pid 1 on {pod}"),
                    "leaseDurationSeconds": 30}}))
            .unwrap();
            let leases: Api<Lease> =
                Api::namespaced(support::cluster::client_for(&kubeconfig).await, ns);
            leases.create(&PostParams::default(), &lease).await.unwrap();
        }
    };
    let admin = w.client();
    let selector = "app.kubernetes.io/component=game-day";
    let job = ("chaosdeck", "gd-claimed");

    lease_as(mallory, "mallory-run", service_account_user("attackers", "mallory")).await;
    let found = find_job_run(&admin, ns, job, selector).await.unwrap();
    assert!(
        found.is_none(),
        "mallory's Lease taken for the Job's run: {:?}",
        found.map(|r| r.run_uuid)
    );
    let forged = find_run(&admin, ns, Some("mallory-run")).await.unwrap();
    let why = job_of(&admin, &forged, selector).await.unwrap_err();
    assert!(
        why.contains("runs as system:serviceaccount:chaosdeck:chaosdeck, not as the run's author"),
        "{why}"
    );

    // The same holder written as the pod's own identity is the Job's run, both ways round.
    lease_as(runner, "runner-run", service_account_user("chaosdeck", "chaosdeck")).await;
    let run = find_job_run(&admin, ns, job, selector).await.unwrap().expect("the runner's run");
    assert_eq!(run.run_uuid, "runner-run");
    let stops = job_of(&admin, &run, selector).await.unwrap();
    assert_eq!(stops, ("chaosdeck".to_string(), "gd-claimed".to_string()));
    w.shutdown().await;
}
