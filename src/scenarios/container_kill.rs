//! `container_scenarios`: send a signal (`action`, 1–15) to PID 1 of a container in `count`
//! matching pods, then require each container to be running again — its restart count up
//! and the pod Ready — within the recovery time, or fail naming the pod.
//!
//! Nothing is left to undo (the kubelet restarts the container), so no entry is written; the
//! signal goes through the scenario context like every change (declared, paused, stopped,
//! protected namespaces refused, counted for failpoints). Krkn picks a random container when
//! `container_name` is empty; chaosdeck takes the pod's first container, so a run can be
//! repeated.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use rand::seq::SliceRandom;
use serde::Deserialize;

use super::ctx::ScenarioCtx;
use super::error::ScenarioError;
use super::file::{KrknOnly, invalid, load_yaml};
use super::needs::{Need, Op, POD};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::cluster::exec::ContainerTarget;
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
    name: Option<String>,
    namespace: String,
    #[serde(default)]
    label_selector: Option<String>,
    #[serde(default)]
    pod_names: Vec<String>,
    #[serde(default)]
    container_name: Option<String>,
    action: Action,
    #[serde(default = "one", deserialize_with = "crate::config::bounds::count")]
    count: usize,
    /// Seconds to wait for the containers to run again (Krkn's `expected_recovery_time`; its
    /// kube example says `retry_wait`, and `wait_time` is read too).
    #[serde(default, deserialize_with = "crate::config::bounds::seconds_opt")]
    expected_recovery_time: Option<u64>,
    #[serde(default, deserialize_with = "crate::config::bounds::seconds_opt")]
    retry_wait: Option<u64>,
    #[serde(default, deserialize_with = "crate::config::bounds::seconds_opt")]
    wait_time: Option<u64>,
    /// Seconds between two signals.
    #[serde(default, deserialize_with = "crate::config::bounds::seconds_opt")]
    sleep: Option<u64>,
    #[serde(default)]
    exclude_label: Option<String>,
    #[serde(default)]
    scenario: KrknOnly,
}

/// A signal as Krkn writes it: a number, or the older `kill 9` form.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Action {
    Number(u64),
    Text(String),
}

impl Action {
    fn signal(&self) -> Result<u8, String> {
        let n = match self {
            Action::Number(n) => *n,
            Action::Text(t) => {
                let t = t.trim();
                let n = t.strip_prefix("kill").map(str::trim).unwrap_or(t);
                n.trim_start_matches('-').parse().map_err(|_| {
                    format!("action {t:?} is not a signal number (1 to 15, or `kill N`)")
                })?
            }
        };
        u8::try_from(n)
            .ok()
            .filter(|n| (1..=15).contains(n))
            .ok_or_else(|| format!("action {n} is not a signal from 1 to 15"))
    }
}

fn one() -> usize {
    1
}

/// One loaded item.
struct Target {
    spec: Spec,
    signal: u8,
    recovery: Duration,
}

struct Plan(Vec<Target>);

impl ScenarioType for Type {
    fn name(&self) -> &'static str {
        "container_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let file: File = load_yaml(path)?;
        let mut targets = Vec::new();
        for (i, spec) in file.scenarios.into_iter().enumerate() {
            let item = |m: String| invalid(path, format!("scenarios item {}: {m}", i + 1));
            if spec.namespace.trim().is_empty() {
                return Err(item("namespace must name a namespace".into()));
            }
            let selector = spec.label_selector.as_deref().unwrap_or("").trim();
            if selector.is_empty() && spec.pod_names.is_empty() {
                return Err(item("set label_selector or pod_names".into()));
            }
            let signal = spec.action.signal().map_err(item)?;
            let secs =
                spec.expected_recovery_time.or(spec.wait_time).or(spec.retry_wait).unwrap_or(120);
            targets.push(Target { signal, recovery: Duration::from_secs(secs), spec });
        }
        if targets.is_empty() {
            return Err(invalid(path, "scenarios is empty"));
        }
        Ok(Box::new(Plan(targets)))
    }
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn restarts(pod: &Pod, container: &str) -> Option<i32> {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|all| all.iter().find(|c| c.name == container))
        .map(|c| c.restart_count)
}

