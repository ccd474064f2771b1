//! Krkn's rollback directory in chaosdeck: the fixtures made by Krkn's own code and generated
//! variants are parsed as data, listed and shown with their decoded undo, and the Kubernetes
//! ones are executed against the sandbox (checked with kubectl), renamed `.py.executed` as Krkn
//! does, or kept `.py` with a `.py.error` sidecar when the undo fails.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chaosdeck::cluster::ClusterOps;
use chaosdeck::journal::krkn::payload::{encode_base64, python_json_dumps};
use chaosdeck::journal::scan::{EntryBody, EntryNode, JournalTree};
use chaosdeck::journal::{EntryState, scan};
use chaosdeck::sandbox::{Sandbox, SandboxOptions, Seed};
use serde_json::{Value, json};

const RUN: &str = "7b5842f8-c142-4e90-8235-02cb0e1ec634";
const HOG_CTX: &str = "1795315098660167716-7b5842f8-c142-4e90-8235-02cb0e1ec634";
const HOG_FILE: &str = "hog_scenarios_1795315097812653975_mbmixfdj.py";
const PVC_CTX: &str = "1795315105699069697-7b5842f8-c142-4e90-8235-02cb0e1ec634";
const PVC_FILE: &str = "pvc_scenarios_1795315097812653975_mbmixfdj.py";
const HIJACK_CTX: &str = "1795315102688129326-7b5842f8-c142-4e90-8235-02cb0e1ec634";
const HIJACK_FILE: &str = "service_hijacking_scenarios_1795315097812653975_mbmixfdj.py";

/// A writable copy of Krkn's fixture directory (the originals are read-only).
fn krkn_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("krkn-rollback");
    support::copy_tree(&support::fixtures().join("krkn-rollback"), &dir);
    (tmp, dir)
}

fn hog_template() -> String {
    std::fs::read_to_string(support::fixtures().join("krkn-rollback").join(HOG_CTX).join(HOG_FILE))
        .unwrap()
}

