//! `node_scenarios`, the actions that need only the Kubernetes API: cordon, taint, drain
//! (evictions honouring PDBs). Undo: uncordon, remove the exact taint. Cloud actions (stop,
//! reboot, ...) are recognised and skipped with the reason.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::ListParams;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ctx::Eviction;
use super::ctx::{Change, ScenarioCtx};
use super::error::ScenarioError;
use super::file::{KrknOnly, invalid, load_yaml};
use super::needs::{Forward, NODE, Need, Op, POD};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::config::ConfigError;
use crate::journal::ObjectRef;

pub struct Type;

const CORDON: &str = "node_cordon_scenario";
const TAINT: &str = "node_taint_scenario";
const DRAIN: &str = "node_drain_scenario";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    node_scenarios: Vec<Spec>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Spec {
    actions: Vec<String>,
    #[serde(default)]
    node_name: Option<String>,
    #[serde(default)]
    label_selector: Option<String>,
    #[serde(default = "one", deserialize_with = "crate::config::bounds::count")]
    instance_count: usize,
    #[serde(default = "one", deserialize_with = "crate::config::bounds::count")]
    runs: usize,
    #[serde(default = "timeout", deserialize_with = "crate::config::bounds::seconds")]
    timeout: u64,
    #[serde(default = "duration", deserialize_with = "crate::config::bounds::seconds")]
    duration: u64,
    #[serde(default)]
    cloud_type: Option<String>,
    #[serde(default)]
    taint: Option<TaintSpec>,
    // Krkn's keys for cloud and ssh actions, which chaosdeck does not perform.
    #[serde(default)]
    exclude_label: KrknOnly,
    #[serde(default)]
    parallel: KrknOnly,
    #[serde(default)]
    kube_check: KrknOnly,
    #[serde(default)]
    poll_interval: KrknOnly,
    #[serde(default)]
    soft_reboot: KrknOnly,
    #[serde(default)]
    service: KrknOnly,
    #[serde(default)]
    ssh_private_key: KrknOnly,
    #[serde(default)]
    helper_node_ip: KrknOnly,
    #[serde(default)]
    bmc_user: KrknOnly,
    #[serde(default)]
    bmc_password: KrknOnly,
    #[serde(default)]
    bmc_info: KrknOnly,
    #[serde(default)]
    disable_ssl_verification: KrknOnly,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct TaintSpec {
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default = "no_schedule")]
    effect: String,
}

fn one() -> usize {
    1
}
fn timeout() -> u64 {
    120
}
fn duration() -> u64 {
    30
}
fn no_schedule() -> String {
    "NoSchedule".into()
}

struct Plan(Vec<Spec>);

impl ScenarioType for Type {
    fn name(&self) -> &'static str {
        "node_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let file: File = load_yaml(path)?;
        for (i, spec) in file.node_scenarios.iter().enumerate() {
            if spec.actions.iter().any(|a| a == TAINT) {
                let taint = spec.taint.as_ref().ok_or_else(|| {
                    invalid(
                        path,
                        format!("item {}: {TAINT} needs `taint: {{key, value, effect}}`", i + 1),
                    )
                })?;
                if !matches!(taint.effect.as_str(), "NoSchedule" | "PreferNoSchedule" | "NoExecute")
                {
                    return Err(invalid(
                        path,
                        format!(
                            "item {}: taint effect {:?} is not NoSchedule, PreferNoSchedule or NoExecute",
                            i + 1,
                            taint.effect
                        ),
                    ));
                }
            }
        }
        Ok(Box::new(Plan(file.node_scenarios)))
    }
}

fn supported(action: &str) -> bool {
    matches!(action, CORDON | TAINT | DRAIN)
}

impl Spec {
    async fn nodes(&self, ctx: &ScenarioCtx) -> Result<Vec<String>, ScenarioError> {
        if let Some(names) = self.node_name.as_deref().filter(|n| !n.is_empty()) {
            return Ok(names
                .split(',')
                .map(|n| n.trim().to_string())
                .take(self.instance_count.max(1))
                .collect());
        }
        let mut params = ListParams::default();
        if let Some(sel) = self.label_selector.as_deref().filter(|s| !s.is_empty()) {
            params = params.labels(sel);
        }
        let mut names: Vec<String> = ctx
            .list_all::<Node>(&params)
            .await?
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        names.sort();
        names.truncate(self.instance_count.max(1));
        if names.is_empty() {
            return Err(ScenarioError::Failed(format!(
                "no node matches {:?}",
                self.label_selector.clone().unwrap_or_default()
            )));
        }
        Ok(names)
    }
}

async fn cordon(ctx: &ScenarioCtx, node: &str) -> Result<Option<Change>, ScenarioError> {
    let target = ObjectRef::new("v1", "Node", None, node);
    let current = ctx
        .get(&target)
        .await?
        .ok_or_else(|| ScenarioError::Failed(format!("node {node} not found")))?;
    if current.data.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        // Someone else cordoned it; uncordoning later would undo *their* change.
        ctx.log(format!("node {node} is already cordoned; leaving it as it is"));
        return Ok(None);
    }
    ctx.step(format!("cordoning {node}"));
    let change = ctx
        .patch(
            &format!("cordoned node {node}"),
            target,
            json!({"spec": {"unschedulable": true}}),
            json!({"spec": {"unschedulable": null}}),
        )
        .await?;
    Ok(Some(change))
}

