//! Krkn's rollback directory in chaosdeck: the fixtures made by Krkn's own code and generated
//! variants are parsed as data, listed and shown with their decoded undo, and the Kubernetes
//! ones are executed against the sandbox (checked with kube-rs's typed API, not chaosdeck's
//! client), renamed `.py.executed` as Krkn does, or kept `.py` with a `.py.error` sidecar when
//! the undo fails. Each check runs over the project's own Krkn files (tests/data/krkn) and, as
//! an ignored test CI runs, over the files Krkn's own code made (../shared/fixtures).

mod support;

use std::path::{Path, PathBuf};

use chaosdeck::cluster::ClusterOps;
use chaosdeck::journal::krkn::payload::{encode_base64, python_json_dumps};
use chaosdeck::journal::scan::{EntryBody, EntryNode, JournalTree};
use chaosdeck::journal::{EntryState, scan};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use serde_json::{Value, json};
use support::cluster::{Seed, Target, TestCluster};

/// One Krkn rollback directory and what the tests expect of it: the project's own
/// (`tests/data/krkn/rollback`, written in Krkn's format) and, as an additional check CI runs,
/// the files Krkn's own code produced (`../shared/fixtures/krkn-rollback`).
struct Set {
    /// Where the directory is (tests work on copies).
    source: fn() -> PathBuf,
    run: &'static str,
    /// (context directory, file) of the entries the tests single out.
    netpol: (&'static str, &'static str),
    hog: (&'static str, &'static str),
    hijack: (&'static str, &'static str),
    pvc: (&'static str, &'static str),
    shutdown: (&'static str, &'static str),
    /// Every entry with its decoded summary; a `.executed` one is executed, the rest pending.
    entries: &'static [(&'static str, &'static str)],
    contexts: usize,
    /// The Kubernetes objects the set's files name, as Krkn's scenarios left them.
    netpol_object: (&'static str, &'static str),
    hog_pod: (&'static str, &'static str),
    /// (namespace, service, hijack pod, original selector).
    hijacked: (&'static str, &'static str, &'static str, fn() -> Value),
    /// Attacker pods named by the set's own SYN flood / HTTP load files: (ctx, file, ns, pods).
    attackers: &'static [(&'static str, &'static str, &'static str, &'static [&'static str])],
    /// Entries that need a cloud (never executed here).
    not_executable: usize,
    /// Krkn's privileged pod of the set's `rollback_throttle` file, if it has one: (namespace,
    /// pod). The lift runs on its node.
    throttle_pod: Option<(&'static str, &'static str)>,
    /// What the PVC entry's undo does (chaosdeck runs it through exec), and the kubectl command
    /// for it.
    pvc_removal: (&'static str, &'static str),
}

const OURS: Set = Set {
    source: || support::krkn_data().join("rollback"),
    run: "5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5",
    netpol: (
        "1796041200912355101-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5",
        "application_outages_scenarios_1796041200284719033_qzkwtmvb.py",
    ),
    hog: (
        "1796041201130427764-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5",
        "hog_scenarios_1796041200284719033_qzkwtmvb.py",
    ),
    hijack: (
        "1796041204407731852-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5",
        "service_hijacking_scenarios_1796041200284719033_qzkwtmvb.py",
    ),
    pvc: (
        "1796041207790014317-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5",
        "pvc_scenarios_1796041200284719033_qzkwtmvb.py",
    ),
    shutdown: (
        "1796041208033579912-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5",
        "cluster_shut_down_scenarios_1796041200284719033_qzkwtmvb.py",
    ),
    entries: &[
        (
            "application_outages_scenarios_1796041200284719033_qzkwtmvb.py",
            "krkn rollback_network_policy: delete NetworkPolicy storefront/krkn-deny-rwxjp",
        ),
        (
            "hog_scenarios_1796041200284719033_qzkwtmvb.py",
            "krkn rollback_hog_pod: delete Pod default/memory-hog-tfzqa",
        ),
        (
            "service_hijacking_scenarios_1796041200284719033_qzkwtmvb.py",
            "krkn rollback_service_hijacking: restore the selector of Service storefront/checkout to {\"app\":\"checkout\",\"tier\":\"web\"}; delete Pod service-hijacking-pod-vnqke; delete its service-hijacking-cm-* ConfigMap if found",
        ),
        (
            "syn_flood_scenarios_1796041200284719033_qzkwtmvb.py",
            "krkn rollback_syn_flood_pods: delete Pod storefront/syn-flood-hqcmzrwkpa; delete Pod storefront/syn-flood-tvbnlyexsd",
        ),
        (
            "http_load_scenarios_1796041200284719033_qzkwtmvb.py",
            "krkn rollback_http_load_pods: delete Pod storefront/http-load-ojwuqgcxbf; delete Pod storefront/http-load-kmzrpthyal",
        ),
        (
            "pvc_scenarios_1796041200284719033_qzkwtmvb.py",
            "krkn rollback_temp_file: remove /var/lib/postgresql/kraken.tmp in container postgres of pod ledger/ledger-db-0",
        ),
        (
            "storage_throttle_scenarios_1796041200284719033_qzkwtmvb.py",
            "krkn rollback_throttle: lift the I/O limits of 259:0 in cgroup /kubepods.slice/kubepods-burstable.slice/cri-containerd-4be1c9d07f3a.scope (Krkn's Pod ledger/io-throttle-pod-mxgwd)",
        ),
        (
            "cluster_shut_down_scenarios_1796041200284719033_qzkwtmvb.py",
            "krkn rollback_shutdown_nodes: not executable here: start aws instances i-07c3e9a1b5d2f4860, i-0f21a8c6d4e9b7351",
        ),
        (
            "zone_outages_scenarios_1796041200284719033_qzkwtmvb.py",
            "krkn rollback_gcp_zone_outage: not executable here: start GCP nodes gke-shop-pool-b-7f3k, gke-shop-pool-b-9q2m",
        ),
        (
            "application_outages_scenarios_1796041261958203777_hdpxlvoa.py.executed",
            "krkn rollback_network_policy: delete NetworkPolicy storefront/krkn-deny-ybgst",
        ),
    ],
    contexts: 11,
    netpol_object: ("storefront", "krkn-deny-rwxjp"),
    hog_pod: ("default", "memory-hog-tfzqa"),
    hijacked: (
        "storefront",
        "checkout",
        "service-hijacking-pod-vnqke",
        || json!({"app": "checkout", "tier": "web"}),
    ),
    attackers: &[
        (
            "1796041204551068290-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5",
            "syn_flood_scenarios_1796041200284719033_qzkwtmvb.py",
            "storefront",
            &["syn-flood-hqcmzrwkpa", "syn-flood-tvbnlyexsd"],
        ),
        (
            "1796041207618802449-5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5",
            "http_load_scenarios_1796041200284719033_qzkwtmvb.py",
            "storefront",
            &["http-load-ojwuqgcxbf", "http-load-kmzrpthyal"],
        ),
    ],
    not_executable: 2,
    throttle_pod: Some(("ledger", "io-throttle-pod-mxgwd")),
    pvc_removal: (
        "remove /var/lib/postgresql/kraken.tmp in container postgres of pod ledger/ledger-db-0",
        "kubectl exec -n ledger ledger-db-0 -c postgres -- rm -- /var/lib/postgresql/kraken.tmp",
    ),
};

