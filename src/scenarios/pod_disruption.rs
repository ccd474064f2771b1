//! `pod_disruption_scenarios`: kill matching pods (serial or parallel), then require
//! replacements Running and Ready within `krkn_pod_recovery_time`. Beyond Krkn: a pod no
//! controller owns is snapshotted into an entry first, and re-created.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::ListParams;
use rand::seq::SliceRandom;
use regex::Regex;
use serde::Deserialize;

use super::ctx::{Change, ScenarioCtx};
use super::error::ScenarioError;
use super::file::{KrknOnly, invalid, load_yaml};
use super::names::literal_namespace;
use super::needs::{Forward, NAMESPACE, Need, Op, POD};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::config::ConfigError;
use crate::journal::ObjectRef;

pub struct Type;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    #[serde(default)]
    id: Option<String>,
    config: Spec,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    name_pattern: Option<String>,
    #[serde(default)]
    namespace_pattern: Option<String>,
    #[serde(default)]
    label_selector: Option<String>,
    #[serde(default = "one", deserialize_with = "crate::config::bounds::count")]
    kill: usize,
    #[serde(default = "recovery", deserialize_with = "crate::config::bounds::seconds")]
    krkn_pod_recovery_time: u64,
    #[serde(default)]
    execution: Option<String>,
    #[serde(default)]
    exclude_label: Option<String>,
    #[serde(default)]
    node_names: Vec<String>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    timeout: KrknOnly,
    #[serde(default)]
    duration: KrknOnly,
    #[serde(default)]
    node_label_selector: KrknOnly,
}

fn one() -> usize {
    1
}
fn recovery() -> u64 {
    120
}

struct Target {
    id: String,
    spec: Spec,
    namespace_re: Regex,
    name_re: Option<Regex>,
}

struct Plan(Vec<Target>);

impl ScenarioType for Type {
    fn name(&self) -> &'static str {
        "pod_disruption_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let items: Vec<Item> = load_yaml(path)?;
        let mut targets = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let spec = item.config;
            let ns = spec.namespace_pattern.clone().unwrap_or_else(|| "^default$".into());
            let namespace_re = Regex::new(&ns)
                .map_err(|e| invalid(path, format!("item {}: namespace_pattern: {e}", i + 1)))?;
            let name_re = spec
                .name_pattern
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(Regex::new)
                .transpose()
                .map_err(|e| invalid(path, format!("item {}: name_pattern: {e}", i + 1)))?;
            if name_re.is_none() && spec.label_selector.as_deref().unwrap_or("").is_empty() {
                return Err(invalid(
                    path,
                    format!("item {}: set name_pattern or label_selector", i + 1),
                ));
            }
            if let Some(exec) = &spec.execution
                && exec != "serial"
                && exec != "parallel"
            {
                return Err(invalid(
                    path,
                    format!("item {}: execution is {exec:?}; expected serial or parallel", i + 1),
                ));
            }
            targets.push(Target {
                id: item.id.unwrap_or_else(|| format!("item-{}", i + 1)),
                spec,
                namespace_re,
                name_re,
            });
        }
        Ok(Box::new(Plan(targets)))
    }
}

fn ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && pod.metadata.deletion_timestamp.is_none()
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

impl Target {
    async fn matching(&self, ctx: &ScenarioCtx) -> Result<Vec<Pod>, ScenarioError> {
        let mut pods = Vec::new();
        let mut refused = Vec::new();
        for ns in ctx.list_all::<Namespace>(&ListParams::default()).await? {
            let Some(name) = ns.metadata.name else { continue };
            if !self.namespace_re.is_match(&name) {
                continue;
            }
            if ctx.check_namespace(&name).is_err() {
                refused.push(name);
                continue;
            }
            let mut params = ListParams::default();
            if let Some(sel) = self.spec.label_selector.as_deref().filter(|s| !s.is_empty()) {
                params = params.labels(sel);
            }
            pods.extend(
                ctx.list_in::<Pod>(&name, &params).await?.into_iter().filter(|p| self.selects(p)),
            );
        }
        if pods.is_empty() && !refused.is_empty() {
            return Err(ScenarioError::Refused(format!(
                "only protected namespaces match: {}",
                refused.join(", ")
            )));
        }
        Ok(pods)
    }

    fn selects(&self, pod: &Pod) -> bool {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        if self.name_re.as_ref().is_some_and(|re| !re.is_match(name))
            || pod.metadata.deletion_timestamp.is_some()
        {
            return false;
        }
        if let Some((k, v)) = self.spec.exclude_label.as_deref().and_then(|l| l.split_once('='))
            && pod.metadata.labels.as_ref().and_then(|l| l.get(k)).is_some_and(|have| have == v)
        {
            return false;
        }
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default();
        self.spec.node_names.is_empty() || self.spec.node_names.iter().any(|n| n == node)
    }

