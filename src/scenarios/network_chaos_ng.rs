//! `network_chaos_ng_scenarios`: Krkn's list-of-modules file, with the modules
//! `pod_network_filter`, `node_network_filter` (DROP traffic on some ports),
//! `pod_network_chaos`, `node_network_chaos` (netem: latency, loss, bandwidth on egress) and
//! `node_interface_down` (a node's interfaces down for `recovery_time`), each through
//! chaosdeck's helper pod on the target's node.
//!
//! Beyond Krkn (which registers no rollback for these modules, Krkn #1495): the entry that
//! stops the helper is durable and mirrored before the helper is created; every rule the helper
//! applies carries the entry id as its comment and every qdisc the entry's handle, so the undo
//! removes exactly those and reads the tables again; and the helper removes them by itself at
//! `test_duration` plus a grace, whether or not anyone is left to tell it — for an interface
//! down, at exactly `recovery_time`, since the node is cut off and nobody else can. Modules not
//! built (the `vmi_*` ones) and ingress shaping are refused when the file is read, naming the
//! module.
//!
//! Must not touch the targets themselves: everything goes through the helper.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::ListParams;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ctx::{Change, ScenarioCtx};
use super::error::ScenarioError;
use super::file::{KrknOnly, invalid, load_yaml};
use super::needs::{Forward, NODE, Need, Op, POD};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::cluster::exec::HELPER_PROGRAM;
use crate::config::ConfigError;
use crate::helper::pod::{HELPER_GRACE, HelperPod, helper_pod};

pub struct Type;

/// How long a helper may take to start and apply its fault before the scenario gives up (and
/// stops it).
const HELPER_START: Duration = Duration::from_secs(60);

/// Labels that mark a node the control plane (and so the API server) runs on.
const CONTROL_PLANE_LABELS: [&str; 2] =
    ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"];

/// One module of a Krkn `network_chaos_ng` file (models.py's common fields, the filter's and
/// the chaos modules').
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
    interfaces: Vec<String>,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    protocols: Vec<String>,
    #[serde(default)]
    latency: Option<String>,
    #[serde(default)]
    loss: Option<serde_json::Value>,
    #[serde(default)]
    bandwidth: Option<String>,
    #[serde(default)]
    force: KrknOnly,
    #[serde(default)]
    recovery_time: Option<u64>,
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

/// What a module does to its targets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Filter,
    Chaos,
    LinkDown,
}

/// Whom.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scope {
    Pod,
    Node,
}

fn kind_of(id: &str) -> Option<(Scope, Kind)> {
    Some(match id {
        "pod_network_filter" => (Scope::Pod, Kind::Filter),
        "node_network_filter" => (Scope::Node, Kind::Filter),
        "pod_network_chaos" => (Scope::Pod, Kind::Chaos),
        "node_network_chaos" => (Scope::Node, Kind::Chaos),
        "node_interface_down" => (Scope::Node, Kind::LinkDown),
        _ => return None,
    })
}

/// One target: a pod (uid, name, node) or a node.
struct Target {
    name: String,
    node: String,
    pod_uid: Option<String>,
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
            m.check().map_err(|why| invalid(path, format!("{at}: {why}")))?;
        }
        Ok(Box::new(Plan { modules }))
    }
}

impl Module {
    fn kind(&self) -> (Scope, Kind) {
        // Checked when the file was read.
        kind_of(&self.id).unwrap_or((Scope::Pod, Kind::Filter))
    }