const SHARED: Set = Set {
    source: || support::fixtures().join("krkn-rollback"),
    run: "7b5842f8-c142-4e90-8235-02cb0e1ec634",
    netpol: (
        "1795315098641937822-7b5842f8-c142-4e90-8235-02cb0e1ec634",
        "application_outages_scenarios_1795315097812653975_mbmixfdj.py",
    ),
    hog: (
        "1795315098660167716-7b5842f8-c142-4e90-8235-02cb0e1ec634",
        "hog_scenarios_1795315097812653975_mbmixfdj.py",
    ),
    hijack: (
        "1795315102688129326-7b5842f8-c142-4e90-8235-02cb0e1ec634",
        "service_hijacking_scenarios_1795315097812653975_mbmixfdj.py",
    ),
    pvc: (
        "1795315105699069697-7b5842f8-c142-4e90-8235-02cb0e1ec634",
        "pvc_scenarios_1795315097812653975_mbmixfdj.py",
    ),
    shutdown: (
        "1795315105498400977-7b5842f8-c142-4e90-8235-02cb0e1ec634",
        "cluster_shut_down_scenarios_1795315097812653975_mbmixfdj.py",
    ),
    entries: &[
        (
            "application_outages_scenarios_1795315097812653975_mbmixfdj.py",
            "krkn rollback_network_policy: delete NetworkPolicy demo-ns/krkn-deny-vhjzm",
        ),
        (
            "hog_scenarios_1795315097812653975_mbmixfdj.py",
            "krkn rollback_hog_pod: delete Pod default/cpu-hog-kqlog",
        ),
        (
            "service_hijacking_scenarios_1795315097812653975_mbmixfdj.py",
            "krkn rollback_service_hijacking: restore the selector of Service default/nginx-service to {\"app\":\"nginx\"}; delete Pod service-hijacking-pod-abcde; delete its service-hijacking-cm-* ConfigMap if found",
        ),
        (
            "cluster_shut_down_scenarios_1795315097812653975_mbmixfdj.py",
            "krkn rollback_shutdown_nodes: not executable here: start aws instances i-0a1b2c3d4e5f60001, i-0a1b2c3d4e5f60002",
        ),
        (
            "pvc_scenarios_1795315097812653975_mbmixfdj.py",
            "krkn rollback_temp_file: remove /data/kraken.tmp in container app of pod demo-ns/app-0",
        ),
        (
            "application_outages_scenarios_1795315111083725008_augxihhy.py.executed",
            "krkn rollback_network_policy: delete NetworkPolicy demo-ns/krkn-deny-skbtg",
        ),
    ],
    contexts: 7,
    netpol_object: ("demo-ns", "krkn-deny-vhjzm"),
    hog_pod: ("default", "cpu-hog-kqlog"),
    hijacked: (
        "default",
        "nginx-service",
        "service-hijacking-pod-abcde",
        || json!({"app": "nginx"}),
    ),
    attackers: &[],
    not_executable: 1,
    throttle_pod: None,
    pvc_removal: (
        "remove /data/kraken.tmp in container app of pod demo-ns/app-0",
        "kubectl exec -n demo-ns app-0 -c app -- rm -- /data/kraken.tmp",
    ),
};