/// A version file in Krkn's template with another callable and content: the hog fixture with
/// its callable renamed and its `rollback_content` line replaced, as Krkn's serializer would
/// render it.
fn variant(callable: &str, content: &str) -> String {
    let text = hog_template()
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

#[test]
fn fixtures_parse_into_decoded_undo() {
    let (_tmp, dir) = krkn_copy();
    let tree = scan(&dir).unwrap();
    let expect = [
        (
            "application_outages_scenarios_1795315097812653975_mbmixfdj.py",
            "krkn rollback_network_policy: delete NetworkPolicy demo-ns/krkn-deny-vhjzm",
        ),
        (HOG_FILE, "krkn rollback_hog_pod: delete Pod default/cpu-hog-kqlog"),
        (
            HIJACK_FILE,
            "krkn rollback_service_hijacking: restore the selector of Service default/nginx-service to {\"app\":\"nginx\"}; delete Pod service-hijacking-pod-abcde; delete its service-hijacking-cm-* ConfigMap if found",
        ),
        (
            "cluster_shut_down_scenarios_1795315097812653975_mbmixfdj.py",
            "krkn rollback_shutdown_nodes: not executable here: start aws instances i-0a1b2c3d4e5f60001, i-0a1b2c3d4e5f60002",
        ),
        (
            PVC_FILE,
            "krkn rollback_temp_file: not executable here: exec `rm -f /data/kraken.tmp` in Pod demo-ns/app-0",
        ),
        (
            "application_outages_scenarios_1795315111083725008_augxihhy.py.executed",
            "krkn rollback_network_policy: delete NetworkPolicy demo-ns/krkn-deny-skbtg",
        ),
    ];
    for (file, summary) in expect {
        let e = entry(&tree, file);
        assert!(matches!(e.body, EntryBody::Krkn(_)), "{file}: {:?}", e.body);
        assert_eq!(e.summary(), summary, "{file}");
        let want =
            if file.ends_with(".executed") { EntryState::Executed } else { EntryState::Pending };
        assert_eq!(e.state, want, "{file}");
    }
    assert_eq!(tree.entries().count(), expect.len());
    assert_eq!(tree.contexts.len(), 7, "the empty context stays listed");
    assert!(tree.unknown.is_empty() && tree.contexts.iter().all(|c| c.unknown.is_empty()));
    let EntryBody::Krkn(shutdown) =
        &entry(&tree, "cluster_shut_down_scenarios_1795315097812653975_mbmixfdj.py").body
    else {
        unreachable!()
    };
    assert_eq!(shutdown.parsed.cloud_type.as_deref(), Some("aws"));
    assert!(shutdown.parsed.skip_kubernetes);
    assert_eq!(shutdown.parsed.instance_ids.as_ref().map(Vec::len), Some(2));
}

#[test]
fn generated_variants_parse_and_malformed_files_are_invalid_with_a_reason() {
    let (_tmp, dir) = krkn_copy();
    let ctx = format!("1795315200000000000-{RUN}");
    // Several entries per context, in other namespaces, with base64 payloads.
    let syn = b64(&json!(["syn-flood-gjycgfstge", "syn-flood-yqgdayoltc"]));
    write(
        &dir,
        &ctx,
        "syn_flood_scenarios_1795315097812653975_mbmixfdj.py",
        &variant("rollback_syn_flood_pods", &content(Some("team-a"), &syn)),
    );
    let http = b64(&json!(["http-load-zplzxcpiqk", "http-load-hibiyvfmho"]));
    write(
        &dir,
        &ctx,
        "http_load_scenarios_1795315097812653975_mbmixfdj.py",
        &variant("rollback_http_load_pods", &content(Some("team-b"), &http)),
    );
    write(
        &dir,
        &ctx,
        "hog_scenarios_1795315097812653976_abcdefgh.py",
        &variant("rollback_hog_pod", &content(Some("team-a"), "memory-hog-abcde")),
    );
    let throttle = b64(&json!({"priv_pod_name": "io-throttle-pod-abcde", "maj_min": "8:16",
        "cgroup_path": "/kubepods.slice/crio-0123456789ab.scope", "cgroup_version": "v2"}));
    write(
        &dir,
        &ctx,
        "storage_throttle_scenarios_1795315097812653975_mbmixfdj.py",
        &variant("rollback_throttle", &content(Some("team-a"), &throttle)),
    );
    let zone = b64(
        &json!({"nodes": ["gke-worker-a-1", "gke-worker-a-2"], "timeout": 180, "kube_check": true}),
    );
    write(
        &dir,
        &ctx,
        "zone_outages_scenarios_1795315097812653975_mbmixfdj.py",
        &variant("rollback_gcp_zone_outage", &content(None, &zone)),
    );
    // Legacy shutdown content, Azure-style nested tuples.
    write(
        &dir,
        &ctx,
        "cluster_shut_down_scenarios_1795315097812653977_legacyaa.py",
        &variant(
            "rollback_shutdown_nodes",
            "RollbackContent(namespace=None, resource_identifier=\"gcp:node-a, node-b\", cloud_type=None, instance_ids=None, skip_kubernetes=True)",
        ),
    );
    write(
        &dir,
        &ctx,
        "cluster_shut_down_scenarios_1795315097812653978_azureaaa.py",
        &variant(
            "rollback_shutdown_nodes",
            "RollbackContent(namespace=None, resource_identifier=\"\", cloud_type=\"azure\", instance_ids=(('vm-1', 'rg-1'), ('vm-2', 'rg-1')), skip_kubernetes=True)",
        ),
    );
    // Malformed: each must be invalid, with its reason.
    let bad_ctx = format!("1795315300000000000-{RUN}");
    let malformed = [
        (
            "hog_scenarios_1_nodefaaa.py",
            hog_template().replace("def rollback_hog_pod(", "def undo_hog_pod("),
            "no `def rollback_*(` callable",
        ),
        (
            "hog_scenarios_2_nolineaa.py",
            hog_template()
                .replace("rollback_content = RollbackContent(", "content = RollbackContent("),
            "no `rollback_content = RollbackContent(...)` line",
        ),
        (
            "hog_scenarios_3_quoteaaa.py",
            variant("rollback_hog_pod", &content(Some("default"), "cpu\"hog")),
            "line 53: rollback_content: expected `)`",
        ),
        (
            "hog_scenarios_4_nonsaaaa.py",
            variant("rollback_hog_pod", &content(None, "cpu-hog-abcde")),
            "namespace=None",
        ),
        (
            "hog_scenarios_5_posargaa.py",
            variant("rollback_hog_pod", "RollbackContent(\"default\", \"cpu-hog-x\")"),
            "positional",
        ),
        (
            "hog_scenarios_6_escapeaa.py",
            variant("rollback_hog_pod", &content(Some("default"), "cpu\\nhog")),
            "backslash",
        ),
        (
            "syn_flood_scenarios_7_notb64aa.py",
            variant("rollback_syn_flood_pods", &content(Some("default"), "syn-flood-abc")),
            "not base64",
        ),
        (
            "syn_flood_scenarios_8_notjsona.py",
            variant("rollback_syn_flood_pods", &content(Some("default"), &encode_base64(b"[oops"))),
            "not JSON",
        ),
        (
            "service_hijacking_scenarios_9_nofielda.py",
            variant(
                "rollback_service_hijacking",
                &content(Some("default"), &b64(&json!({"service_name": "web"}))),
            ),
            "no \"service_namespace\" field",
        ),
        (
            "hog_scenarios_10_evalaaaa.py",
            variant(
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
            "not executable here: lift the I/O throttle on device 8:16 through Pod team-a/io-throttle-pod-abcde",
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

struct Env {
    sandbox: Sandbox,
    kubeconfig: tempfile::NamedTempFile,
    ops: ClusterOps,
}

async fn env() -> Env {
    let sandbox = Sandbox::start(SandboxOptions {
        seed: Seed::Empty,
        pod_ready_delay: Duration::from_millis(20),
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let kubeconfig = tempfile::NamedTempFile::new().unwrap();
    sandbox.write_kubeconfig(kubeconfig.path()).unwrap();
    let ops = ClusterOps::new(sandbox.client().unwrap());
    Env { sandbox, kubeconfig, ops }
}

impl Env {
    fn kubectl(&self, args: &[&str]) -> (bool, String) {
        support::kubectl(self.kubeconfig.path(), args)
    }

    fn exists(&self, kind: &str, ns: &str, name: &str) -> bool {
        self.kubectl(&["get", kind, name, "-n", ns]).0
    }

    fn selector(&self, ns: &str, service: &str) -> Value {
        let (ok, text) =
            self.kubectl(&["get", "service", service, "-n", ns, "-o", "jsonpath={.spec.selector}"]);
        assert!(ok, "{text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn create(&self, object: Value) {
        self.ops.create(&object).await.unwrap().expect("created");
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

    fn execute(&self, dir: &Path, extra: &[&str]) -> (i32, String) {
        let out = chaosdeck()
            .args(["execute-rollback", "--dir"])
            .arg(dir)
            .arg("--kubeconfig")
            .arg(self.kubeconfig.path())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_rollback_undoes_krkns_kubernetes_entries_in_the_sandbox() {
    let env = env().await;
    let (_tmp, dir) = krkn_copy();
    // The objects the fixtures name, as Krkn's scenarios left them.
    env.namespace("demo-ns").await;
    env.create(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "krkn-deny-vhjzm", "namespace": "demo-ns"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}))
        .await;
    env.pod("default", "cpu-hog-kqlog", json!({}), json!([])).await;
    env.hijacked(
        "default",
        "nginx-service",
        "service-hijacking-pod-abcde",
        "service-hijacking-cm-qwert",
        "sh-zxcvb",
    )
    .await;
    env.configmap("default", "service-hijacking-cm-other").await;
    // Generated: SYN flood and HTTP load pods in another namespace, two entries in one context.
    env.namespace("team-a").await;
    let ctx = format!("1795315200000000000-{RUN}");
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
        &variant("rollback_syn_flood_pods", &content(Some("team-a"), &b64(&json!(syn_pods)))),
    );
    write(
        &dir,
        &ctx,
        http_file,
        &variant("rollback_http_load_pods", &content(Some("team-a"), &b64(&json!(http_pods)))),
    );

    // Dry run first: names the kubectl commands, touches nothing.
    let (code, text) = env.execute(&dir, &["--dry-run", "-s", "hog_scenarios"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("kubectl delete pod/cpu-hog-kqlog -n default"), "{text}");
    assert!(env.exists("pod", "default", "cpu-hog-kqlog"));

    let (code, text) = env.execute(&dir, &[]);
    // Not-executable entries were not asked for by name: reported, exit 0.
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("5 executed, 0 failed, 2 skipped"), "{text}");
    assert!(text.contains("run_kraken.py execute-rollback -r 7b5842f8-c142-4e90-8235-02cb0e1ec634 -s pvc_scenarios"), "{text}");
    assert!(!env.exists("networkpolicy", "demo-ns", "krkn-deny-vhjzm"));
    assert!(!env.exists("pod", "default", "cpu-hog-kqlog"));
    assert!(!env.exists("pod", "default", "service-hijacking-pod-abcde"));
    assert!(!env.exists("configmap", "default", "service-hijacking-cm-qwert"));
    assert!(
        env.exists("configmap", "default", "service-hijacking-cm-other"),
        "not Krkn's plan for this hijack"
    );
    assert_eq!(env.selector("default", "nginx-service"), json!({"app": "nginx"}));
    for p in syn_pods.iter().chain(&http_pods) {
        assert!(!env.exists("pod", "team-a", p), "{p}");
    }
    // Renamed exactly as Krkn does; the cloud/exec ones stay pending.
    assert!(executed(
        &dir,
        "1795315098641937822-7b5842f8-c142-4e90-8235-02cb0e1ec634",
        "application_outages_scenarios_1795315097812653975_mbmixfdj.py"
    ));
    assert!(executed(&dir, HOG_CTX, HOG_FILE));
    assert!(executed(&dir, HIJACK_CTX, HIJACK_FILE));
    assert!(executed(&dir, &ctx, syn_file) && executed(&dir, &ctx, http_file));
    assert!(dir.join(PVC_CTX).join(PVC_FILE).exists());
    let tree = scan(&dir).unwrap();
    assert_eq!(tree.outstanding(), 2);

    // Again: nothing Kubernetes left, the two skipped ones are still reported, exit 0.
    let (code, text) = env.execute(&dir, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 executed, 0 failed, 2 skipped"), "{text}");
    env.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicitly_requested_krkn_entries_that_need_exec_or_a_cloud_exit_non_zero() {
    let env = env().await;
    let (_tmp, dir) = krkn_copy();
    let pvc = dir.join(PVC_CTX).join(PVC_FILE);
    let (code, text) = env.execute(&dir, &["--file", pvc.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("not executable here: Krkn would exec `rm -f /data/kraken.tmp`"),
        "{text}"
    );
    assert!(
        text.contains("kubectl exec -n demo-ns app-0 -c app -- rm -f /data/kraken.tmp"),
        "{text}"
    );
    assert!(pvc.exists(), "left for Krkn");
    // By run and type filters (Krkn's -r/-s): the shutdown file is skipped, exit 0.
    let (code, text) = env.execute(&dir, &["-r", RUN, "-s", "cluster_shut_down_scenarios"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 executed, 0 failed, 1 skipped"), "{text}");
    env.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hijack_undo_follows_what_krkn_set_and_a_refused_undo_keeps_the_py_with_an_error() {
    let env = env().await;
    let (_tmp, dir) = krkn_copy();
    let payload = |svc: &str| {
        b64(&json!({"service_name": svc, "service_namespace": "shop",
            "original_selectors": {"app": svc, "tier": "web"},
            "webservice_pod_name": format!("service-hijacking-pod-{}", &svc[..5])}))
    };
    env.namespace("shop").await;
    let ctx = format!("1795315400000000000-{RUN}");
    // 1. Pod already gone, the Service still carries Krkn's key: restored (value read from it).
    env.service("shop", "cart1", json!({"service-hijacking": "sh-aaaaa"})).await;
    let gone = "service_hijacking_scenarios_1_goneaaaa.py";
    write(
        &dir,
        &ctx,
        gone,
        &variant("rollback_service_hijacking", &content(Some("shop"), &payload("cart1"))),
    );
    // 2. Someone re-pointed the Service after Krkn: left alone, undo fails, file stays .py.
    env.service("shop", "cart2", json!({"app": "cart2-canary"})).await;
    let edited = "service_hijacking_scenarios_2_editedaa.py";
    write(
        &dir,
        &ctx,
        edited,
        &variant("rollback_service_hijacking", &content(Some("shop"), &payload("cart2"))),
    );

    let (code, text) = env.execute(&dir, &["-s", "service_hijacking_scenarios", "-r", RUN]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(env.selector("shop", "cart1"), json!({"app": "cart1", "tier": "web"}));
    assert!(text.contains("ConfigMap cannot be identified"), "{text}");
    assert!(executed(&dir, &ctx, gone));
    assert_eq!(env.selector("shop", "cart2"), json!({"app": "cart2-canary"}));
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
        .stdout(predicates::str::contains("last error: Service shop/cart2 has selector"));
    env.sandbox.shutdown().await;
}

#[test]
fn list_and_show_print_the_decoded_action() {
    let (_tmp, dir) = krkn_copy();
    chaosdeck().args(["list-rollback", "--dir"]).arg(&dir).assert().success().stdout(
        predicates::str::contains(format!(
            "[pending,krkn] {HOG_FILE}  krkn rollback_hog_pod: delete Pod default/cpu-hog-kqlog"
        )),
    );
    chaosdeck()
        .arg("show")
        .arg(dir.join(HIJACK_CTX).join(HIJACK_FILE))
        .assert()
        .success()
        .stdout(predicates::str::contains("\"original_selectors\":{\"app\":\"nginx\"}"))
        .stdout(predicates::str::contains(
            "kubectl delete pod/service-hijacking-pod-abcde -n default",
        ))
        .stdout(predicates::str::contains("selector guard:"));
    chaosdeck()
        .arg("show")
        .arg(dir.join(PVC_CTX).join(PVC_FILE))
        .assert()
        .success()
        .stdout(predicates::str::contains("with Krkn: from a krkn checkout"))
        .stdout(predicates::str::contains(format!("execute-rollback -r {RUN} -s pvc_scenarios")));
}