    async fn kill(&self, ctx: &ScenarioCtx, pod: &Pod) -> Result<Change, ScenarioError> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let owned = pod
            .metadata
            .owner_references
            .as_ref()
            .is_some_and(|o| o.iter().any(|r| r.controller == Some(true)));
        let snapshot = if owned { None } else { serde_json::to_value(pod).ok() };
        let what = if owned {
            "controller re-creates it"
        } else {
            "no controller: snapshot kept to re-create it"
        };
        ctx.step(format!("killing pod {ns}/{name}"));
        ctx.delete(
            &format!("deleted Pod {ns}/{name} ({what})"),
            ObjectRef::new("v1", "Pod", Some(&ns), &name),
            &uid,
            snapshot,
            self.spec.force.then_some(0),
        )
        .await
    }

    /// Waits until as many matching pods are Ready as before, none of them a killed one.
    async fn await_recovery(
        &self,
        ctx: &ScenarioCtx,
        want: usize,
        killed: &HashSet<String>,
    ) -> Result<(), ScenarioError> {
        let deadline = Instant::now() + Duration::from_secs(self.spec.krkn_pod_recovery_time);
        loop {
            let ready_now = self
                .matching(ctx)
                .await?
                .iter()
                .filter(|p| {
                    ready(p) && !killed.contains(p.metadata.uid.as_deref().unwrap_or_default())
                })
                .count();
            if ready_now >= want {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ScenarioError::Failed(format!(
                    "{}: {ready_now} of {want} pods Ready {} s after the kill (krkn_pod_recovery_time)",
                    self.id, self.spec.krkn_pod_recovery_time
                )));
            }
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Err(ScenarioError::Cancelled),
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }

    async fn run(&self, ctx: &ScenarioCtx) -> Result<(), ScenarioError> {
        let mut pods = self.matching(ctx).await?;
        if pods.is_empty() {
            return Err(ScenarioError::Failed(format!("{}: no pod matches", self.id)));
        }
        let want = pods.iter().filter(|p| ready(p)).count();
        pods.shuffle(&mut rand::rng());
        pods.truncate(self.spec.kill);
        let parallel = self.spec.execution.as_deref() == Some("parallel");
        let batches: Vec<Vec<Pod>> =
            if parallel { vec![pods] } else { pods.into_iter().map(|p| vec![p]).collect() };
        let mut killed = HashSet::new();
        for batch in batches {
            let mut changes = Vec::new();
            for pod in &batch {
                killed.insert(pod.metadata.uid.clone().unwrap_or_default());
                changes.push(self.kill(ctx, pod).await?);
            }
            // Bare pods come back only through their snapshot.
            for change in changes.iter().filter(|c| c.written.is_some()) {
                ctx.step(format!("re-creating {} from its snapshot", change.target.display()));
                ctx.revert(change).await?;
            }
            if ctx.dry_run {
                // Nothing was killed, so there is no recovery to wait for.
                ctx.log(format!(
                    "dry run: would wait up to {} s for {want} Ready pod(s)",
                    self.spec.krkn_pod_recovery_time
                ));
                continue;
            }
            ctx.step(format!("{}: waiting for {want} Ready pod(s)", self.id));
            self.await_recovery(ctx, want, &killed).await?;
        }
        Ok(())
    }
}

impl ScenarioPlan for Plan {
    fn ignored_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .0
            .iter()
            .flat_map(|t| {
                crate::krkn_only_present!(t.spec, "_", [timeout, duration, node_label_selector])
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
            .map(|t| {
                format!(
                    "{}: kill {} pod(s) matching {} in /{}/, recovery within {} s",
                    t.id,
                    t.spec.kill,
                    t.spec
                        .name_pattern
                        .clone()
                        .or(t.spec.label_selector.clone())
                        .unwrap_or_default(),
                    t.namespace_re.as_str(),
                    t.spec.krkn_pod_recovery_time
                )
            })
            .collect();
        parts.join("; ")
    }

    fn expected(&self) -> Duration {
        Duration::from_secs(10 * self.0.len().max(1) as u64)
    }

    /// Namespaces are found by listing them. A pattern that names one namespace (`^shop$`)
    /// lists and deletes pods there only; any other pattern, in whichever namespace matches,
    /// so its permissions are every namespace's.
    fn needs(&self) -> Vec<Need> {
        let mut needs = vec![Need::new(Op::List, NAMESPACE, None)];
        for target in &self.0 {
            let ns = literal_namespace(&target.namespace_re);
            needs.push(Need::new(Op::List, POD, ns.as_deref()));
            needs.push(Need::new(Op::Change(Forward::Delete), POD, ns.as_deref()));
        }
        needs
    }

    fn timeout(&self) -> Duration {
        let recovery: u64 =
            self.0.iter().map(|t| t.spec.krkn_pod_recovery_time * t.spec.kill.max(1) as u64).sum();
        Duration::from_secs(recovery + 120)
    }

    fn health_targets(&self) -> Vec<crate::health::Target> {
        self.0
            .iter()
            .map(|t| crate::health::Target::Pods {
                namespace: t.namespace_re.as_str().to_string(),
                name: t.name_re.as_ref().map(|r| r.as_str().to_string()),
                labels: crate::health::Target::labels_of(
                    t.spec.label_selector.as_deref().unwrap_or(""),
                ),
            })
            .collect()
    }

    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>> {
        Box::pin(async move {
            for target in &self.0 {
                target.run(ctx).await?;
            }
            Ok(Outcome::Passed)
        })
    }
}