/// A writable copy of a set's directory (the originals stay untouched).
fn krkn_copy(set: &Set) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("krkn-rollback");
    support::copy_tree(&(set.source)(), &dir);
    (tmp, dir)
}

fn hog_template(set: &Set) -> String {
    std::fs::read_to_string((set.source)().join(set.hog.0).join(set.hog.1)).unwrap()
}

/// A version file in Krkn's template with another callable and content: the set's hog file with
/// its callable renamed and its `rollback_content` line replaced, as Krkn's serializer would
/// render it.
fn variant(set: &Set, callable: &str, content: &str) -> String {
    let text = hog_template(set)
        .replace("def rollback_hog_pod(", &format!("def {callable}("))
        .replace("    rollback_hog_pod(\n", &format!("    {callable}(\n"));
    let line = text.lines().find(|l| l.starts_with("rollback_content = ")).unwrap().to_string();
    text.replace(&line, &format!("rollback_content = {content}"))
}

/// `RollbackContent(...)` exactly as Krkn's `__str__` renders it.
fn content(ns: Option<&str>, id: &str) -> String {
    let ns = ns.map(|n| format!("\"{n}\"")).unwrap_or_else(|| "None".into());
    format!(
        "RollbackContent(namespace={ns}, resource_identifier=\"{id}\", cloud_type=None, instance_ids=None, skip_kubernetes=False)"
    )
}

fn b64(value: &Value) -> String {
    encode_base64(python_json_dumps(value).as_bytes())
}

fn write(dir: &Path, ctx: &str, file: &str, text: &str) -> PathBuf {
    let ctx = dir.join(ctx);
    std::fs::create_dir_all(&ctx).unwrap();
    let path = ctx.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

fn entry<'t>(tree: &'t JournalTree, file: &str) -> &'t EntryNode {
    tree.entries()
        .map(|(_, e)| e)
        .find(|e| e.file_name == file)
        .unwrap_or_else(|| panic!("{file} not listed"))
}

fn chaosdeck() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("chaosdeck").unwrap()
}

fn check_files_parse_into_decoded_undo(set: &Set) {
    let (_tmp, dir) = krkn_copy(set);
    let tree = scan(&dir).unwrap();
    for (file, summary) in set.entries {
        let e = entry(&tree, file);
        assert!(matches!(e.body, EntryBody::Krkn(_)), "{file}: {:?}", e.body);
        assert_eq!(e.summary(), *summary, "{file}");
        let want =
            if file.ends_with(".executed") { EntryState::Executed } else { EntryState::Pending };
        assert_eq!(e.state, want, "{file}");
    }
    assert_eq!(tree.entries().count(), set.entries.len());
    assert_eq!(tree.contexts.len(), set.contexts, "the empty context stays listed");
    assert!(tree.unknown.is_empty() && tree.contexts.iter().all(|c| c.unknown.is_empty()));
    let EntryBody::Krkn(shutdown) = &entry(&tree, set.shutdown.1).body else { unreachable!() };
    assert_eq!(shutdown.parsed.cloud_type.as_deref(), Some("aws"));
    assert!(shutdown.parsed.skip_kubernetes);
    assert_eq!(shutdown.parsed.instance_ids.as_ref().map(Vec::len), Some(2));
}

#[test]
fn krkn_files_parse_into_decoded_undo() {
    check_files_parse_into_decoded_undo(&OURS);
}

#[test]
#[ignore = "needs ../shared/fixtures"]
fn shared_fixtures_parse_into_decoded_undo() {
    check_files_parse_into_decoded_undo(&SHARED);
}

