//! `network_chaos_ng_scenarios`, module `pod_network_filter`: drop a pod's traffic on some
//! ports for `test_duration`, through chaosdeck's helper pod on the pod's node.
//!
//! Beyond Krkn (which registers no rollback for these modules, Krkn #1495): the entry that
//! stops the helper is durable and mirrored before the helper is created; every rule the helper
//! applies carries the entry id as its comment, so the undo removes exactly those rules and
//! reads the tables again; and the helper removes them by itself at `test_duration` plus a
//! grace, whether or not anyone is left to tell it. The other modules of the file format are
//! refused when the file is read, naming the module.
//!
//! Must not touch the target pod itself: everything goes through the helper.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ctx::{Change, ScenarioCtx};
use super::error::ScenarioError;
use super::file::{KrknOnly, invalid, load_yaml};
use super::needs::{Forward, Need, Op, POD};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::cluster::exec::HELPER_PROGRAM;
use crate::config::ConfigError;
use crate::journal::undo::HELPER_CONTAINER;

pub struct Type;

/// How long after `test_duration` the helper removes its rules by itself: long enough for the
/// run's own undo to come first, short enough that a dead run leaves the fault for seconds.
pub const HELPER_GRACE: Duration = Duration::from_secs(10);

/// How long a helper may take to start before the scenario gives up (and stops it).
const HELPER_START: Duration = Duration::from_secs(60);

/// One module of a Krkn `network_chaos_ng` file (models.py's common fields and the filter's).
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Module {
    id: String,
    #[serde(default)]
    image: KrknOnly,
    #[serde(default)]
    wait_duration: u64,
    #[serde(default = "default_test_duration")]
    test_duration: u64,
    #[serde(default)]
    label_selector: Option<String>,
    #[serde(default)]
    service_account: Option<String>,
    #[serde(default)]
    taints: Vec<String>,
    #[serde(default = "default_namespace")]
    namespace: String,
    #[serde(default = "one")]
    instance_count: usize,
    #[serde(default)]
    execution: Option<String>,
    #[serde(default)]
    ingress: bool,
    #[serde(default)]
    egress: bool,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    interfaces: KrknOnly,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    protocols: Vec<String>,
    // The chaos modules' fields: accepted so one file can list every module; only the filter
    // runs here.
    #[serde(default)]
    latency: KrknOnly,
    #[serde(default)]
    loss: KrknOnly,
    #[serde(default)]
    bandwidth: KrknOnly,
    #[serde(default)]
    force: KrknOnly,
    #[serde(default)]
    recovery_time: KrknOnly,
}

fn default_test_duration() -> u64 {
    60
}
fn default_namespace() -> String {
    "default".into()
}
fn one() -> usize {
    1
}

struct Plan {
    modules: Vec<Module>,
}

impl ScenarioType for Type {
    fn name(&self) -> &'static str {
        "network_chaos_ng_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let modules: Vec<Module> = load_yaml(path)?;
        if modules.is_empty() {
            return Err(invalid(path, "the file lists no module"));
        }
        for (i, m) in modules.iter().enumerate() {
            let at = format!("module {} ({})", i + 1, m.id);
            if m.id != "pod_network_filter" {
                return Err(invalid(
                    path,
                    format!(
                        "{at}: not supported yet; chaosdeck runs pod_network_filter (the other \
                         network_chaos_ng modules are refused rather than run half-way)"
                    ),
                ));
            }
            if m.namespace.trim().is_empty() {
                return Err(invalid(path, format!("{at}: namespace must name a namespace")));
            }
            let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
            if blank(&m.target) && blank(&m.label_selector) {
                return Err(invalid(path, format!("{at}: set target or label_selector")));
            }
            if !m.ingress && !m.egress {
                return Err(invalid(path, format!("{at}: neither ingress nor egress is true")));
            }
            if m.ports.is_empty() || m.ports.contains(&0) {
                return Err(invalid(path, format!("{at}: ports must list ports 1 to 65535")));
            }
            if let Some(p) = m.protocols.iter().find(|p| !matches!(p.as_str(), "tcp" | "udp")) {
                return Err(invalid(path, format!("{at}: protocol {p:?} is not tcp or udp")));
            }
            if !matches!(m.execution.as_deref(), None | Some("serial" | "parallel")) {
                return Err(invalid(path, format!("{at}: execution is serial or parallel")));
            }
            if m.instance_count == 0 {
                return Err(invalid(path, format!("{at}: instance_count is at least 1")));
            }
            crate::config::bounds::check_seconds(m.test_duration)
                .and_then(|_| crate::config::bounds::check_seconds(m.wait_duration))
                .map_err(|why| invalid(path, format!("{at}: {why}")))?;
            for t in &m.taints {
                toleration(t).map_err(|why| invalid(path, format!("{at}: {why}")))?;
            }
        }
        Ok(Box::new(Plan { modules }))
    }
}

