//! `hog_scenarios` (cpu, memory, io): one hog pod per selected node, created from concurrent
//! tasks, each with its own entry; undo: delete each pod.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, join_all};
use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ctx::ScenarioCtx;
use super::error::ScenarioError;
use super::file::{invalid, load_yaml};
use super::names::random_name;
use super::needs::{Forward, NODE, Need, Op, POD};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::config::{ConfigError, bounds};

pub struct Type;

#[derive(Deserialize, Clone)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Spec {
    #[serde(deserialize_with = "crate::config::bounds::seconds")]
    duration: u64,
    #[serde(default = "default_image")]
    image: String,
    #[serde(default = "default_ns")]
    namespace: String,
    hog_type: String,
    #[serde(default)]
    workers: Option<Value>,
    #[serde(default, deserialize_with = "crate::config::bounds::count_u64_opt")]
    cpu_load_percentage: Option<u64>,
    #[serde(default)]
    cpu_method: Option<String>,
    #[serde(default)]
    memory_vm_bytes: Option<String>,
    #[serde(default)]
    io_block_size: Option<String>,
    #[serde(default)]
    io_write_bytes: Option<String>,
    #[serde(default)]
    io_target_pod_folder: Option<String>,
    #[serde(default)]
    io_target_pod_volume: Option<Value>,
    #[serde(default)]
    node_selector: Option<String>,
    #[serde(default)]
    node_name: Option<String>,
    /// A count, or empty for every matching node (Krkn's files use `''`).
    #[serde(default)]
    number_of_nodes: Option<Value>,
    #[serde(default)]
    taints: Vec<String>,
}

fn default_image() -> String {
    "quay.io/krkn-chaos/krkn-hog".into()
}
fn default_ns() -> String {
    "default".into()
}
struct Plan {
    spec: Spec,
    /// `None`: every matching node.
    nodes: Option<usize>,
}

impl ScenarioType for Type {
    fn name(&self) -> &'static str {
        "hog_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let spec: Spec = load_yaml(path)?;
        if !matches!(spec.hog_type.as_str(), "cpu" | "memory" | "io") {
            return Err(invalid(
                path,
                format!("hog-type is {:?}; expected cpu, memory or io", spec.hog_type),
            ));
        }
        for taint in &spec.taints {
            parse_taint(taint).ok_or_else(|| {
                invalid(path, format!("taint {taint:?} is not key[=value]:Effect"))
            })?;
        }
        let nodes = match &spec.number_of_nodes {
            None | Some(Value::Null) => Some(1),
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => {
                let n: u64 = s
                    .trim()
                    .parse()
                    .map_err(|_| invalid(path, format!("number-of-nodes {s:?} is not a number")))?;
                Some(bounds::check_count(n).map_err(|e| invalid(path, e))?)
            }
            Some(Value::Number(n)) => {
                let n = n
                    .as_u64()
                    .ok_or_else(|| invalid(path, format!("number-of-nodes {n} is not a count")))?;
                Some(bounds::check_count(n).map_err(|e| invalid(path, e))?)
            }
            Some(other) => {
                return Err(invalid(path, format!("number-of-nodes {other} is not a number")));
            }
        };
        Ok(Box::new(Plan { spec, nodes }))
    }
}

/// `key[=value]:Effect` → a toleration.
fn parse_taint(raw: &str) -> Option<Value> {
    let (kv, effect) = raw.rsplit_once(':')?;
    let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
    if key.is_empty() {
        return None;
    }
    Some(if value.is_empty() {
        json!({"key": key, "operator": "Exists", "effect": effect})
    } else {
        json!({"key": key, "operator": "Equal", "value": value, "effect": effect})
    })
}