fn check_generated_variants(set: &Set) {
    let (_tmp, dir) = krkn_copy(set);
    let run = set.run;
    let ctx = format!("1795315200000000000-{run}");
    // The template's own line number for `rollback_content`, as the parser reports it.
    let content_line = hog_template(set)
        .lines()
        .position(|l| l.starts_with("rollback_content = "))
        .map(|i| i + 1)
        .unwrap();
    // Several entries per context, in other namespaces, with base64 payloads.
    let syn = b64(&json!(["syn-flood-gjycgfstge", "syn-flood-yqgdayoltc"]));
    write(
        &dir,
        &ctx,
        "syn_flood_scenarios_1795315097812653975_mbmixfdj.py",
        &variant(set, "rollback_syn_flood_pods", &content(Some("team-a"), &syn)),
    );
    let http = b64(&json!(["http-load-zplzxcpiqk", "http-load-hibiyvfmho"]));
    write(
        &dir,
        &ctx,
        "http_load_scenarios_1795315097812653975_mbmixfdj.py",
        &variant(set, "rollback_http_load_pods", &content(Some("team-b"), &http)),
    );
    write(
        &dir,
        &ctx,
        "hog_scenarios_1795315097812653976_abcdefgh.py",
        &variant(set, "rollback_hog_pod", &content(Some("team-a"), "memory-hog-abcde")),
    );
    let throttle = b64(&json!({"priv_pod_name": "io-throttle-pod-abcde", "maj_min": "8:16",
        "cgroup_path": "/kubepods.slice/crio-0123456789ab.scope", "cgroup_version": "v2"}));
    write(
        &dir,
        &ctx,
        "storage_throttle_scenarios_1795315097812653975_mbmixfdj.py",
        &variant(set, "rollback_throttle", &content(Some("team-a"), &throttle)),
    );
    let zone = b64(
        &json!({"nodes": ["gke-worker-a-1", "gke-worker-a-2"], "timeout": 180, "kube_check": true}),
    );
    write(
        &dir,
        &ctx,
        "zone_outages_scenarios_1795315097812653975_mbmixfdj.py",
        &variant(set, "rollback_gcp_zone_outage", &content(None, &zone)),
    );
    // Legacy shutdown content, Azure-style nested tuples.
    write(
        &dir,
        &ctx,
        "cluster_shut_down_scenarios_1795315097812653977_legacyaa.py",
        &variant(
            set,
            "rollback_shutdown_nodes",
            "RollbackContent(namespace=None, resource_identifier=\"gcp:node-a, node-b\", cloud_type=None, instance_ids=None, skip_kubernetes=True)",
        ),
    );
    write(
        &dir,
        &ctx,
        "cluster_shut_down_scenarios_1795315097812653978_azureaaa.py",
        &variant(
            set,
            "rollback_shutdown_nodes",
            "RollbackContent(namespace=None, resource_identifier=\"\", cloud_type=\"azure\", instance_ids=(('vm-1', 'rg-1'), ('vm-2', 'rg-1')), skip_kubernetes=True)",
        ),
    );
    // Malformed: each must be invalid, with its reason.
    let bad_ctx = format!("1795315300000000000-{run}");
    let quote_reason = format!("line {content_line}: rollback_content: expected `)`");
    let malformed = [
        (
            "hog_scenarios_1_nodefaaa.py",
            hog_template(set).replace("def rollback_hog_pod(", "def undo_hog_pod("),
            "no `def rollback_*(` callable",
        ),
        (
            "hog_scenarios_2_nolineaa.py",
            hog_template(set)
                .replace("rollback_content = RollbackContent(", "content = RollbackContent("),
            "no `rollback_content = RollbackContent(...)` line",
        ),
        (
            "hog_scenarios_3_quoteaaa.py",
            variant(set, "rollback_hog_pod", &content(Some("default"), "cpu\"hog")),
            quote_reason.as_str(),
        ),
        (
            "hog_scenarios_4_nonsaaaa.py",
            variant(set, "rollback_hog_pod", &content(None, "cpu-hog-abcde")),
            "namespace=None",
        ),
        (
            "hog_scenarios_5_posargaa.py",
            variant(set, "rollback_hog_pod", "RollbackContent(\"default\", \"cpu-hog-x\")"),
            "positional",
        ),
        (
            "hog_scenarios_6_escapeaa.py",
            variant(set, "rollback_hog_pod", &content(Some("default"), "cpu\\nhog")),
            "backslash",
        ),
        (
            "syn_flood_scenarios_7_notb64aa.py",
            variant(set, "rollback_syn_flood_pods", &content(Some("default"), "syn-flood-abc")),
            "not base64",
        ),
        (
            "syn_flood_scenarios_8_notjsona.py",
            variant(
                set,
                "rollback_syn_flood_pods",
                &content(Some("default"), &encode_base64(b"[oops")),
            ),
            "not JSON",
        ),
        (
            "service_hijacking_scenarios_9_nofielda.py",
            variant(
                set,
                "rollback_service_hijacking",
                &content(Some("default"), &b64(&json!({"service_name": "web"}))),
            ),
            "no \"service_namespace\" field",
        ),
        (
            "hog_scenarios_10_evalaaaa.py",
            variant(
                set,
                "rollback_hog_pod",
                "RollbackContent(namespace=__import__(\"os\").getcwd(), resource_identifier=\"x\")",
            ),
            "expected a string",
        ),
    ];
    for (file, text, _) in &malformed {
        write(&dir, &bad_ctx, file, text);
    }
    // Krkn's own by-products and strays.
    std::fs::create_dir_all(dir.join(&ctx).join("__pycache__")).unwrap();
    std::fs::write(dir.join(&ctx).join("__pycache__/x.cpython-311.pyc"), b"\0").unwrap();
    std::fs::create_dir_all(dir.join(&ctx).join("logs")).unwrap();
    std::fs::write(dir.join(&ctx).join("logs/telemetry.log"), "log").unwrap();
    std::fs::write(dir.join(&ctx).join("notes.py"), "# operator notes").unwrap();

    let tree = scan(&dir).unwrap();
    for (file, want) in [
        (
            "syn_flood_scenarios_1795315097812653975_mbmixfdj.py",
            "delete Pod team-a/syn-flood-gjycgfstge; delete Pod team-a/syn-flood-yqgdayoltc",
        ),
        (
            "http_load_scenarios_1795315097812653975_mbmixfdj.py",
            "delete Pod team-b/http-load-zplzxcpiqk; delete Pod team-b/http-load-hibiyvfmho",
        ),
        ("hog_scenarios_1795315097812653976_abcdefgh.py", "delete Pod team-a/memory-hog-abcde"),
        (
            "storage_throttle_scenarios_1795315097812653975_mbmixfdj.py",
            "lift the I/O limits of 8:16 in cgroup /kubepods.slice/crio-0123456789ab.scope (Krkn's Pod team-a/io-throttle-pod-abcde)",
        ),
        (
            "zone_outages_scenarios_1795315097812653975_mbmixfdj.py",
            "not executable here: start GCP nodes gke-worker-a-1, gke-worker-a-2",
        ),
        (
            "cluster_shut_down_scenarios_1795315097812653977_legacyaa.py",
            "not executable here: start gcp instances node-a, node-b",
        ),
        (
            "cluster_shut_down_scenarios_1795315097812653978_azureaaa.py",
            "not executable here: start azure instances (\"vm-1\", \"rg-1\"), (\"vm-2\", \"rg-1\")",
        ),
    ] {
        let e = entry(&tree, file);
        assert_eq!(e.state, EntryState::Pending, "{file}: {}", e.summary());
        assert!(e.summary().ends_with(want), "{file}: {}", e.summary());
    }
    for (file, _, reason) in &malformed {
        let e = entry(&tree, file);
        assert_eq!(e.state, EntryState::Invalid, "{file}: {}", e.summary());
        assert!(e.summary().contains(reason), "{file}: {}", e.summary());
    }
    let generated = tree.contexts.iter().find(|c| c.dir_name == ctx).unwrap();
    assert_eq!(generated.entries.len(), 7);
    let unknown: Vec<String> = generated
        .unknown
        .iter()
        .map(|u| u.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(unknown, ["notes.py"], "__pycache__ and logs/ are Krkn's, not listed");
}

#[test]
fn generated_variants_parse_and_malformed_files_are_invalid_with_a_reason() {
    check_generated_variants(&OURS);
}

#[test]
#[ignore = "needs ../shared/fixtures"]
fn generated_variants_of_the_shared_fixtures_parse() {
    check_generated_variants(&SHARED);
}

struct Env {
    cluster: TestCluster,
    ops: ClusterOps,
}

async fn env(target: Target) -> Env {
    let cluster = TestCluster::start(target, Seed::Empty).await;
    let ops = ClusterOps::new(cluster.client());
    Env { cluster, ops }
}

impl Env {
    /// Whether the object exists, read with kube-rs's typed API (not chaosdeck's client).
    async fn exists(&self, kind: &str, ns: &str, name: &str) -> bool {
        let client = self.cluster.client();
        let found = match kind {
            "pod" => Api::<Pod>::namespaced(client, ns).get_opt(name).await.map(|o| o.is_some()),
            "configmap" => {
                Api::<ConfigMap>::namespaced(client, ns).get_opt(name).await.map(|o| o.is_some())
            }
            "networkpolicy" => Api::<NetworkPolicy>::namespaced(client, ns)
                .get_opt(name)
                .await
                .map(|o| o.is_some()),
            other => panic!("no typed API for {other}"),
        };
        found.unwrap_or_else(|e| panic!("get {kind} {ns}/{name}: {e}"))
    }

    /// Whether the object is gone, waiting while it terminates: a real API server answers a
    /// pod's DELETE at once and removes the pod when its kubelet (kwok here) has stopped it.
    async fn gone(&self, kind: &str, ns: &str, name: &str) -> bool {
        // Only a hang guard: the sandbox removes at once, kwok within a second or two.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.exists(kind, ns, name).await {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        true
    }

    async fn selector(&self, ns: &str, service: &str) -> Value {
        let svc = Api::<Service>::namespaced(self.cluster.client(), ns)
            .get(service)
            .await
            .unwrap_or_else(|e| panic!("get service {ns}/{service}: {e}"));
        serde_json::to_value(svc.spec.and_then(|s| s.selector)).unwrap()
    }

    async fn create(&self, object: Value) {
        self.ops.create(&object).await.unwrap().expect("created");
    }

    /// A worker node that runs pods: the test bed's nodes outlive its seeds (kwok manages
    /// them); the sandbox's empty seed has none, so it is created and told it is Ready, as the
    /// sandbox's seed does for its own nodes.
    async fn ready_node(&self, name: &str) {
        use kube::api::{Patch, PatchParams};
        let node = json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"}}});
        if self.ops.create(&node).await.unwrap().is_none() {
            return;
        }
        let nodes: Api<Node> = Api::all(self.cluster.client());
        let status = json!({"status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}});
        nodes.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    }

    async fn namespace(&self, name: &str) {
        self.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
            .await;
    }

    async fn pod(&self, ns: &str, name: &str, labels: Value, volumes: Value) {
        self.create(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], "volumes": volumes}}))
            .await;
    }

    async fn service(&self, ns: &str, name: &str, selector: Value) {
        self.create(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": selector, "ports": [{"port": 80}]}}))
            .await;
    }

    async fn configmap(&self, ns: &str, name: &str) {
        self.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns}, "data": {"plan.yaml": "[]"}}))
            .await;
    }

    /// What Krkn's hijack leaves behind: the Service pointed at the pod, the pod, its plan.
    async fn hijacked(&self, ns: &str, service: &str, pod: &str, cm: &str, value: &str) {
        self.configmap(ns, cm).await;
        self.pod(
            ns,
            pod,
            json!({"service-hijacking": value}),
            json!([{"name": "plan", "configMap": {"name": cm}}]),
        )
        .await;
        self.service(ns, service, json!({"service-hijacking": value})).await;
    }

    /// `execute-rollback` naming the test's cluster as the target: Krkn's entries do not record
    /// their cluster, so chaosdeck executes them only on a cluster the operator names.
    fn execute(&self, dir: &Path, extra: &[&str]) -> (i32, String) {
        let mut named = vec!["--cluster-mismatch-ok", self.cluster.context()];
        named.extend_from_slice(extra);
        self.execute_unnamed(dir, &named)
    }

    fn execute_unnamed(&self, dir: &Path, extra: &[&str]) -> (i32, String) {
        let out = chaosdeck()
            .args(["execute-rollback", "--dir"])
            .arg(dir)
            .arg("--kubeconfig")
            .arg(self.cluster.kubeconfig())
            .args(extra)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }
}