impl Target {
    fn label(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| format!("signal {}", self.signal))
    }

    /// The running pods this item may signal, with the container each one's signal goes to.
    async fn candidates(&self, ctx: &ScenarioCtx) -> Result<Vec<ContainerTarget>, ScenarioError> {
        let spec = &self.spec;
        let mut params = ListParams::default();
        if let Some(sel) = spec.label_selector.as_deref().filter(|s| !s.trim().is_empty()) {
            params = params.labels(sel);
        }
        let excluded = spec.exclude_label.as_deref().and_then(|l| l.split_once('='));
        let pods = ctx.list_in::<Pod>(&spec.namespace, &params).await?;
        let mut out = Vec::new();
        for pod in pods {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            let named = spec.pod_names.is_empty() || spec.pod_names.contains(&name);
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            let is_excluded =
                excluded.is_some_and(|(k, v)| labels.get(k).map(String::as_str) == Some(v));
            if !running || !named || is_excluded || pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let containers = pod.spec.as_ref().map(|s| &s.containers[..]).unwrap_or_default();
            let wanted = spec.container_name.as_deref().filter(|c| !c.is_empty());
            let container = match wanted {
                Some(c) => containers.iter().find(|x| x.name == c),
                None => containers.first(),
            };
            let Some(container) = container else { continue };
            out.push(ContainerTarget {
                namespace: spec.namespace.clone(),
                pod: name,
                container: container.name.clone(),
                uid: pod.metadata.uid.clone(),
                restarts: restarts(&pod, &container.name),
            });
        }
        Ok(out)
    }

    /// Waits until every signalled container runs again: same pod, restart count above the
    /// one seen before the signal, pod Ready. Fails naming the pods that did not.
    async fn recovered(
        &self,
        ctx: &ScenarioCtx,
        hit: &[(ContainerTarget, i32)],
        started: Instant,
    ) -> Result<(), ScenarioError> {
        let deadline = Instant::now() + self.recovery;
        loop {
            let pods = ctx.list_in::<Pod>(&self.spec.namespace, &ListParams::default()).await?;
            let waiting: Vec<String> = hit
                .iter()
                .filter(|(t, before)| {
                    !pods.iter().any(|p| {
                        p.metadata.uid == t.uid
                            && ready(p)
                            && restarts(p, &t.container).is_some_and(|n| n > *before)
                    })
                })
                .map(|(t, _)| format!("{}/{}", t.namespace, t.pod))
                .collect();
            if waiting.is_empty() {
                ctx.log(format!(
                    "{}: {} container(s) running again after {:.1} s",
                    self.label(),
                    hit.len(),
                    started.elapsed().as_secs_f64()
                ));
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ScenarioError::Failed(format!(
                    "{}: not running again within {} s (restart count up and Ready): {}",
                    self.label(),
                    self.recovery.as_secs(),
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
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|t| {
                format!(
                    "signal {} to PID 1 in {} pod(s) of {}",
                    t.signal, t.spec.count, t.spec.namespace
                )
            })
            .collect();
        parts.join("; ")
    }

    fn expected(&self) -> Duration {
        let sleeps: u64 = self.0.iter().map(|t| t.spec.sleep.unwrap_or(0)).sum();
        Duration::from_secs(sleeps + 5)
    }

    fn timeout(&self) -> Duration {
        let recovery: Duration = self.0.iter().map(|t| t.recovery).sum();
        recovery + self.expected() * 2 + Duration::from_secs(120)
    }

    fn needs(&self) -> Vec<Need> {
        let mut needs = Vec::new();
        for t in &self.0 {
            let ns = Some(t.spec.namespace.as_str());
            needs.push(Need::new(Op::List, POD, ns));
            needs.push(Need::new(Op::Signal, POD, ns));
        }
        needs.sort();
        needs.dedup();
        needs
    }

    fn health_targets(&self) -> Vec<crate::health::Target> {
        self.0
            .iter()
            .filter_map(|t| {
                let sel = t.spec.label_selector.as_deref()?;
                let labels = sel
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect();
                Some(crate::health::Target::pods_in(&t.spec.namespace, labels))
            })
            .collect()
    }

    fn ignored_keys(&self) -> Vec<String> {
        if self.0.iter().any(|t| t.spec.scenario.is_some()) {
            vec!["scenario".into()]
        } else {
            vec![]
        }
    }

    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>> {
        Box::pin(async move {
            for (i, target) in self.0.iter().enumerate() {
                if i > 0
                    && let Some(secs) = target.spec.sleep
                {
                    ctx.hold(Duration::from_secs(secs), self.expected(), Instant::now()).await?;
                }
                ctx.check_namespace(&target.spec.namespace)?;
                let mut candidates = target.candidates(ctx).await?;
                if candidates.len() < target.spec.count {
                    return Err(ScenarioError::Failed(format!(
                        "{}: {} running pod(s) in {} match, {} asked for",
                        target.label(),
                        candidates.len(),
                        target.spec.namespace,
                        target.spec.count
                    )));
                }
                candidates.shuffle(&mut rand::rng());
                candidates.truncate(target.spec.count);
                let started = Instant::now();
                let mut hit = Vec::new();
                for c in candidates {
                    let step = format!("signal {} to PID 1 of {}", target.signal, c.display());
                    ctx.step(step.clone());
                    if let Some(seen) = ctx.signal_pid1(&step, &c, target.signal).await? {
                        hit.push((c, seen.restarts));
                    }
                }
                if hit.is_empty() {
                    continue;
                }
                ctx.step(format!(
                    "{}: waiting for {} container(s) to run again",
                    target.label(),
                    hit.len()
                ));
                target.recovered(ctx, &hit, started).await?;
            }
            Ok(Outcome::Passed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_signal_numbers_in_either_form() {
        assert_eq!(Action::Number(9).signal(), Ok(9));
        assert_eq!(Action::Text("kill 1".into()).signal(), Ok(1));
        assert_eq!(Action::Text("15".into()).signal(), Ok(15));
        assert!(Action::Number(0).signal().is_err());
        assert!(Action::Number(17).signal().is_err());
        assert!(Action::Text("reboot".into()).signal().is_err());
    }
}