    fn check(&self) -> Result<(), String> {
        let Some((scope, kind)) = kind_of(&self.id) else {
            return Err("not supported yet; chaosdeck runs pod_network_filter, \
                        node_network_filter, pod_network_chaos, node_network_chaos and \
                        node_interface_down (the other modules are refused rather than run \
                        half-way)"
                .into());
        };
        if self.namespace.trim().is_empty() {
            return Err("namespace must name a namespace".into());
        }
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&self.target) && blank(&self.label_selector) {
            return Err("set target or label_selector".into());
        }
        if !matches!(self.execution.as_deref(), None | Some("serial" | "parallel")) {
            return Err("execution is serial or parallel".into());
        }
        if self.instance_count == 0 {
            return Err("instance_count is at least 1".into());
        }
        crate::config::bounds::check_seconds(self.test_duration)?;
        crate::config::bounds::check_seconds(self.wait_duration)?;
        for t in &self.taints {
            toleration(t)?;
        }
        for dev in &self.interfaces {
            crate::helper::check_dev(dev)?;
        }
        match kind {
            Kind::Filter => {
                if !self.ingress && !self.egress {
                    return Err("neither ingress nor egress is true".into());
                }
                if self.ports.is_empty() || self.ports.contains(&0) {
                    return Err("ports must list ports 1 to 65535".into());
                }
                if let Some(p) =
                    self.protocols.iter().find(|p| !matches!(p.as_str(), "tcp" | "udp"))
                {
                    return Err(format!("protocol {p:?} is not tcp or udp"));
                }
            }
            Kind::Chaos => {
                if self.ingress {
                    return Err("ingress shaping (an ifb device) is not supported yet; set \
                                ingress: false (egress is shaped at the interface's root)"
                        .into());
                }
                if !self.egress {
                    return Err("egress is false: nothing would be shaped".into());
                }
                if scope == Scope::Node && self.interfaces.is_empty() {
                    return Err("node_network_chaos needs interfaces (the node's devices to \
                                shape)"
                        .into());
                }
                crate::helper::check_netem(
                    self.latency().as_deref(),
                    self.loss().as_deref(),
                    self.bandwidth().as_deref(),
                )?;
            }
            Kind::LinkDown => {
                if self.interfaces.is_empty() {
                    return Err("node_interface_down needs interfaces (the node's devices to set \
                                down)"
                        .into());
                }
                match self.recovery_time {
                    Some(secs) if secs > 0 => crate::config::bounds::check_seconds(secs)?,
                    _ => {
                        return Err("node_interface_down needs recovery_time (seconds until the \
                                    interfaces come back up)"
                            .into());
                    }
                };
            }
        }
        Ok(())
    }

    /// The chaos window: `recovery_time` for an interface down, else `test_duration`.
    fn window(&self) -> u64 {
        match self.kind().1 {
            Kind::LinkDown => self.recovery_time.unwrap_or(0),
            _ => self.test_duration,
        }
    }

    /// How long the helper holds the fault before removing it by itself: an interface comes
    /// back at exactly `recovery_time` (nobody else can reach the node meanwhile); the others
    /// a grace after the window, so the run's own undo comes first.
    fn helper_seconds(&self) -> u64 {
        match self.kind().1 {
            Kind::LinkDown => self.window(),
            _ => self.window() + HELPER_GRACE.as_secs(),
        }
    }

    /// Krkn's zero values (`latency: 0s`, `loss: 0`) mean "not this one".
    fn latency(&self) -> Option<String> {
        let l = self.latency.as_deref()?.trim();
        let digits = l.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        digits.chars().any(|c| c != '0').then(|| l.to_string())
    }

    fn loss(&self) -> Option<String> {
        let text = match &self.loss {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.trim().to_string(),
            _ => return None,
        };
        (text != "0" && !text.is_empty()).then_some(text)
    }

    fn bandwidth(&self) -> Option<String> {
        self.bandwidth.clone().filter(|b| !b.trim().is_empty())
    }

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

    /// The devices netem shapes: the module's interfaces, or a pod's eth0.
    fn devs(&self) -> Vec<String> {
        if self.interfaces.is_empty() { vec!["eth0".into()] } else { self.interfaces.clone() }
    }

    /// How many rules or qdiscs the helper holds once applied.
    fn parts(&self) -> usize {
        match self.kind().1 {
            Kind::Filter => self.chains().len() * self.protocols().len() * self.ports.len(),
            Kind::Chaos | Kind::LinkDown => self.devs().len(),
        }
    }

    fn whom(&self, t: &Target) -> String {
        match self.kind().0 {
            Scope::Pod => format!("pod {}/{}", self.namespace, t.name),
            Scope::Node => format!("node {}", t.name),
        }
    }

    /// What the helper does, for entries and logs: `DROP tcp port 8080 ingress of pod
    /// demo/web`, `netem delay 100ms on eth0 of pod demo/web (qdisc handle 1a2b:)`.
    fn fault(&self, t: &Target, id: &str) -> String {
        match self.kind().1 {
            Kind::Filter => {
                let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
                let dirs = match (self.ingress, self.egress) {
                    (true, true) => "ingress and egress",
                    (true, false) => "ingress",
                    _ => "egress",
                };
                format!(
                    "DROP {} port {} {dirs} of {}",
                    self.protocols().join("+"),
                    ports.join(","),
                    self.whom(t)
                )
            }
            Kind::Chaos => {
                let mut what = Vec::new();
                if let Some(l) = self.latency() {
                    what.push(format!("delay {l}"));
                }
                if let Some(l) = self.loss() {
                    what.push(format!("loss {l}%"));
                }
                if let Some(b) = self.bandwidth() {
                    what.push(format!("rate {b}"));
                }
                format!(
                    "netem {} on {} of {} (qdisc handle {:x}:)",
                    what.join(" "),
                    self.devs().join(","),
                    self.whom(t),
                    crate::helper::handle_of(id)
                )
            }
            Kind::LinkDown => format!(
                "link down {} of {} for {} s",
                self.devs().join(","),
                self.whom(t),
                self.window()
            ),
        }
    }

    /// The helper's command line for target `t`, tagged with entry `id`.
    fn command(&self, id: &str, t: &Target) -> Vec<String> {
        let lasts = self.helper_seconds();
        let verb = match self.kind().1 {
            Kind::Filter => "filter",
            Kind::Chaos => "netem",
            Kind::LinkDown => "link-down",
        };
        let mut c: Vec<String> =
            [HELPER_PROGRAM, "helper", verb, "--tag", id].iter().map(|s| s.to_string()).collect();
        match &t.pod_uid {
            Some(uid) => c.extend(["--pod-uid".into(), uid.clone()]),
            None => c.extend(["--node".into(), t.node.clone()]),
        }
        c.extend(["--for".into(), lasts.to_string()]);
        let mut flag = |name: &str, value: &str| c.extend([name.to_string(), value.to_string()]);
        match self.kind().1 {
            Kind::Filter => {
                self.chains().iter().for_each(|v| flag("--chain", v));
                self.protocols().iter().for_each(|v| flag("--protocol", v));
                self.ports.iter().for_each(|p| flag("--port", &p.to_string()));
            }
            Kind::Chaos => {
                self.devs().iter().for_each(|d| flag("--dev", d));
                flag("--handle", &format!("{:x}", crate::helper::handle_of(id)));
                if let Some(l) = self.latency() {
                    flag("--delay", &l);
                }
                if let Some(l) = self.loss() {
                    flag("--loss", &l);
                }
                if let Some(b) = self.bandwidth() {
                    flag("--rate", &b);
                }
            }
            Kind::LinkDown => self.devs().iter().for_each(|d| flag("--dev", d)),
        }
        c
    }

    /// The helper pod for target `t`, tagged with entry `id`: NET_ADMIN only — plus, for a
    /// pod's namespace, the host's PID namespace, SYS_ADMIN (setns) and SYS_PTRACE (opening
    /// another user's, or a more capable process's, `/proc/<pid>/ns/net`: the pod's processes
    /// are both); for the node's own, hostNetwork.
    fn helper_pod(&self, id: &str, t: &Target) -> Value {
        let on_pod = t.pod_uid.is_some();
        helper_pod(HelperPod {
            node: &t.node,
            command: self.command(id, t),
            seconds: self.helper_seconds(),
            capabilities: if on_pod {
                &["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"]
            } else {
                &["NET_ADMIN"]
            },
            host_pid: on_pod,
            host_network: !on_pod,
            cgroups: false,
            tolerations: self.taints.iter().filter_map(|t| toleration(t).ok()).collect(),
            service_account: self.service_account.as_deref(),
        })
    }
}