/// A Krkn taint (`key[=value]:Effect`) as the toleration the helper needs to run beside it.
fn toleration(taint: &str) -> Result<Value, String> {
    let (kv, effect) = taint
        .rsplit_once(':')
        .ok_or_else(|| format!("taint {taint:?} is not key[=value]:Effect"))?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(format!("taint {taint:?}: {effect:?} is not a taint effect"));
    }
    Ok(match kv.split_once('=') {
        Some((k, v)) => json!({"key": k, "operator": "Equal", "value": v, "effect": effect}),
        None => json!({"key": kv, "operator": "Exists", "effect": effect}),
    })
}

impl Module {
    fn protocols(&self) -> Vec<&str> {
        if self.protocols.is_empty() {
            vec!["tcp"]
        } else {
            self.protocols.iter().map(String::as_str).collect()
        }
    }

    /// The chains the rules go in: INPUT for ingress, OUTPUT for egress.
    fn chains(&self) -> Vec<&'static str> {
        let mut chains = Vec::new();
        if self.ingress {
            chains.push("INPUT");
        }
        if self.egress {
            chains.push("OUTPUT");
        }
        chains
    }

    fn rule_count(&self) -> usize {
        self.chains().len() * self.protocols().len() * self.ports.len()
    }

    /// What the rules do, for entries and logs: `DROP tcp/8080 ingress of pod demo/web`.
    fn fault(&self, pod: &str) -> String {
        let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        let dirs = match (self.ingress, self.egress) {
            (true, true) => "ingress and egress",
            (true, false) => "ingress",
            _ => "egress",
        };
        format!(
            "DROP {} port {} {dirs} of pod {}/{pod}",
            self.protocols().join("+"),
            ports.join(","),
            self.namespace
        )
    }

    /// The helper pod for `target`, tagged with entry `id`: pinned to the target's node, the
    /// host's PID namespace (to enter the target's network namespace), NET_ADMIN and
    /// SYS_ADMIN (setns) only, no service account token, and a deadline of its own.
    fn helper_pod(&self, id: &str, target: &Pod) -> Value {
        let uid = target.metadata.uid.clone().unwrap_or_default();
        let node = target.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
        let lasts = self.test_duration + HELPER_GRACE.as_secs();
        let mut command: Vec<String> = [HELPER_PROGRAM, "helper", "filter", "--tag", id]
            .iter()
            .map(|s| s.to_string())
            .collect();
        command.extend(["--pod-uid".into(), uid, "--for".into(), lasts.to_string()]);
        for chain in self.chains() {
            command.extend(["--chain".into(), chain.to_string()]);
        }
        for p in self.protocols() {
            command.extend(["--protocol".into(), p.to_string()]);
        }
        for port in &self.ports {
            command.extend(["--port".into(), port.to_string()]);
        }
        let tolerations: Vec<Value> =
            self.taints.iter().filter_map(|t| toleration(t).ok()).collect();
        let mut spec = json!({
            "nodeName": node,
            "hostPID": true,
            "restartPolicy": "Never",
            // The kubelet stops it even if the helper's own clock is wrong.
            "activeDeadlineSeconds": lasts + 30,
            "automountServiceAccountToken": false,
            "tolerations": tolerations,
            // Where the helper leaves its state for `status` and `remove` (read-only root).
            "volumes": [{"name": "state", "emptyDir": {"medium": "Memory"}}],
            "containers": [{
                "name": HELPER_CONTAINER,
                "image": helper_image(),
                "command": command,
                "volumeMounts": [{"name": "state", "mountPath": crate::helper::DEFAULT_STATE_DIR}],
                "securityContext": {
                    "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "SYS_ADMIN"]},
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                },
            }],
        });
        if let Some(sa) = self.service_account.as_deref().filter(|s| !s.is_empty()) {
            spec["serviceAccountName"] = json!(sa);
        }
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"labels": {"app.kubernetes.io/name": "chaosdeck-helper"}},
            "spec": spec,
        })
    }
}

/// The image the helper runs: chaosdeck's own, at this version.
pub fn helper_image() -> String {
    format!("chaosdeck:{}", env!("CARGO_PKG_VERSION"))
}

