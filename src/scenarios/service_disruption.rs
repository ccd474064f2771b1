//! `service_disruption_scenarios`: `runs` times, pick `delete_count` namespaces matching
//! `namespace` (a regex) or `label_selector`, and delete every Service, DaemonSet,
//! StatefulSet, ReplicaSet and Deployment in them; `sleep` between runs; then put everything
//! back and wait (up to `wait_time`) for the re-created Deployments to be available.
//!
//! Krkn restores nothing. Here each object is snapshotted into an entry before its delete
//! (without status, uid, resourceVersion, managedFields; ownerReferences kept only to objects
//! that are not deleted with it), so an undo — the scenario's own, the auto rollback,
//! `execute-rollback` after a crash, the watchdog — re-creates it. Deletes go owned-first and
//! undos newest-first, so controllers come back before what they own; a ReplicaSet owned by a
//! Deployment is not deleted on its own (the Deployment's deletion takes it, and the
//! re-created Deployment makes a new one). Protected namespaces are never matched.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::ListParams;
use rand::seq::SliceRandom;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::ctx::{Change, ScenarioCtx};
use super::error::ScenarioError;
use super::file::{invalid, load_yaml};
use super::names::literal_namespace;
use super::needs::{
    DAEMONSET, DEPLOYMENT, Forward, NAMESPACE, Need, Op, REPLICASET, SERVICE, STATEFULSET,
};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::config::ConfigError;

pub struct Type;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    scenarios: Vec<Spec>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    label_selector: Option<String>,
    #[serde(default = "one", deserialize_with = "crate::config::bounds::count")]
    delete_count: usize,
    #[serde(default = "one", deserialize_with = "crate::config::bounds::count")]
    runs: usize,
    #[serde(default = "ten", deserialize_with = "crate::config::bounds::seconds")]
    sleep: u64,
    #[serde(default = "five_minutes", deserialize_with = "crate::config::bounds::seconds")]
    wait_time: u64,
}

fn one() -> usize {
    1
}
fn ten() -> u64 {
    10
}
fn five_minutes() -> u64 {
    300
}

struct Target {
    spec: Spec,
    namespace_re: Option<Regex>,
}

struct Plan(Vec<Target>);

/// The kinds deleted, in the order they are deleted (what they own first).
const KINDS: [(&str, &str); 5] = [SERVICE, REPLICASET, STATEFULSET, DAEMONSET, DEPLOYMENT];

impl ScenarioType for Type {
    fn name(&self) -> &'static str {
        "service_disruption_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let file: File = load_yaml(path)?;
        let mut targets = Vec::new();
        for (i, spec) in file.scenarios.into_iter().enumerate() {
            let item = |m: String| invalid(path, format!("scenarios item {}: {m}", i + 1));
            let pattern = spec.namespace.as_deref().filter(|p| !p.trim().is_empty());
            let selector = spec.label_selector.as_deref().filter(|s| !s.trim().is_empty());
            if pattern.is_none() && selector.is_none() {
                return Err(item("set namespace (a regex) or label_selector".into()));
            }
            let namespace_re =
                pattern.map(Regex::new).transpose().map_err(|e| item(format!("namespace: {e}")))?;
            targets.push(Target { spec, namespace_re });
        }
        if targets.is_empty() {
            return Err(invalid(path, "scenarios is empty"));
        }
        Ok(Box::new(Plan(targets)))
    }
}

/// `object` as it can be re-created: `ownerReferences` to any of `gone` (uids deleted with it)
/// dropped, the field removed when none is left. The server-owned fields go when the entry is
/// written ([`crate::journal::entry::creatable`]).
fn snapshot(mut object: Value, gone: &HashSet<String>) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(Value::Array(owners)) = meta.get_mut("ownerReferences") {
            owners.retain(|o| {
                o.get("uid").and_then(Value::as_str).is_none_or(|uid| !gone.contains(uid))
            });
        }
        if meta.get("ownerReferences").and_then(Value::as_array).is_some_and(Vec::is_empty) {
            meta.remove("ownerReferences");
        }
    }
    object
}

