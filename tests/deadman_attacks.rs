//! The dead man's switch attacked by identities that may write in chaosdeck-system but
//! nowhere else: `mallory` may only create, get and list ConfigMaps and Leases there; `eve`
//! holds the operator Role (deploy/watchdog.yaml's chaosdeck-dead-man-switch). Nothing they
//! write may make the watchdog act with rights they do not have, leak a value they cannot
//! read, forge an outcome the operator believes, or end another run's protection.
//!
//! Each test ends with the cluster outside chaosdeck-system as it was, the secret that only
//! the admin may read in no annotation, Event or log line, and a line saying what was refused.
//! Where the shipped policies refuse the attacker's write outright, a second round removes the
//! policies (as an admin could) to show what the run, the watchdog and reconcile do on their own.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chaosdeck::journal::mirror_link;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Service};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::accounts::{account_kubeconfig, await_can_i, kubectl_on, ok, service_account_user};
use support::cluster::{Target, client_for};
use support::world::{Lines, World, wait_exit};

const NS: &str = "chaosdeck-system";
const LEASE: u64 = 3;
const RENEW: u64 = 1;

/// The attackers' accounts. `mallory`'s Role is the grant of the report: ConfigMaps and
/// Leases in chaosdeck-system, create/get/list only. `eve` is a second operator.
fn attackers_manifest() -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: attackers}}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: mallory, namespace: attackers}}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: eve, namespace: attackers}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: mallory, namespace: {NS}}}\n\
         rules:\n- apiGroups: [\"\", coordination.k8s.io]\n  resources: [configmaps, leases]\n  verbs: [create, get, list]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: mallory, namespace: {NS}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: mallory}}\n\
         subjects: [{{kind: ServiceAccount, name: mallory, namespace: attackers}}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: eve, namespace: {NS}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: chaosdeck-dead-man-switch}}\n\
         subjects: [{{kind: ServiceAccount, name: eve, namespace: attackers}}]\n"
    )
}

struct Field {
    w: World,
    runner: PathBuf,
    watchdog: PathBuf,
    mallory: PathBuf,
    eve: PathBuf,
    /// The value of kube-system/db-credentials and of Service shop/vault's selector, readable
    /// by the admin only.
    secret: String,
    /// This cluster's kube-system uid, which forged entries name (as an attacker who knows it).
    cluster_uid: String,
}

impl Field {
    async fn new(target: Target) -> Field {
        let w = World::new(target).await;
        let (runner, watchdog) = (w.accounts().runner.clone(), w.accounts().watchdog.clone());
        let manifest = attackers_manifest();
        let mallory = account_kubeconfig(&w, &manifest, "attackers", "mallory");
        let eve = account_kubeconfig(&w, &manifest, "attackers", "eve");
        await_can_i(&w, &mallory, "create", "configmaps", NS, true);
        await_can_i(&w, &mallory, "create", "pods", "kube-system", false);
        await_can_i(&w, &eve, "patch", "configmaps", NS, true);
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(w.client());
        let cluster_uid = namespaces.get("kube-system").await.unwrap().metadata.uid.unwrap();
        let secret = format!("s3cret-{}", uuid::Uuid::new_v4().simple());
        let admin: Api<ConfigMap> = Api::namespaced(w.client(), "kube-system");
        let cm = serde_json::from_value(json!({"metadata": {"name": "db-credentials"},
            "data": {"password": secret}}))
        .unwrap();
        admin.create(&PostParams::default(), &cm).await.unwrap();
        let services: Api<Service> = Api::namespaced(w.client(), "shop");
        let vault = serde_json::from_value(json!({"metadata": {"name": "vault"},
            "spec": {"selector": {"app": secret}, "ports": [{"port": 80}]}}))
        .unwrap();
        services.create(&PostParams::default(), &vault).await.unwrap();
        Field { w, runner, watchdog, mallory, eve, secret, cluster_uid }
    }

    fn target(&self) -> Target {
        self.w.cluster.target
    }

    /// What the attacks aim at, beyond the snapshot: the Service's external IPs, the Node's
    /// labels, the secret's value.
    async fn aimed_at(&self) -> String {
        let services: Api<Service> = Api::namespaced(self.w.client(), "shop");
        let frontend = services.get("frontend").await.unwrap();
        let nodes: Api<Node> = Api::all(self.w.client());
        let worker = nodes.get("sandbox-worker-1").await.unwrap();
        let secrets: Api<ConfigMap> = Api::namespaced(self.w.client(), "kube-system");
        let creds = secrets.get("db-credentials").await.unwrap();
        format!(
            "service {}\nnode labels {}\ncredentials {}",
            serde_json::to_string(&frontend.spec.and_then(|s| s.external_ips)).unwrap(),
            serde_json::to_string(&worker.metadata.labels).unwrap(),
            serde_json::to_string(&creds.data).unwrap(),
        )
    }