fn executed(dir: &Path, ctx: &str, file: &str) -> bool {
    let ctx = dir.join(ctx);
    ctx.join(format!("{file}.executed")).exists() && !ctx.join(file).exists()
}

async fn check_execute_rollback_undoes_kubernetes_entries(set: &Set, target: Target) {
    let env = env(target).await;
    // The node side of the throttle's lift helper on the test bed.
    let _helpers = support::helpers::HelperNodes::start(&env.cluster);
    let (_tmp, dir) = krkn_copy(set);
    // The PVC fill's file lives in a container, which this test does not model (its undo is
    // tested through exec in tests/journal_executor.rs).
    std::fs::remove_file(dir.join(set.pvc.0).join(set.pvc.1)).unwrap();
    // The objects the set's files name, as Krkn's scenarios left them.
    let (hijack_ns, service, hijack_pod, original) = set.hijacked;
    let mut namespaces: Vec<&str> = vec![set.netpol_object.0, set.hog_pod.0, hijack_ns];
    namespaces.extend(set.throttle_pod.map(|(ns, _)| ns));
    namespaces.extend(set.attackers.iter().map(|a| a.2));
    namespaces.sort();
    namespaces.dedup();
    for ns in namespaces.into_iter().filter(|ns| *ns != "default") {
        env.namespace(ns).await;
    }
    let (np_ns, np_name) = set.netpol_object;
    env.create(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": np_name, "namespace": np_ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}))
        .await;
    env.pod(set.hog_pod.0, set.hog_pod.1, json!({}), json!([])).await;
    // Krkn pins its privileged pod to the throttled pod's node, which the lift helper needs
    // running (this environment is seeded empty).
    if let Some((ns, pod)) = set.throttle_pod {
        env.ready_node("sandbox-worker-1").await;
        env.create(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod, "namespace": ns},
            "spec": {"nodeName": "sandbox-worker-1",
                     "containers": [{"name": "tools", "image": "quay.io/krkn-chaos/krkn:tools"}]}}))
            .await;
    }
    env.hijacked(hijack_ns, service, hijack_pod, "service-hijacking-cm-qwert", "sh-zxcvb").await;
    env.configmap(hijack_ns, "service-hijacking-cm-other").await;
    for (_, _, ns, pods) in set.attackers {
        for p in *pods {
            env.pod(ns, p, json!({}), json!([])).await;
        }
    }
    // Generated: SYN flood and HTTP load pods in another namespace, two entries in one context.
    env.namespace("team-a").await;
    let ctx = format!("1795315200000000000-{}", set.run);
    let syn_pods = ["syn-flood-gjycgfstge", "syn-flood-yqgdayoltc"];
    let http_pods = ["http-load-zplzxcpiqk", "http-load-hibiyvfmho"];
    for p in syn_pods.iter().chain(&http_pods) {
        env.pod("team-a", p, json!({}), json!([])).await;
    }
    let syn_file = "syn_flood_scenarios_1795315097812653975_mbmixfdj.py";
    let http_file = "http_load_scenarios_1795315097812653975_mbmixfdj.py";
    write(
        &dir,
        &ctx,
        syn_file,
        &variant(set, "rollback_syn_flood_pods", &content(Some("team-a"), &b64(&json!(syn_pods)))),
    );
    write(
        &dir,
        &ctx,
        http_file,
        &variant(set, "rollback_http_load_pods", &content(Some("team-a"), &b64(&json!(http_pods)))),
    );

    // Dry run first: names the kubectl commands, touches nothing.
    let (code, text) = env.execute(&dir, &["--dry-run", "-s", "hog_scenarios"]);
    assert_eq!(code, 0, "{text}");
    let (hog_ns, hog_pod) = set.hog_pod;
    assert!(text.contains(&format!("kubectl delete pod/{hog_pod} -n {hog_ns}")), "{text}");
    assert!(env.exists("pod", hog_ns, hog_pod).await);

    // Without the cluster named, nothing is executed: the entries stay pending.
    let executable = 3 + set.attackers.len() + 2 + usize::from(set.throttle_pod.is_some());
    let skipped = set.not_executable;
    let (code, text) = env.execute_unnamed(&dir, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!(
            "0 executed, 0 failed, {executable} refused (another cluster, or not an undo of a chaos change), {skipped} skipped"
        )),
        "{text}"
    );
    let named = format!("--cluster-mismatch-ok {}", env.cluster.context());
    assert!(text.contains(&named), "{text}");
    assert!(env.exists("pod", hog_ns, hog_pod).await);

    let (code, text) = env.execute(&dir, &[]);
    // Not-executable entries were not asked for by name: reported, exit 0.
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("{executable} executed, 0 failed, {skipped} skipped")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "run_kraken.py execute-rollback -r {} -s cluster_shut_down_scenarios",
            set.run
        )),
        "{text}"
    );
    assert!(!env.exists("networkpolicy", np_ns, np_name).await);
    assert!(env.gone("pod", hog_ns, hog_pod).await);
    assert!(env.gone("pod", hijack_ns, hijack_pod).await);
    assert!(!env.exists("configmap", hijack_ns, "service-hijacking-cm-qwert").await);
    assert!(
        env.exists("configmap", hijack_ns, "service-hijacking-cm-other").await,
        "not Krkn's plan for this hijack"
    );
    assert_eq!(env.selector(hijack_ns, service).await, original());
    for p in syn_pods.iter().chain(&http_pods) {
        assert!(env.gone("pod", "team-a", p).await, "{p}");
    }
    for (_, _, ns, pods) in set.attackers {
        for p in *pods {
            assert!(env.gone("pod", ns, p).await, "{ns}/{p}");
        }
    }
    // Renamed exactly as Krkn does; the cloud/exec ones stay pending.
    assert!(executed(&dir, set.netpol.0, set.netpol.1));
    assert!(executed(&dir, set.hog.0, set.hog.1));
    assert!(executed(&dir, set.hijack.0, set.hijack.1));
    assert!(executed(&dir, &ctx, syn_file) && executed(&dir, &ctx, http_file));
    for (attack_ctx, file, _, _) in set.attackers {
        assert!(executed(&dir, attack_ctx, file), "{file}");
    }
    assert!(dir.join(set.shutdown.0).join(set.shutdown.1).exists());
    let tree = scan(&dir).unwrap();
    assert_eq!(tree.outstanding(), skipped);

    // Again: nothing Kubernetes left, the skipped ones are still reported, exit 0.
    let (code, text) = env.execute(&dir, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("0 executed, 0 failed, {skipped} skipped")), "{text}");
    env.cluster.shutdown().await;
}