async fn drain(ctx: &ScenarioCtx, node: &str, timeout: Duration) -> Result<(), ScenarioError> {
    let pods = ctx
        .list_all::<Pod>(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?;
    let deadline = Instant::now() + timeout;
    for pod in pods {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let owners = pod.metadata.owner_references.clone().unwrap_or_default();
        if owners.iter().any(|o| o.kind == "DaemonSet") || owners.is_empty() {
            ctx.log(format!("drain {node}: skipping {ns}/{name} (DaemonSet or no controller, as kubectl drain does)"));
            continue;
        }
        if ctx.check_namespace(&ns).is_err() {
            ctx.log(format!("drain {node}: skipping {ns}/{name} (protected namespace)"));
            continue;
        }
        loop {
            match ctx.evict(&format!("drain {node}"), &ns, &name).await? {
                Eviction::Evicted => {
                    ctx.step(format!("evicted {ns}/{name} from {node}"));
                    break;
                }
                Eviction::WouldEvict | Eviction::Gone => break,
                Eviction::Refused(why) if Instant::now() < deadline => {
                    ctx.step(format!("eviction of {ns}/{name} refused ({why}); retrying"));
                    tokio::select! {
                        _ = ctx.cancel.cancelled() => return Err(ScenarioError::Cancelled),
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
                Eviction::Refused(why) => {
                    return Err(ScenarioError::Failed(format!(
                        "drain {node}: evicting {ns}/{name}: still refused after {} s: {why}",
                        timeout.as_secs()
                    )));
                }
            }
        }
    }
    Ok(())
}

impl ScenarioPlan for Plan {
    fn ignored_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .0
            .iter()
            .flat_map(|s| {
                crate::krkn_only_present!(
                    s,
                    "_",
                    [
                        exclude_label,
                        parallel,
                        kube_check,
                        poll_interval,
                        soft_reboot,
                        service,
                        ssh_private_key,
                        helper_node_ip,
                        bmc_user,
                        bmc_password,
                        bmc_info,
                        disable_ssl_verification
                    ]
                )
            })
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|s| {
                let (ok, cloud): (Vec<&String>, Vec<&String>) =
                    s.actions.iter().partition(|a| supported(a));
                let mut d = format!(
                    "{} on {} node(s) for {} s",
                    ok.iter().map(|a| a.as_str()).collect::<Vec<_>>().join("+"),
                    s.instance_count,
                    s.duration
                );
                if !cloud.is_empty() {
                    d.push_str(&format!(
                        " (skipped, need cloud {}: {})",
                        s.cloud_type.clone().unwrap_or_default(),
                        cloud.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
                d
            })
            .collect();
        parts.join("; ")
    }

    fn expected(&self) -> Duration {
        Duration::from_secs(self.0.iter().map(|s| s.duration * s.runs.max(1) as u64).sum())
    }

    /// Nodes are cluster-scoped; a drain evicts pods in whichever namespace they run.
    fn needs(&self) -> Vec<Need> {
        let mut needs = Vec::new();
        for spec in self.0.iter().filter(|s| s.actions.iter().any(|a| supported(a))) {
            let has = |action: &str| spec.actions.iter().any(|a| a == action);
            if spec.node_name.as_deref().is_none_or(str::is_empty) {
                needs.push(Need::new(Op::List, NODE, None));
            }
            if has(CORDON) || has(DRAIN) {
                needs.push(Need::new(Op::Get, NODE, None));
                needs.push(Need::new(Op::Change(Forward::Patch), NODE, None));
            }
            if has(DRAIN) {
                needs.push(Need::new(Op::List, POD, None));
                needs.push(Need::new(Op::Evict, POD, None));
            }
            if has(TAINT) && spec.taint.is_some() {
                needs.push(Need::new(Op::Change(Forward::AddListItem), NODE, None));
            }
        }
        needs.sort();
        needs.dedup();
        needs
    }

    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>> {
        Box::pin(async move {
            let started = Instant::now();
            let mut did_something = false;
            let mut skipped = Vec::new();
            for spec in &self.0 {
                skipped.extend(spec.actions.iter().filter(|a| !supported(a)).cloned());
                if !spec.actions.iter().any(|a| supported(a)) {
                    continue;
                }
                did_something = true;
                for _ in 0..spec.runs.max(1) {
                    let mut changes = Vec::new();
                    for node in spec.nodes(ctx).await? {
                        if spec.actions.iter().any(|a| a == CORDON || a == DRAIN) {
                            changes.extend(cordon(ctx, &node).await?);
                        }
                        if spec.actions.iter().any(|a| a == DRAIN) {
                            drain(ctx, &node, Duration::from_secs(spec.timeout)).await?;
                        }
                        if let (true, Some(t)) =
                            (spec.actions.iter().any(|a| a == TAINT), &spec.taint)
                        {
                            let mut taint = json!({"key": t.key, "effect": t.effect});
                            if let Some(v) = &t.value {
                                taint["value"] = json!(v);
                            }
                            ctx.step(format!("tainting {node} with {}", t.key));
                            let target = ObjectRef::new("v1", "Node", None, &node);
                            changes.push(
                                ctx.add_list_item(
                                    &format!("tainted node {node} with {taint}"),
                                    target,
                                    "/spec/taints",
                                    taint,
                                )
                                .await?,
                            );
                        }
                    }
                    ctx.hold(Duration::from_secs(spec.duration), self.expected(), started).await?;
                    for change in changes.iter().rev() {
                        ctx.step(format!("restoring {}", change.target.display()));
                        ctx.revert(change).await?;
                    }
                }
            }
            if !did_something {
                return Ok(Outcome::Skipped(format!(
                    "actions need a cloud provider, not supported here: {}",
                    skipped.join(", ")
                )));
            }
            if !skipped.is_empty() {
                ctx.log(format!("node_scenarios: skipped cloud actions {}", skipped.join(", ")));
            }
            Ok(Outcome::Passed)
        })
    }
}