    /// Every annotation and label in chaosdeck-system, and every Event.
    async fn readable_by_attackers(&self) -> String {
        let mut out = String::new();
        let cms: Api<ConfigMap> = Api::namespaced(self.w.client(), NS);
        for cm in cms.list(&ListParams::default()).await.unwrap() {
            out.push_str(&serde_json::to_string(&cm.metadata.annotations).unwrap());
            out.push_str(&serde_json::to_string(&cm.metadata.labels).unwrap());
        }
        let leases: Api<Lease> = Api::namespaced(self.w.client(), NS);
        for l in leases.list(&ListParams::default()).await.unwrap() {
            out.push_str(&serde_json::to_string(&l.metadata.annotations).unwrap());
        }
        let events: Api<Event> = Api::all(self.w.client());
        for e in events.list(&ListParams::default()).await.unwrap() {
            out.push_str(e.message.as_deref().unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// Nothing outside chaosdeck-system changed, and the secret reached nothing the attackers
    /// (or another operator) can read.
    async fn assert_unharmed(&self, before: &str, aimed: &str, log: &str) {
        assert_eq!(self.w.snapshot(), before, "the cluster changed outside {NS}\n{log}");
        assert_eq!(self.aimed_at().await, aimed, "an attacked object changed\n{log}");
        let readable = self.readable_by_attackers().await;
        assert!(!readable.contains(&self.secret), "the secret leaked into {NS}:\n{readable}");
        assert!(!log.contains(&self.secret), "the secret leaked into a log:\n{log}");
    }

    /// Turns deploy/watchdog.yaml's policies off or on (an admin deleting or applying their
    /// bindings), and waits until the API server answers accordingly.
    async fn switch_policies(&self, on: bool) {
        match self.target() {
            Target::Sandbox => {
                self.w.cluster.sandbox().unwrap().enforce_switch_policy(on);
            }
            Target::Real => {
                let admin = self.w.kubeconfig();
                let bindings = [
                    "validatingadmissionpolicybinding/chaosdeck-dead-man-switch-mirrors",
                    "validatingadmissionpolicybinding/chaosdeck-dead-man-switch-leases",
                ];
                if on {
                    let manifest = support::accounts::watchdog_manifest();
                    ok(
                        kubectl_on(Target::Real, admin, &["apply", "-f", "-"], Some(&manifest)),
                        "apply",
                    );
                } else {
                    let mut args = vec!["delete"];
                    args.extend(bindings);
                    ok(kubectl_on(Target::Real, admin, &args, None), "delete bindings");
                }
            }
        }
        let ops = chaosdeck::cluster::ClusterOps::new(client_for(&self.runner).await);
        let deadline = Instant::now() + Duration::from_secs(20);
        // Each policy takes effect on its own: wait until both are as asked.
        loop {
            let mirrors = mirror_link::policy_enforced(&ops, NS).await.is_ok();
            let leases = mirror_link::lease_policy_enforced(&ops, NS).await.is_ok();
            if mirrors == on && leases == on {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the policies never became {on}: mirrors {mirrors}, leases {leases}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// One undo action per forged entry, each aimed at something the attacker may not touch.
fn attack_actions() -> Vec<(&'static str, Value)> {
    vec![
        (
            "privileged-pod",
            json!({"action": "create", "object": {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "evil", "namespace": "kube-system"},
                "spec": {"serviceAccountName": "clusterrole-aggregation-controller",
                    "hostPID": true, "hostNetwork": true,
                    "containers": [{"name": "c", "image": "busybox",
                        "securityContext": {"privileged": true},
                        "volumeMounts": [{"name": "host", "mountPath": "/host"}]}],
                    "volumes": [{"name": "host", "hostPath": {"path": "/"}}]}}}),
        ),
        (
            "service",
            json!({"action": "patch",
                "target": {"api_version": "v1", "kind": "Service", "namespace": "shop", "name": "frontend"},
                "restore": {"spec": {"selector": {"app": "evil"}, "externalIPs": ["203.0.113.7"]}},
                "guard": {}}),
        ),
        (
            "node",
            json!({"action": "patch",
                "target": {"api_version": "v1", "kind": "Node", "name": "sandbox-worker-1"},
                "restore": {"metadata": {"labels": {"attacked": "yes"}}},
                "guard": {}}),
        ),
        (
            "oracle",
            json!({"action": "patch",
                "target": {"api_version": "v1", "kind": "ConfigMap", "namespace": "kube-system", "name": "db-credentials"},
                "restore": {"data": {"password": "overwritten"}},
                "guard": {"data": {"password": "x"}}}),
        ),
        (
            // An undo chaosdeck could write, so it passes every check but the author's
            // rights: its guard read is what would leak the selector.
            "selector-oracle",
            json!({"action": "patch",
                "target": {"api_version": "v1", "kind": "Service", "namespace": "shop", "name": "vault"},
                "restore": {"spec": {"selector": {"app": "overwritten"}}},
                "guard": {"spec": {"selector": {"app": "x"}}}}),
        ),
        (
            "deployment",
            json!({"action": "delete",
                "target": {"api_version": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "frontend"}}),
        ),
    ]
}

/// A mirror as chaosdeck writes one, with `author` claimed, for `run`: one ConfigMap per
/// action. The entries name this cluster (its kube-system uid, as an attacker who knows it
/// would). Returns what the API server answered for each (the shipped policies refuse some).
async fn forge_mirrors(
    f: &Field,
    as_who: &Path,
    run: &str,
    author: &str,
    actions: &[(&'static str, Value)],
) -> Vec<Result<String, String>> {
    let api: Api<ConfigMap> = Api::namespaced(client_for(as_who).await, NS);
    let uid = &f.cluster_uid;
    let mut out = Vec::new();
    for (i, (what, action)) in actions.iter().enumerate() {
        let ts = 1_800_000_000_000_000_000u64 + i as u64;
        let name = format!("chaosdeck-{ts}-{what}-{}", &run[run.len() - 4..]);
        // A valid entry file name (it names the attack; eight letters for the suffix), so
        // only the author can tell these from the run's own.
        let entry = json!({
            "format": 1, "run_uuid": run, "scenario_type": "application_outages_scenarios",
            "step": format!("forged {what}"), "created_at": "2026-12-06T00:00:00Z",
            "writer": {"pid": 1, "host": "nowhere"},
            "cluster": {"context": "anything", "server": "https://anywhere", "kube_system_uid": uid},
            "mirror": {"namespace": NS, "name": name},
            "undo": [action],
        });
        let text = serde_saphyr::to_string(&entry).unwrap();
        let groups = format!(
            "system:serviceaccounts,system:serviceaccounts:{},system:authenticated",
            author.split(':').nth(2).unwrap_or_default()
        );
        let cm = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": NS,
                "labels": {"app.kubernetes.io/managed-by": "chaosdeck", "chaosdeck.io/mirror": "entry",
                           "chaosdeck.io/run-uuid": run, "chaosdeck.io/state": "pending"},
                "annotations": {"chaosdeck.io/mirror-format": "1",
                                "chaosdeck.io/file": format!("1-{run}/{what}_{ts}_forgedxx.yaml"),
                                "chaosdeck.io/author": author,
                                "chaosdeck.io/author-groups": groups}},
            "data": {"entry.yaml": text}}))
        .unwrap();
        out.push(match api.create(&PostParams::default(), &cm).await {
            Ok(_) => Ok(name),
            Err(e) => Err(format!("{name}: {e}")),
        });
    }
    out
}

/// A Lease as a run's, expiring at once, its author claimed.
async fn forge_lease(as_who: &Path, run: &str, author: &str) -> Result<(), String> {
    let api: Api<Lease> = Api::namespaced(client_for(as_who).await, NS);
    let groups = format!(
        "system:serviceaccounts,system:serviceaccounts:{},system:authenticated",
        author.split(':').nth(2).unwrap_or_default()
    );
    let lease = serde_json::from_value(json!({
        "metadata": {"name": format!("chaosdeck-run-{run}"),
            "labels": {"app.kubernetes.io/managed-by": "chaosdeck", "chaosdeck.io/run-uuid": run},
            "annotations": {"chaosdeck.io/author": author, "chaosdeck.io/author-groups": groups}},
        "spec": {"holderIdentity": "forged", "leaseDurationSeconds": 1}}))
    .unwrap();
    api.create(&PostParams::default(), &lease).await.map(|_| ()).map_err(|e| e.to_string())
}

/// Every write the policies refused names them; the count of refusals.
fn refused_by_policy(results: &[Result<String, String>]) -> usize {
    results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .inspect(|e| {
            assert!(e.contains("chaosdeck-dead-man-switch"), "refused, not by the policy: {e}")
        })
        .count()
}

/// A run whose Lease someone else changed: it says so (never "the watchdog is undoing", never
/// read-only), rolls every change back itself and exits 1.
async fn rolled_itself_back(
    f: &Field,
    before: &str,
    child: &mut support::world::Running,
    lines: &mut Lines,
) {
    assert!(
        lines.wait_for("by someone other than this run and the watchdog", Duration::from_secs(10)),
        "{}",
        lines.rest()
    );
    let code = wait_exit(child, Duration::from_secs(60));
    let log = lines.rest();
    assert_eq!(code, Some(1), "{log}");
    assert!(!log.contains("the watchdog is undoing"), "{log}");
    assert!(!log.contains("READ-ONLY"), "{log}");
    assert_eq!(f.w.settle(before), before, "the run did not roll itself back:\n{log}");
    assert_eq!(f.w.outstanding(), 0, "{log}");
}

crate::on_both_targets! {
    /// mallory writes a run's Lease and its mirrors, claiming first to be the operator (to
    /// borrow its rights: refused at admission), then herself: the watchdog acts as mallory,
    /// refuses every undo that is not the inverse of a chaos change, and answers the guard
    /// oracle with a path, never the value.
    async fn a_forged_run_borrows_no_rights(target) {
        let f = Field::new(target).await;
        let before = f.w.steady();
        let aimed = f.aimed_at().await;
        let (_wd, mut lines) = f.w.watchdog_as("wd-1", &f.watchdog, &[]);
        let runner = service_account_user("chaosdeck", "chaosdeck");
        let mallory = service_account_user("attackers", "mallory");

        let borrowed = "0bad0bad-0000-4000-8000-00000000000a";
        let lease = forge_lease(&f.mallory, borrowed, &runner).await;
        let mut results = forge_mirrors(&f, &f.mallory, borrowed, &runner, &attack_actions()).await;
        results.push(lease.map(|_| String::new()));
        assert_eq!(refused_by_policy(&results), results.len(), "a write in the runner's name got through");

        let own = "0bad0bad-0000-4000-8000-00000000000b";
        // Mirrors first: a Lease found expired with no mirror is removed by the watchdog.
        let created = forge_mirrors(&f, &f.mallory, own, &mallory, &attack_actions()).await;
        assert!(created.iter().all(Result::is_ok), "{created:?}");
        forge_lease(&f.mallory, own, &mallory).await.unwrap();
        assert!(
            lines.wait_for("selector-oracle", Duration::from_secs(20)),
            "the watchdog never got to the admissible one:\n{}",
            lines.rest()
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        let log = lines.rest();
        f.assert_unharmed(&before, &aimed, &log).await;
        for refused in ["privileged-pod", "service", "node", "oracle", "deployment"] {
            let line = log.lines().find(|l| l.contains(refused) && l.contains("refused"));
            assert!(line.is_some(), "no line says why {refused} was refused:\n{log}");
        }
        assert!(log.contains("protected namespace kube-system"), "{log}");
        assert!(log.contains("has no guard"), "{log}");
        assert!(log.contains("no scenario makes"), "{log}");
        // The one undo chaosdeck could have written is sent, as mallory: on the real control
        // plane she may not read the Service (403); the sandbox has no authorization, and its
        // guard fails naming only the path.
        assert!(log.contains(&format!("as {mallory}")), "{log}");
        let vault: Api<Service> = Api::namespaced(f.w.client(), "shop");
        let selector = vault.get("vault").await.unwrap().spec.unwrap().selector.unwrap();
        assert_eq!(selector.get("app"), Some(&f.secret), "the vault's selector was overwritten");
        f.w.shutdown().await;
    }

    /// A run is killed and undone by the watchdog (its Lease stays taken over while its
    /// mirrors are there); mallory then adds ConfigMaps to that run, in the runner's name
    /// (refused at admission) and in her own (refused: not the run's author). Nothing follows.
    async fn a_configmap_alone_attached_to_a_taken_over_run_borrows_no_rights(target) {
        let f = Field::new(target).await;
        let before = f.w.steady();
        let aimed = f.aimed_at().await;
        let (_wd, mut lines) = f.w.watchdog_as("wd-1", &f.watchdog, &[]);
        let cfg = f.w.config_dead_man("application_outages_scenarios", &["app_outage.yaml"], &f.runner, LEASE, RENEW);
        let log = f.w.run_and_kill_after_change(&cfg, 1);
        assert!(log.contains("dead man's switch: Lease"), "switch not armed:\n{log}");
        let run = f.w.tree().contexts[0].name.run_uuid.clone();
        assert_eq!(f.w.settle(&before), before, "the watchdog did not undo the killed run");
        assert!(lines.wait_for("undone ", Duration::from_secs(20)), "{}", lines.rest());
        let runner = service_account_user("chaosdeck", "chaosdeck");
        let mallory = service_account_user("attackers", "mallory");
        let borrowed = forge_mirrors(&f, &f.mallory, &run, &runner, &attack_actions()[..2]).await;
        assert_eq!(refused_by_policy(&borrowed), 2);
        let own = forge_mirrors(&f, &f.mallory, &run, &mallory, &attack_actions()[2..]).await;
        assert!(own.iter().all(Result::is_ok), "{own:?}");
        assert!(lines.wait_for("but its run's Lease was armed by", Duration::from_secs(20)), "{}", lines.rest());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let log = lines.rest();
        f.assert_unharmed(&before, &aimed, &log).await;
        f.w.shutdown().await;
    }

    /// eve (a second operator) marks a live run's Lease taken over. With the shipped policies
    /// that is refused and the run goes on; without them the run sees it, says so — never
    /// "the watchdog is undoing" — and rolls itself back, and the watchdog does not act.
    async fn a_taken_over_mark_from_another_operator_undoes_nothing(target) {
        let f = Field::new(target).await;
        let before = f.w.steady();
        let (_wd, mut wd_lines) = f.w.watchdog_as("wd-1", &f.watchdog, &[]);
        let cfg = f.w.config_dead_man("application_outages_scenarios", &["long_outage.yaml"], &f.runner, LEASE, RENEW);
        let mut child = f.w.run(&cfg, None);
        let mut lines = Lines::of(&mut child);
        assert!(lines.wait_for("outage in shop", Duration::from_secs(60)), "{}", lines.rest());
        let chaos = f.w.changed_from(&before);
        assert_ne!(chaos, before);
        let run = f.w.tree().contexts[0].name.run_uuid.clone();
        let leases: Api<Lease> = Api::namespaced(client_for(&f.eve).await, NS);
        let name = format!("chaosdeck-run-{run}");
        // The operator Role may update Leases (renewals), not patch them.
        let mark = || async {
            let mut lease = leases.get(&name).await.unwrap();
            lease.metadata.annotations.get_or_insert_with(Default::default)
                .insert("chaosdeck.io/taken-over".into(), "wd-1 now".into());
            leases.replace(&name, &PostParams::default(), &lease).await
        };
        let refused = mark().await.unwrap_err().to_string();
        assert!(refused.contains("chaosdeck-dead-man-switch"), "{refused}");
        tokio::time::sleep(Duration::from_secs(LEASE + 1)).await;
        assert_eq!(f.w.snapshot(), chaos, "the run's chaos was undone behind its back");
        assert!(!lines.rest().contains("READ-ONLY"), "the run lost its Lease");

        f.switch_policies(false).await;
        mark().await.expect("accepted without the policies");
        rolled_itself_back(&f, &before, &mut child, &mut lines).await;
        let wd_log = wd_lines.rest();
        assert!(!wd_log.contains("undone "), "the watchdog acted on a live run:\n{wd_log}");
        f.w.shutdown().await;
    }

    /// eve deletes a live run's Lease: refused by the policies; without them the run sees it,
    /// says so and rolls itself back — never a run left read-only with its chaos in place.
    async fn a_lease_deleted_by_another_operator_leaves_no_chaos(target) {
        let f = Field::new(target).await;
        let before = f.w.steady();
        let (_wd, _wd_lines) = f.w.watchdog_as("wd-1", &f.watchdog, &[]);
        let cfg = f.w.config_dead_man("application_outages_scenarios", &["long_outage.yaml"], &f.runner, LEASE, RENEW);
        let mut child = f.w.run(&cfg, None);
        let mut lines = Lines::of(&mut child);
        assert!(lines.wait_for("outage in shop", Duration::from_secs(60)), "{}", lines.rest());
        let chaos = f.w.changed_from(&before);
        let run = f.w.tree().contexts[0].name.run_uuid.clone();
        let leases: Api<Lease> = Api::namespaced(client_for(&f.eve).await, NS);
        let name = format!("chaosdeck-run-{run}");
        let refused = leases.delete(&name, &Default::default()).await.unwrap_err().to_string();
        assert!(refused.contains("only its author"), "{refused}");
        tokio::time::sleep(Duration::from_secs(LEASE + 1)).await;
        assert_eq!(f.w.snapshot(), chaos);
        assert!(!lines.rest().contains("READ-ONLY"));

        f.switch_policies(false).await;
        leases.delete(&name, &Default::default()).await.expect("accepted without the policies");
        rolled_itself_back(&f, &before, &mut child, &mut lines).await;
        f.w.shutdown().await;
    }

    /// A killed run's mirror is marked "undone by wd-1" by eve, though nothing was undone
    /// (no watchdog runs): refused by the policies; without them accepted, and then neither
    /// reconcile nor execute-rollback believes it: the entry stays pending and the real
    /// mirror stays until execute-rollback really undoes the change.
    async fn a_forged_undone_mark_retires_nothing(target) {
        let f = Field::new(target).await;
        let before = f.w.steady();
        let cfg = f.w.config_dead_man("application_outages_scenarios", &["app_outage.yaml"], &f.runner, LEASE, RENEW);
        f.w.run_and_kill_after_change(&cfg, 1);
        let chaos = f.w.changed_from(&before);
        assert_eq!(f.w.outstanding(), 1);
        let cms: Api<ConfigMap> = Api::namespaced(client_for(&f.eve).await, NS);
        let list = |cms: Api<ConfigMap>| async move {
            cms.list(&ListParams::default().labels("chaosdeck.io/mirror=entry")).await.unwrap().items
        };
        let name = list(cms.clone()).await.remove(0).metadata.name.unwrap();
        let forged = Patch::Merge(json!({
            "metadata": {"labels": {"chaosdeck.io/state": "executed"},
                "annotations": {"chaosdeck.io/undone-by": "wd-1", "chaosdeck.io/undone-at": "2026-12-06T00:00:00Z",
                                "chaosdeck.io/outcome": "undone"}}}));
        let params = PatchParams::default();
        let forge = || cms.patch(&name, &params, &forged);
        let refused = forge().await.unwrap_err().to_string();
        assert!(refused.contains("chaosdeck-dead-man-switch"), "{refused}");

        f.switch_policies(false).await;
        forge().await.expect("accepted without the policies");
        let (_, out) = f.w.reconcile_as(&f.runner);
        let (_, out2) = f.w.reconcile_as(&f.runner);
        assert!(out.contains("not trusted"), "reconcile did not say why it did nothing:\n{out}");
        assert_eq!(f.w.outstanding(), 1, "a forged record retired the entry:\n{out}\n{out2}");
        assert_eq!(f.w.snapshot(), chaos, "{out}");
        assert_eq!(list(cms.clone()).await.len(), 1, "reconcile removed the real mirror:\n{out}\n{out2}");
        let (code, out) = f.w.execute_rollback_as(&f.runner);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("cannot be believed here"), "{out}");
        assert_eq!(f.w.outstanding(), 0, "{out}");
        assert_eq!(f.w.settle(&before), before, "{out}");
        f.w.shutdown().await;
    }

    /// 200 mirror-labelled ConfigMaps of 900 KiB, with an expired Lease: refused at admission
    /// by the policies; without them stored, and the watchdog stays small (it watches mirrors'
    /// metadata, not their data) and does nothing.
    async fn a_flood_of_oversized_mirrors_keeps_the_watchdog_small(target) {
        let f = Field::new(target).await;
        let (wd, mut lines) = f.w.watchdog_as("wd-1", &f.watchdog, &[]);
        let api: Api<ConfigMap> = Api::namespaced(client_for(&f.mallory).await, NS);
        let mallory = service_account_user("attackers", "mallory");
        let run = "0bad0bad-0000-4000-8000-00000000f100";
        let filler = "y".repeat(900 * 1024);
        let flood = |range: std::ops::Range<u64>| {
            let (api, filler, mallory) = (api.clone(), filler.clone(), mallory.clone());
            async move {
                let mut refused = Vec::new();
                for i in range {
                    let name = format!("chaosdeck-{}-flood", 1_800_000_000_000_000_000u64 + i);
                    let cm = serde_json::from_value(json!({
                        "metadata": {"name": name,
                            "labels": {"app.kubernetes.io/managed-by": "chaosdeck", "chaosdeck.io/mirror": "entry",
                                       "chaosdeck.io/run-uuid": run, "chaosdeck.io/state": "pending"},
                            "annotations": {"chaosdeck.io/mirror-format": "1", "chaosdeck.io/author": mallory,
                                            "chaosdeck.io/author-groups": "system:serviceaccounts,system:serviceaccounts:attackers,system:authenticated"}},
                        "data": {"entry.yaml": format!("# {filler}\nformat: 1\n")}}))
                    .unwrap();
                    if let Err(e) = api.create(&PostParams::default(), &cm).await {
                        refused.push(e.to_string());
                    }
                }
                refused
            }
        };
        let refused = flood(0..3).await;
        assert_eq!(refused.len(), 3, "oversized mirrors got through the policies");
        assert!(refused[0].contains("at most 256 KiB"), "{}", refused[0]);

        f.switch_policies(false).await;
        let started = Instant::now();
        let refused = flood(0..200).await;
        eprintln!("flood without the policies: {} of 200 refused, {:?}", refused.len(), started.elapsed());
        assert!(refused.is_empty(), "{refused:?}");
        // The run's Lease last, expiring at once: the watchdog would remove a Lease it finds
        // expired with no mirror, so the mirrors come first.
        forge_lease(&f.mallory, run, &mallory).await.unwrap();
        // The watchdog refuses the run (it cannot tell who wrote its mirrors), then is measured.
        let refused_in_time = lines.wait_for("NOT ACTING", Duration::from_secs(20));
        tokio::time::sleep(Duration::from_secs(5)).await;
        let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", wd.id())).unwrap()
            .lines().find_map(|l| l.strip_prefix("VmRSS:")?.trim().strip_suffix(" kB")?.trim().parse::<u64>().ok())
            .unwrap();
        eprintln!("watchdog resident after the flood: {} MiB", rss_kib / 1024);
        let log = lines.rest();
        assert!(rss_kib < 64 * 1024, "the watchdog holds {} MiB:\n{log}", rss_kib / 1024);
        assert!(refused_in_time, "{log}");
        f.w.shutdown().await;
    }
}

crate::on_both_targets! {
    /// `chaosdeck attach` copies a run's mirrors into a journal it then undoes as the run's
    /// author. mallory adds mirrors in her own name to a killed run whose entry is still
    /// pending: they are not copied (each named once), so nothing of hers is undone with the
    /// runner's rights; the run's own entry is, and the cluster is as it was.
    async fn attach_copies_no_mirror_another_identity_added_to_a_run(target) {
        use chaosdeck::deadman::attached::{Attached, find_run};
        let f = Field::new(target).await;
        let before = f.w.steady();
        let aimed = f.aimed_at().await;
        // A long lease and no watchdog: the killed run's entry stays pending.
        let cfg = f.w.config_dead_man("application_outages_scenarios", &["long_outage.yaml"], &f.runner, 60, RENEW);
        let log = f.w.run_and_kill_after_change(&cfg, 1);
        assert!(log.contains("dead man's switch: Lease"), "switch not armed:\n{log}");
        let run = f.w.tree().contexts[0].name.run_uuid.clone();
        let mallory = service_account_user("attackers", "mallory");
        let own = forge_mirrors(&f, &f.mallory, &run, &mallory, &attack_actions()[2..]).await;
        assert!(own.iter().all(Result::is_ok), "{own:?}");

        let leased = find_run(&f.w.client(), NS, Some(&run)).await.unwrap();
        assert_eq!(leased.author.username, service_account_user("chaosdeck", "chaosdeck"));
        let dir = f.w.dir.path().join("attached");
        let mut attached = Attached::new(leased, f.w.client(), NS, dir.clone()).unwrap();
        let said = attached.sync().await.unwrap().join("\n");
        assert_eq!(said.matches(&format!("written by {mallory}, not by the run's author")).count(), 4, "{said}");
        assert_eq!(said.matches("new entry (").count(), 1, "{said}");
        // Said once: a second round repeats nothing.
        let again = attached.sync().await.unwrap();
        assert!(again.is_empty(), "{again:?}");
        // What attach's `!` runs: the rollback service on the copy, as the author.
        let (code, text) = execute_rollback_in(&dir, &f.runner);
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("1 executed, 0 failed"), "{text}");
        f.assert_unharmed(&before, &aimed, &format!("{said}\n{text}")).await;
        f.w.shutdown().await;
    }

    /// Without deploy/watchdog.yaml's policies the author annotations are whatever the writer
    /// put there: mallory makes a Lease and mirrors naming the runner as their author. attach
    /// would undo them with the runner's rights, so it refuses to open the run at all, and a
    /// session that was open when the policies went copies nothing more.
    async fn attach_trusts_no_author_where_the_policies_are_not_in_force(target) {
        use chaosdeck::deadman::attached::{Attached, find_run};
        let f = Field::new(target).await;
        let before = f.w.steady();
        let aimed = f.aimed_at().await;
        let runner = service_account_user("chaosdeck", "chaosdeck");
        let mallory = service_account_user("attackers", "mallory");
        // A real run, killed, so attach has something to open while the policies stand.
        let cfg = f.w.config_dead_man("application_outages_scenarios", &["long_outage.yaml"], &f.runner, 60, RENEW);
        f.w.run_and_kill_after_change(&cfg, 1);
        let real = f.w.tree().contexts[0].name.run_uuid.clone();
        let dir = f.w.dir.path().join("attached");
        let leased = find_run(&f.w.client(), NS, Some(&real)).await.unwrap();
        let mut attached = Attached::new(leased, f.w.client(), NS, dir.clone()).unwrap();
        let said = attached.sync().await.unwrap().join("\n");
        assert_eq!(said.matches("new entry (").count(), 1, "{said}");

        f.switch_policies(false).await;
        let forged = "0bad0bad-0000-4000-8000-0000000a77ac";
        forge_lease(&f.mallory, forged, &runner).await.expect("accepted without the policies");
        let made = forge_mirrors(&f, &f.mallory, forged, &runner, &attack_actions()[1..3]).await;
        assert!(made.iter().all(Result::is_ok), "{made:?}");
        let refused = find_run(&f.w.client(), NS, Some(forged)).await.map(|r| r.author.username);
        let why = refused.expect_err("attach opened a run whose author nobody checked");
        assert!(why.contains("policies are not in force"), "{why}");
        // The open session: mallory's mirrors for the real run, in the runner's name.
        let into_real = forge_mirrors(&f, &f.mallory, &real, &runner, &attack_actions()[1..3]).await;
        assert!(into_real.iter().all(Result::is_ok), "{into_real:?}");
        let why = attached.sync().await.expect_err("copied mirrors whose author nobody checked");
        assert!(why.contains("policies are not in force"), "{why}");
        assert_eq!(pending_in(&dir), 1, "a forged mirror was copied for undo as the runner");
        // What was written while the policies were off keeps the names it claims (the
        // policies check writes, not what is stored): the admin removes it before turning
        // them back on. Then the session goes on, and its one real entry is undone.
        let admin: Api<ConfigMap> = Api::namespaced(f.w.client(), NS);
        for name in made.iter().chain(&into_real).flatten() {
            admin.delete(name, &Default::default()).await.unwrap();
        }
        let leases: Api<Lease> = Api::namespaced(f.w.client(), NS);
        leases.delete(&format!("chaosdeck-run-{forged}"), &Default::default()).await.unwrap();
        f.switch_policies(true).await;
        let said = attached.sync().await.unwrap().join("\n");
        assert_eq!(said.matches(&format!("written by {mallory}")).count(), 0, "{said}");
        assert_eq!(pending_in(&dir), 1, "{said}");
        let (code, out) = execute_rollback_in(&dir, &f.runner);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("1 executed, 0 failed"), "{out}");
        f.assert_unharmed(&before, &aimed, &format!("{why}\n{out}")).await;
        f.w.shutdown().await;
    }
}

/// `execute-rollback` on `dir` as `kubeconfig`'s identity: its exit code and output.
fn execute_rollback_in(dir: &Path, kubeconfig: &Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .args(["execute-rollback", "--dir"])
        .arg(dir)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Pending entry files under an attached run's journal (`<context>/<file>.yaml`).
fn pending_in(dir: &Path) -> usize {
    let files = std::fs::read_dir(dir).into_iter().flatten().flatten();
    let files = files.flat_map(|ctx| std::fs::read_dir(ctx.path()).into_iter().flatten().flatten());
    files.filter(|f| f.file_name().to_string_lossy().ends_with(".yaml")).count()
}