impl Plan {
    /// Running pods the module targets: the named pod, or up to `instance_count` pods its
    /// label selector picks.
    async fn targets(&self, ctx: &ScenarioCtx, m: &Module) -> Result<Vec<Pod>, ScenarioError> {
        let ns = &m.namespace;
        let params = match m.target.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(name) => ListParams::default().fields(&format!("metadata.name={name}")),
            None => ListParams::default().labels(m.label_selector.as_deref().unwrap_or("")),
        };
        let pods: Vec<Pod> = ctx.list_in::<Pod>(ns, &params).await?;
        let running: Vec<Pod> = pods
            .into_iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .take(m.instance_count)
            .collect();
        if running.is_empty() {
            let what = match &m.target {
                Some(t) if !t.trim().is_empty() => format!("pod {ns}/{t}"),
                _ => {
                    format!("pods matching {:?} in {ns}", m.label_selector.as_deref().unwrap_or(""))
                }
            };
            return Err(ScenarioError::Failed(format!("no running {what}")));
        }
        Ok(running)
    }

    /// Starts one helper and waits until it has applied its rules (read back through it).
    /// A helper that does not get there is stopped before the error is returned.
    async fn start(
        &self,
        ctx: &ScenarioCtx,
        m: &Module,
        target: &Pod,
    ) -> Result<Option<Change>, ScenarioError> {
        let name = target.metadata.name.clone().unwrap_or_default();
        let fault = m.fault(&name);
        let change =
            ctx.start_helper(&fault, &m.namespace, &fault, |id| m.helper_pod(id, target)).await?;
        if ctx.dry_run {
            let spec = m.helper_pod("<entry id>", target);
            ctx.log(format!(
                "dry run: the helper would be this pod (its name and rules tagged with the entry \
                 id): {}",
                serde_json::to_string(&spec["spec"]).unwrap_or_default()
            ));
            return Ok(None);
        }
        let tag =
            change.written.as_ref().map(|w| w.name.id()).ok_or_else(|| {
                ScenarioError::Internal("a helper started without an entry".into())
            })?;
        match ctx.helper_rules(&change.target, &tag, m.rule_count(), HELPER_START).await {
            Ok(n) if n == m.rule_count() => Ok(Some(change)),
            Ok(n) => {
                ctx.revert(&change).await?;
                Err(ScenarioError::Failed(format!(
                    "helper {} applied {n} rules, expected {}; stopped it",
                    change.target.display(),
                    m.rule_count()
                )))
            }
            Err(e) => {
                ctx.revert(&change).await?;
                Err(e)
            }
        }
    }
}

impl ScenarioPlan for Plan {
    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .modules
            .iter()
            .map(|m| {
                let who = match &m.target {
                    Some(t) if !t.trim().is_empty() => t.clone(),
                    _ => format!("[{}]", m.label_selector.as_deref().unwrap_or("")),
                };
                format!("{} for {} s", m.fault(&who), m.test_duration)
            })
            .collect();
        parts.join("; ")
    }

    fn expected(&self) -> Duration {
        Duration::from_secs(self.modules.iter().map(|m| m.test_duration + m.wait_duration).sum())
    }

    fn timeout(&self) -> Duration {
        self.expected() + HELPER_START * (self.modules.len() as u32 + 1) + Duration::from_secs(60)
    }

    fn needs(&self) -> Vec<Need> {
        let mut needs = Vec::new();
        for m in &self.modules {
            let ns = Some(m.namespace.as_str());
            needs.push(Need::new(Op::Change(Forward::StartHelper), POD, ns));
            needs.push(Need::new(Op::List, POD, ns));
        }
        needs
    }

    fn ignored_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.modules {
            let present = crate::krkn_only_present!(
                m,
                "_",
                [image, interfaces, latency, loss, bandwidth, force, recovery_time]
            );
            for key in present {
                let why = match key.as_str() {
                    "image" => "image (the helper is chaosdeck's own image)",
                    "interfaces" => "interfaces (the filter acts in the pod's network namespace)",
                    _ => continue,
                };
                if !out.iter().any(|o: &String| o == why) {
                    out.push(why.to_string());
                }
            }
        }
        out
    }

    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>> {
        Box::pin(async move {
            let started = Instant::now();
            for m in &self.modules {
                ctx.check_namespace(&m.namespace)?;
                ctx.step(format!("finding the pods of {} in {}", m.id, m.namespace));
                let targets = self.targets(ctx, m).await?;
                let serial = m.execution.as_deref() == Some("serial");
                let groups: Vec<Vec<&Pod>> = if serial {
                    targets.iter().map(|t| vec![t]).collect()
                } else {
                    vec![targets.iter().collect()]
                };
                for group in groups {
                    let mut changes = Vec::new();
                    for target in group {
                        match self.start(ctx, m, target).await {
                            Ok(Some(change)) => changes.push(change),
                            Ok(None) => {}
                            Err(e) => {
                                for c in changes.iter().rev() {
                                    ctx.revert(c).await?;
                                }
                                return Err(e);
                            }
                        }
                    }
                    let window = Duration::from_secs(m.test_duration);
                    ctx.hold(window, self.expected(), started).await?;
                    ctx.step("stopping the helpers");
                    for c in changes.iter().rev() {
                        ctx.revert(c).await?;
                    }
                }
                if m.wait_duration > 0 && !ctx.dry_run {
                    ctx.hold(Duration::from_secs(m.wait_duration), self.expected(), started)
                        .await?;
                }
            }
            Ok(Outcome::Passed)
        })
    }
}