impl Plan {
    async fn nodes(&self, ctx: &ScenarioCtx) -> Result<Vec<String>, ScenarioError> {
        if let Some(name) = self.spec.node_name.as_deref().filter(|n| !n.is_empty()) {
            return Ok(name.split(',').map(|n| n.trim().to_string()).collect());
        }
        let mut params = ListParams::default();
        if let Some(sel) = self.spec.node_selector.as_deref().filter(|s| !s.is_empty()) {
            params = params.labels(sel);
        }
        let mut names: Vec<String> = ctx
            .list_all::<Node>(&params)
            .await?
            .into_iter()
            .filter(|n| !n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false))
            .filter_map(|n| n.metadata.name)
            .collect();
        if names.is_empty() {
            return Err(ScenarioError::Failed(format!(
                "no schedulable node matches node-selector {:?}",
                self.spec.node_selector.clone().unwrap_or_default()
            )));
        }
        names.sort();
        if let Some(n) = self.nodes {
            names.truncate(n.max(1));
        }
        Ok(names)
    }

    fn pod(&self, node: &str) -> Value {
        let s = &self.spec;
        let name = random_name(&format!("{}-hog", s.hog_type), 5);
        let env = |k: &str, v: Option<String>| json!({"name": k, "value": v.unwrap_or_default()});
        let tolerations: Vec<Value> = s.taints.iter().filter_map(|t| parse_taint(t)).collect();
        let mut pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": s.namespace},
            "spec": {
                "restartPolicy": "Never",
                "nodeSelector": {"kubernetes.io/hostname": node},
                "tolerations": tolerations,
                "containers": [{
                    "name": "hog",
                    "image": s.image,
                    "env": [
                        env("HOG_TYPE", Some(s.hog_type.clone())),
                        env("DURATION", Some(s.duration.to_string())),
                        env("WORKERS", s.workers.as_ref().map(|w| w.as_str().map(str::to_string).unwrap_or_else(|| w.to_string()))),
                        env("LOAD_PERCENTAGE", s.cpu_load_percentage.map(|p| p.to_string())),
                        env("CPU_METHOD", s.cpu_method.clone()),
                        env("VM_BYTES", s.memory_vm_bytes.clone()),
                        env("HDD_BYTES", s.io_write_bytes.clone()),
                        env("HDD_WRITE_SIZE", s.io_block_size.clone()),
                        env("STRESS_PATH", s.io_target_pod_folder.clone()),
                    ],
                }],
            },
        });
        if let (Some(volume), Some(folder)) = (&s.io_target_pod_volume, &s.io_target_pod_folder) {
            pod["spec"]["volumes"] = json!([volume]);
            let vname = volume.get("name").cloned().unwrap_or(Value::Null);
            pod["spec"]["containers"][0]["volumeMounts"] =
                json!([{"name": vname, "mountPath": folder}]);
        }
        pod
    }
}

impl ScenarioPlan for Plan {
    fn describe(&self) -> String {
        let nodes = self.nodes.map(|n| n.to_string()).unwrap_or_else(|| "every matching".into());
        format!("{} hog on {nodes} node(s) for {} s", self.spec.hog_type, self.spec.duration)
    }

    fn expected(&self) -> Duration {
        Duration::from_secs(self.spec.duration)
    }

    fn needs(&self) -> Vec<Need> {
        let mut needs =
            vec![Need::new(Op::Change(Forward::Create), POD, Some(&self.spec.namespace))];
        if self.spec.node_name.as_deref().is_none_or(str::is_empty) {
            needs.push(Need::new(Op::List, NODE, None));
        }
        needs
    }

    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>> {
        Box::pin(async move {
            let started = Instant::now();
            ctx.check_namespace(&self.spec.namespace)?;
            let nodes = self.nodes(ctx).await?;
            ctx.step(format!("starting {} hog pods on {}", self.spec.hog_type, nodes.join(", ")));
            // One task per node, like Krkn; every pod gets its own entry (Krkn D1/D2 lost them).
            let results = join_all(nodes.iter().map(|node| {
                let pod = self.pod(node);
                async move {
                    ctx.create(
                        &format!("created {} hog pod on node {node}", self.spec.hog_type),
                        pod,
                    )
                    .await
                }
            }))
            .await;
            let mut changes = Vec::new();
            let mut first_error = None;
            for r in results {
                match r {
                    Ok(c) => changes.push(c),
                    Err(e) => first_error = first_error.or(Some(e)),
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
            ctx.step(format!("hogging for {} s", self.spec.duration));
            ctx.hold(self.expected(), self.expected(), started).await?;
            ctx.step("deleting hog pods");
            for r in join_all(changes.iter().map(|c| ctx.revert(c))).await {
                r?;
            }
            Ok(Outcome::Passed)
        })
    }
}