/// Whether a Deployment controls this object (a ReplicaSet it rolls out).
fn owned_by_deployment(object: &Value) -> bool {
    object.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_some_and(|o| {
        o.iter().any(|r| r.get("kind").and_then(Value::as_str) == Some("Deployment"))
    })
}

impl Target {
    fn describe(&self) -> String {
        let which = match (&self.spec.namespace, &self.spec.label_selector) {
            (Some(ns), _) if !ns.is_empty() => format!("namespaces matching {ns}"),
            (_, Some(sel)) => format!("namespaces labelled {sel}"),
            _ => "namespaces".into(),
        };
        format!(
            "delete the Services and workloads of {} of {which}, {} run(s)",
            self.spec.delete_count, self.spec.runs
        )
    }

    /// The namespaces this item may empty: matching, not protected, not chaosdeck's own.
    async fn namespaces(&self, ctx: &ScenarioCtx) -> Result<Vec<String>, ScenarioError> {
        let mut params = ListParams::default();
        if let Some(sel) = self.spec.label_selector.as_deref().filter(|s| !s.trim().is_empty()) {
            params = params.labels(sel);
        }
        let all = ctx.list_all::<Namespace>(&params).await?;
        Ok(all
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .filter(|n| self.namespace_re.as_ref().is_none_or(|re| re.is_match(n)))
            .filter(|n| ctx.check_namespace(n).is_ok())
            .collect())
    }

    /// Every object of the deleted kinds in `ns`, as JSON, in deletion order.
    async fn objects(ctx: &ScenarioCtx, ns: &str) -> Result<Vec<Value>, ScenarioError> {
        let lp = ListParams::default();
        let json = |v: Result<Value, serde_json::Error>| {
            v.map_err(|e| ScenarioError::Internal(format!("reading an object of {ns}: {e}")))
        };
        let mut out = Vec::new();
        for s in ctx.list_in::<Service>(ns, &lp).await? {
            out.push(json(serde_json::to_value(s))?);
        }
        for rs in ctx.list_in::<ReplicaSet>(ns, &lp).await? {
            out.push(json(serde_json::to_value(rs))?);
        }
        for s in ctx.list_in::<StatefulSet>(ns, &lp).await? {
            out.push(json(serde_json::to_value(s))?);
        }
        for d in ctx.list_in::<DaemonSet>(ns, &lp).await? {
            out.push(json(serde_json::to_value(d))?);
        }
        for d in ctx.list_in::<Deployment>(ns, &lp).await? {
            out.push(json(serde_json::to_value(d))?);
        }
        // A ReplicaSet a Deployment rolls out goes with its Deployment, and comes back with it.
        out.retain(|o| {
            !(o.get("kind") == Some(&Value::from("ReplicaSet")) && owned_by_deployment(o))
        });
        Ok(out)
    }