crate::on_both_targets! {
    async fn execute_rollback_undoes_krkns_kubernetes_entries(target) {
        check_execute_rollback_undoes_kubernetes_entries(&OURS, target).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs ../shared/fixtures"]
async fn execute_rollback_undoes_the_shared_fixtures_kubernetes_entries() {
    check_execute_rollback_undoes_kubernetes_entries(&SHARED, Target::Sandbox).await;
}

async fn check_explicitly_requested_exec_or_cloud_entries_exit_non_zero(set: &Set, target: Target) {
    let env = env(target).await;
    let (_tmp, dir) = krkn_copy(set);
    let shutdown = dir.join(set.shutdown.0).join(set.shutdown.1);
    let (code, text) = env.execute(&dir, &["--file", shutdown.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("not executable here: Krkn would start the aws instances"), "{text}");
    assert!(shutdown.exists(), "left for Krkn");
    // The PVC fill runs natively, through exec: its pod is not there, so it fails, names what
    // it would have removed, and stays pending.
    let pvc = dir.join(set.pvc.0).join(set.pvc.1);
    let (code, text) = env.execute(&dir, &["--file", pvc.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    let (removal, _) = set.pvc_removal;
    assert!(text.contains(removal), "{text}");
    assert!(text.contains("the pod does not exist; the entry names no claim"), "{text}");
    assert!(pvc.exists(), "pending");
    // By run and type filters (Krkn's -r/-s): the shutdown file is skipped, exit 0.
    let (code, text) = env.execute(&dir, &["-r", set.run, "-s", "cluster_shut_down_scenarios"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 executed, 0 failed, 1 skipped"), "{text}");
    env.cluster.shutdown().await;
}

crate::on_both_targets! {
    async fn explicitly_requested_krkn_entries_that_need_exec_or_a_cloud_exit_non_zero(target) {
        check_explicitly_requested_exec_or_cloud_entries_exit_non_zero(&OURS, target).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs ../shared/fixtures"]
async fn explicitly_requested_shared_fixture_entries_that_need_exec_or_a_cloud_exit_non_zero() {
    check_explicitly_requested_exec_or_cloud_entries_exit_non_zero(&SHARED, Target::Sandbox).await;
}

async fn check_hijack_undo(set: &Set, target: Target) {
    let env = env(target).await;
    let (_tmp, dir) = krkn_copy(set);
    let run = set.run;
    let payload = |svc: &str| {
        b64(&json!({"service_name": svc, "service_namespace": "shop",
            "original_selectors": {"app": svc, "tier": "web"},
            "webservice_pod_name": format!("service-hijacking-pod-{}", &svc[..5])}))
    };
    env.namespace("shop").await;
    let ctx = format!("1795315400000000000-{run}");
    // 1. Pod already gone, the Service still carries Krkn's key: restored (value read from it).
    env.service("shop", "cart1", json!({"service-hijacking": "sh-aaaaa"})).await;
    let gone = "service_hijacking_scenarios_1_goneaaaa.py";
    write(
        &dir,
        &ctx,
        gone,
        &variant(set, "rollback_service_hijacking", &content(Some("shop"), &payload("cart1"))),
    );
    // 2. Someone re-pointed the Service after Krkn: left alone, undo fails, file stays .py.
    env.service("shop", "cart2", json!({"app": "cart2-canary"})).await;
    let edited = "service_hijacking_scenarios_2_editedaa.py";
    write(
        &dir,
        &ctx,
        edited,
        &variant(set, "rollback_service_hijacking", &content(Some("shop"), &payload("cart2"))),
    );

    let (code, text) = env.execute(&dir, &["-s", "service_hijacking_scenarios", "-r", run]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(env.selector("shop", "cart1").await, json!({"app": "cart1", "tier": "web"}));
    assert!(text.contains("ConfigMap cannot be identified"), "{text}");
    assert!(executed(&dir, &ctx, gone));
    assert_eq!(env.selector("shop", "cart2").await, json!({"app": "cart2-canary"}));
    assert!(text.contains("neither the original"), "{text}");
    let pending = dir.join(&ctx).join(edited);
    assert!(pending.exists());
    assert!(
        dir.join(".chaosdeck/krkn-errors").join(&ctx).join(format!("{edited}.error")).exists(),
        "error record in chaosdeck's own directory, not in Krkn's context directory"
    );
    assert!(!dir.join(&ctx).join(format!("{edited}.error")).exists());
    let tree = scan(&dir).unwrap();
    let e = entry(&tree, edited);
    assert_eq!(e.state, EntryState::Failed);
    assert!(e.last_error.as_ref().unwrap().error.contains("left alone"));
    // list-rollback shows it failed with its error; the fixture's hijack (objects absent) is done.
    chaosdeck()
        .args(["list-rollback", "--dir"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("[failed,krkn] {edited}")))
        .stdout(predicates::str::contains(
            "last error: Service shop/cart2 has a selector that is neither",
        ));
    env.cluster.shutdown().await;
}

crate::on_both_targets! {
    async fn hijack_undo_follows_what_krkn_set_and_a_refused_undo_keeps_the_py_with_an_error(target) {
        check_hijack_undo(&OURS, target).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs ../shared/fixtures"]
async fn hijack_undo_in_the_shared_fixtures_template() {
    check_hijack_undo(&SHARED, Target::Sandbox).await;
}

fn check_list_and_show(set: &Set) {
    let (_tmp, dir) = krkn_copy(set);
    let hog_summary = set.entries.iter().find(|(f, _)| *f == set.hog.1).unwrap().1;
    chaosdeck()
        .args(["list-rollback", "--dir"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("[pending,krkn] {}  {hog_summary}", set.hog.1)));
    let (ns, _, pod, original) = set.hijacked;
    let selectors = serde_json::to_string(&original()).unwrap();
    chaosdeck()
        .arg("show")
        .arg(dir.join(set.hijack.0).join(set.hijack.1))
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("\"original_selectors\":{selectors}")))
        .stdout(predicates::str::contains(format!("kubectl delete pod/{pod} -n {ns}")))
        .stdout(predicates::str::contains("selector guard:"));
    chaosdeck()
        .arg("show")
        .arg(dir.join(set.shutdown.0).join(set.shutdown.1))
        .assert()
        .success()
        .stdout(predicates::str::contains("with Krkn: from a krkn checkout"))
        .stdout(predicates::str::contains(format!(
            "execute-rollback -r {} -s cluster_shut_down_scenarios",
            set.run
        )));
    let (_, by_hand) = set.pvc_removal;
    chaosdeck()
        .arg("show")
        .arg(dir.join(set.pvc.0).join(set.pvc.1))
        .assert()
        .success()
        .stdout(predicates::str::contains(by_hand));
}

#[test]
fn list_and_show_print_the_decoded_action() {
    check_list_and_show(&OURS);
}

#[test]
#[ignore = "needs ../shared/fixtures"]
fn list_and_show_print_the_decoded_action_of_the_shared_fixtures() {
    check_list_and_show(&SHARED);
}