/// A Krkn taint (`key[=value]:Effect`) as the toleration the helper needs to run beside it.
pub(super) fn toleration(taint: &str) -> Result<Value, String> {
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

fn named(m: &Module) -> Option<&str> {
    m.target.as_deref().filter(|t| !t.trim().is_empty())
}

impl Plan {
    /// The module's targets: running pods, or Ready nodes (never one of the control plane's
    /// unless the module names it as its `target`).
    async fn targets(&self, ctx: &ScenarioCtx, m: &Module) -> Result<Vec<Target>, ScenarioError> {
        let params = match named(m) {
            Some(name) => ListParams::default().fields(&format!("metadata.name={name}")),
            None => ListParams::default().labels(m.label_selector.as_deref().unwrap_or("")),
        };
        let found: Vec<Target> = match m.kind().0 {
            Scope::Pod => ctx
                .list_in::<Pod>(&m.namespace, &params)
                .await?
                .into_iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .map(|p| Target {
                    name: p.metadata.name.clone().unwrap_or_default(),
                    node: p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default(),
                    pod_uid: p.metadata.uid.clone(),
                })
                .collect(),
            Scope::Node => {
                let mut nodes = Vec::new();
                for n in ctx.list_all::<Node>(&params).await? {
                    let name = n.metadata.name.clone().unwrap_or_default();
                    let labels = n.metadata.labels.clone().unwrap_or_default();
                    let control_plane =
                        CONTROL_PLANE_LABELS.iter().any(|l| labels.contains_key(*l));
                    if control_plane && named(m).is_none() {
                        ctx.log(format!(
                            "{}: node {name} runs the control plane; not a target unless named \
                             as the module's target",
                            m.id
                        ));
                        continue;
                    }
                    nodes.push(Target { node: name.clone(), name, pod_uid: None });
                }
                nodes
            }
        };
        let found: Vec<Target> = found.into_iter().take(m.instance_count).collect();
        if found.is_empty() {
            let what = match (m.kind().0, named(m)) {
                (Scope::Pod, Some(t)) => format!("running pod {}/{t}", m.namespace),
                (Scope::Pod, None) => format!(
                    "running pods matching {:?} in {}",
                    m.label_selector.as_deref().unwrap_or(""),
                    m.namespace
                ),
                (Scope::Node, Some(t)) => format!("node {t}"),
                (Scope::Node, None) => format!(
                    "nodes matching {:?} outside the control plane",
                    m.label_selector.as_deref().unwrap_or("")
                ),
            };
            return Err(ScenarioError::Failed(format!("no {what}")));
        }
        Ok(found)
    }

    /// Starts one helper and waits until its fault is in force (read back through it). A
    /// helper that does not get there is stopped before the error is returned.
    async fn start(
        &self,
        ctx: &ScenarioCtx,
        m: &Module,
        t: &Target,
    ) -> Result<Option<Change>, ScenarioError> {
        let fault = |id: &str| m.fault(t, id);
        let step = m.fault(t, "<entry id>");
        let change = ctx.start_helper(&step, &m.namespace, fault, |id| m.helper_pod(id, t)).await?;
        if ctx.dry_run {
            let spec = m.helper_pod("<entry id>", t);
            ctx.log(format!(
                "dry run: the helper would be this pod (its name and fault tagged with the entry \
                 id): {}",
                serde_json::to_string(&spec["spec"]).unwrap_or_default()
            ));
            return Ok(None);
        }
        let tag =
            change.written.as_ref().map(|w| w.name.id()).ok_or_else(|| {
                ScenarioError::Internal("a helper started without an entry".into())
            })?;
        // An interface down cuts the node off: nothing can read it back; running is the proof.
        let expected = (m.kind().1 != Kind::LinkDown).then(|| m.parts());
        match ctx.helper_rules(&change.target, &tag, expected, HELPER_START).await {
            Ok(_) if expected.is_none() => Ok(Some(change)),
            Ok(n) if n == m.parts() => Ok(Some(change)),
            Ok(n) => {
                ctx.revert(&change).await?;
                Err(ScenarioError::Failed(format!(
                    "helper {} holds {n} of its {} rules; stopped it",
                    change.target.display(),
                    m.parts()
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
                let who = named(m)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("[{}]", m.label_selector.as_deref().unwrap_or("")));
                let t = Target { name: who.clone(), node: who, pod_uid: None };
                format!("{} for {} s", m.fault(&t, "-"), m.window())
            })
            .collect();
        parts.join("; ")
    }

    fn expected(&self) -> Duration {
        Duration::from_secs(self.modules.iter().map(|m| m.window() + m.wait_duration).sum())
    }

    fn timeout(&self) -> Duration {
        self.expected() + HELPER_START * (self.modules.len() as u32 + 1) + Duration::from_secs(60)
    }

    fn needs(&self) -> Vec<Need> {
        let mut needs = Vec::new();
        for m in &self.modules {
            let ns = Some(m.namespace.as_str());
            needs.push(Need::new(Op::Change(Forward::StartHelper), POD, ns));
            needs.push(match m.kind().0 {
                Scope::Pod => Need::new(Op::List, POD, ns),
                Scope::Node => Need::new(Op::List, NODE, None),
            });
        }
        needs
    }

    fn ignored_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.modules {
            let present = crate::krkn_only_present!(m, "_", [image, force]);
            for key in present {
                let why = match key.as_str() {
                    "image" => "image (the helper is chaosdeck's own image)",
                    "force" => "force",
                    _ => continue,
                };
                if !out.iter().any(|o: &String| o == why) {
                    out.push(why.to_string());
                }
            }
            if m.kind() == (Scope::Pod, Kind::Filter) && !m.interfaces.is_empty() {
                let why = "interfaces (a pod's filter acts in its whole network namespace)";
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
                ctx.step(format!("finding the targets of {}", m.id));
                let targets = self.targets(ctx, m).await?;
                let serial = m.execution.as_deref() == Some("serial");
                let groups: Vec<Vec<&Target>> = if serial {
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
                    let window = Duration::from_secs(m.window());
                    ctx.hold(window, self.expected(), started).await?;
                    if m.kind().1 == Kind::LinkDown && !ctx.dry_run {
                        // Cut off until its own deadline: wait for it to bring the links back.
                        ctx.step("waiting for the interfaces to come back up");
                        for c in &changes {
                            if !ctx.helper_ended(&c.target, HELPER_START).await? {
                                ctx.log(format!(
                                    "helper {} still runs {} s after recovery_time",
                                    c.target.display(),
                                    HELPER_START.as_secs()
                                ));
                            }
                        }
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Box<dyn ScenarioPlan>, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("net.yaml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Type.load(&path).map_err(|e| e.to_string())
    }

    const FILTER: &str = "- id: pod_network_filter\n  namespace: shop\n  label_selector: app=web\n  ingress: true\n  ports: [8080]\n";

    #[test]
    fn what_is_not_built_is_refused_when_the_file_is_read() {
        assert!(load(FILTER).is_ok());
        let down = format!("{FILTER}- id: vmi_network_chaos\n  target: w1\n");
        let err = load(&down).err().unwrap_or_default();
        assert!(err.contains("module 2 (vmi_network_chaos): not supported yet"), "{err}");
        let down = "- id: node_interface_down\n  target: w1\n  interfaces: [eth0]\n";
        let err = load(down).err().unwrap_or_default();
        assert!(err.contains("needs recovery_time"), "{err}");
        let ingress = "- id: pod_network_chaos\n  namespace: shop\n  target: web-0\n  ingress: true\n  egress: true\n  latency: 50ms\n";
        let err = load(ingress).err().unwrap_or_default();
        assert!(err.contains("ingress shaping (an ifb device) is not supported yet"), "{err}");
        let bad = "- id: pod_network_chaos\n  namespace: shop\n  target: web-0\n  egress: true\n  latency: 50\n";
        let err = load(bad).err().unwrap_or_default();
        assert!(err.contains("latency \"50\" is not like 100ms"), "{err}");
        let nic = "- id: node_network_chaos\n  target: w1\n  egress: true\n  interfaces: [\"eth0; reboot\"]\n  loss: 5\n";
        let err = load(nic).err().unwrap_or_default();
        assert!(err.contains("is not an interface name"), "{err}");
    }

    #[test]
    fn krkn_zero_values_mean_not_set() {
        let zero = "- id: pod_network_chaos\n  namespace: shop\n  target: web-0\n  egress: true\n  latency: 0s\n  loss: 0\n  bandwidth: 1gbit\n";
        let plan = load(zero).map(|p| p.describe()).unwrap_or_default();
        assert!(plan.starts_with("netem rate 1gbit on eth0 of pod shop/web-0"), "{plan}");
        let nothing = "- id: pod_network_chaos\n  namespace: shop\n  target: web-0\n  egress: true\n  latency: 0ms\n  loss: 0\n";
        let err = load(nothing).err().unwrap_or_default();
        assert!(err.contains("neither latency, loss nor bandwidth is set"), "{err}");
    }
}