    /// Deletes what `ns` holds, each object's entry (its snapshot) written first.
    async fn empty(
        &self,
        ctx: &ScenarioCtx,
        ns: &str,
        changes: &mut Vec<Change>,
    ) -> Result<usize, ScenarioError> {
        let objects = Self::objects(ctx, ns).await?;
        let gone: HashSet<String> = objects
            .iter()
            .filter_map(|o| o.pointer("/metadata/uid").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        for object in &objects {
            let target = crate::refs::object_ref_of(object);
            let uid = object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
            let step = format!("deleted {}", target.display());
            ctx.step(format!("deleting {}", target.display()));
            let snapshot = snapshot(object.clone(), &gone);
            changes.push(ctx.delete(&step, target, uid, Some(snapshot), None).await?);
        }
        Ok(objects.len())
    }

    /// Waits until every re-created Deployment of `namespaces` is available, up to `wait_time`.
    async fn available(
        &self,
        ctx: &ScenarioCtx,
        namespaces: &[String],
    ) -> Result<(), ScenarioError> {
        let deadline = Instant::now() + Duration::from_secs(self.spec.wait_time);
        loop {
            let mut waiting = Vec::new();
            for ns in namespaces {
                for d in ctx.list_in::<Deployment>(ns, &ListParams::default()).await? {
                    let want = d.spec.replicas.unwrap_or(1);
                    let have = d.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
                    if have < want {
                        waiting.push(format!(
                            "{ns}/{} ({have}/{want})",
                            d.metadata.name.unwrap_or_default()
                        ));
                    }
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ScenarioError::Failed(format!(
                    "re-created Deployments not available within {} s: {}",
                    self.spec.wait_time,
                    waiting.join(", ")
                )));
            }
            ctx.checkpoint().await?;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl ScenarioPlan for Plan {
    fn describe(&self) -> String {
        self.0.iter().map(Target::describe).collect::<Vec<_>>().join("; ")
    }

    fn expected(&self) -> Duration {
        let secs: u64 = self.0.iter().map(|t| t.spec.sleep * t.spec.runs as u64).sum();
        Duration::from_secs(secs)
    }

    fn timeout(&self) -> Duration {
        let wait: u64 = self.0.iter().map(|t| t.spec.wait_time).sum();
        self.expected() * 2 + Duration::from_secs(wait + 120)
    }

    fn needs(&self) -> Vec<Need> {
        let mut needs = vec![Need::new(Op::List, NAMESPACE, None)];
        for t in &self.0 {
            let ns = t.namespace_re.as_ref().and_then(literal_namespace);
            for kind in KINDS {
                needs.push(Need::new(Op::List, kind, ns.as_deref()));
                needs.push(Need::new(Op::Change(Forward::Delete), kind, ns.as_deref()));
            }
            needs.push(Need::new(Op::List, DEPLOYMENT, ns.as_deref()));
        }
        needs.sort();
        needs.dedup();
        needs
    }

    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>> {
        Box::pin(async move {
            let started = Instant::now();
            for target in &self.0 {
                let mut changes = Vec::new();
                let mut emptied = Vec::new();
                for run in 0..target.spec.runs {
                    // As in Krkn, a later run may pick a namespace an earlier one emptied
                    // (nothing is put back until the runs are over): it then deletes nothing.
                    let mut candidates = target.namespaces(ctx).await?;
                    if candidates.is_empty() {
                        return Err(ScenarioError::Failed(format!(
                            "run {}: no namespace matches that is not protected",
                            run + 1
                        )));
                    }
                    candidates.shuffle(&mut rand::rng());
                    candidates.truncate(target.spec.delete_count);
                    for ns in candidates {
                        let n = target.empty(ctx, &ns, &mut changes).await?;
                        ctx.log(format!("run {}: deleted {n} object(s) in {ns}", run + 1));
                        if !emptied.contains(&ns) {
                            emptied.push(ns);
                        }
                    }
                    ctx.step(format!("namespaces emptied: {}", emptied.join(", ")));
                    let window = Duration::from_secs(target.spec.sleep);
                    ctx.hold(window, self.expected(), started).await?;
                }
                ctx.step(format!("re-creating {} object(s)", changes.len()));
                for change in changes.iter().rev() {
                    ctx.revert(change).await?;
                }
                if !ctx.dry_run {
                    target.available(ctx, &emptied).await?;
                    ctx.log(format!(
                        "{} object(s) re-created in {}; their Deployments available",
                        changes.len(),
                        emptied.join(", ")
                    ));
                }
            }
            Ok(Outcome::Passed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owner_references_to_deleted_objects_are_dropped() {
        let gone = HashSet::from(["u-deploy".to_string()]);
        let rs = json!({"metadata": {"ownerReferences": [
            {"kind": "Deployment", "uid": "u-deploy"}, {"kind": "Operator", "uid": "u-op"}]}});
        let kept = snapshot(rs, &gone);
        assert_eq!(
            kept["metadata"]["ownerReferences"],
            json!([{"kind": "Operator", "uid": "u-op"}])
        );
        let only =
            json!({"metadata": {"ownerReferences": [{"kind": "Deployment", "uid": "u-deploy"}]}});
        assert!(snapshot(only, &gone)["metadata"].get("ownerReferences").is_none());
    }
}
