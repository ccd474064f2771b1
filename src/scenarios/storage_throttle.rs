//! `storage_throttle_scenarios`: limit the I/O of the container that mounts a claim (cgroup v2
//! `io.max` on the device behind the mount) for `duration`, through chaosdeck's helper pod on
//! the pod's node.
//!
//! Beyond Krkn (whose own rollback fails with `NameError: base64` and whose helper is created
//! before the rollback is registered): the entry that stops the helper is durable and mirrored
//! before the helper is created; the helper reads the limit in force before writing its own and
//! writes that back — only over its own line — at `duration` plus a grace by itself, whether or
//! not anyone is left to tell it.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::Deserialize;

use super::claim_mount::{ClaimTarget, Mounted};
use super::ctx::ScenarioCtx;
use super::error::ScenarioError;
use super::file::{KrknOnly, invalid, load_yaml};
use super::needs::{Forward, Need, Op, POD};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::cluster::exec::{ContainerPath, HELPER_PROGRAM};
use crate::config::ConfigError;
use crate::helper::pod::{HELPER_GRACE, HelperPod, helper_pod};

pub struct Type;

/// How long the helper may take to start and apply its limit before the scenario stops it.
const HELPER_START: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    storage_throttle_scenario: Spec,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    pvc_name: Option<String>,
    #[serde(default)]
    pod_name: Option<String>,
    namespace: String,
    #[serde(default)]
    mount_path: Option<String>,
    #[serde(default = "bandwidth")]
    throttle_type: String,
    #[serde(default)]
    read_iops: Option<u64>,
    #[serde(default)]
    write_iops: Option<u64>,
    #[serde(default)]
    read_bps: Option<u64>,
    #[serde(default)]
    write_bps: Option<u64>,
    #[serde(deserialize_with = "crate::config::bounds::seconds")]
    duration: u64,
    #[serde(default)]
    image: KrknOnly,
}

fn bandwidth() -> String {
    "bandwidth".into()
}

struct Plan(Spec);

impl ScenarioType for Type {
    fn name(&self) -> &'static str {
        "storage_throttle_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let file: File = load_yaml(path)?;
        let spec = file.storage_throttle_scenario;
        let at = |why: String| invalid(path, format!("storage_throttle_scenario: {why}"));
        if spec.namespace.trim().is_empty() {
            return Err(at("namespace must name a namespace".into()));
        }
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&spec.pvc_name) && blank(&spec.pod_name) {
            return Err(at("names neither pvc_name nor pod_name".into()));
        }
        if let Some(m) = spec.mount_path.as_deref().filter(|m| !m.is_empty()) {
            ContainerPath::parse(m).map_err(|why| at(format!("mount_path: {why}")))?;
        }
        if !matches!(spec.throttle_type.as_str(), "iops" | "bandwidth" | "both") {
            return Err(at(format!(
                "throttle_type {:?} is not iops, bandwidth or both",
                spec.throttle_type
            )));
        }
        let plan = Plan(spec);
        if plan.limits().is_empty() {
            return Err(at(format!(
                "throttle_type {} sets no limit: give {} above 0",
                plan.0.throttle_type,
                match plan.0.throttle_type.as_str() {
                    "iops" => "read_iops or write_iops",
                    "bandwidth" => "read_bps or write_bps",
                    _ => "a read or write limit",
                }
            )));
        }
        Ok(Box::new(plan))
    }
}

impl Plan {
    fn claim(&self) -> ClaimTarget<'_> {
        ClaimTarget::of(&self.0.namespace, &self.0.pvc_name, &self.0.pod_name)
    }

    /// The helper's limit flags for the throttle type (zero means "no limit", as in Krkn).
    fn limits(&self) -> Vec<(&'static str, u64)> {
        let s = &self.0;
        let iops = matches!(s.throttle_type.as_str(), "iops" | "both");
        let bps = matches!(s.throttle_type.as_str(), "bandwidth" | "both");
        [
            ("--riops", s.read_iops.filter(|_| iops)),
            ("--wiops", s.write_iops.filter(|_| iops)),
            ("--rbps", s.read_bps.filter(|_| bps)),
            ("--wbps", s.write_bps.filter(|_| bps)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| *v > 0).map(|v| (k, v)))
        .collect()
    }

    fn mount(&self, m: &Mounted) -> String {
        self.0
            .mount_path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| m.mount_path.to_string())
    }

    fn fault(&self, m: &Mounted) -> String {
        let limits: Vec<String> = self
            .limits()
            .iter()
            .map(|(k, v)| format!("{}={v}", k.trim_start_matches('-')))
            .collect();
        format!(
            "io.max {} on the device of {} in {} (claim {})",
            limits.join(" "),
            self.mount(m),
            m.container.display(),
            m.claim
        )
    }

    fn command(&self, id: &str, m: &Mounted) -> Vec<String> {
        let mut c: Vec<String> = [HELPER_PROGRAM, "helper", "throttle", "--tag", id]
            .iter()
            .map(|s| s.to_string())
            .collect();
        c.extend(["--pod-uid".into(), m.container.uid.clone().unwrap_or_default()]);
        c.extend(["--for".into(), (self.0.duration + HELPER_GRACE.as_secs()).to_string()]);
        c.extend(["--mount".into(), self.mount(m)]);
        for (k, v) in self.limits() {
            c.extend([k.to_string(), v.to_string()]);
        }
        c
    }
}

impl ScenarioPlan for Plan {
    fn describe(&self) -> String {
        let s = &self.0;
        let what = self.claim().describe();
        format!("throttle I/O ({}) on {what} for {} s", s.throttle_type, s.duration)
    }

    fn expected(&self) -> Duration {
        Duration::from_secs(self.0.duration)
    }

    fn timeout(&self) -> Duration {
        self.expected() + HELPER_START * 2 + Duration::from_secs(60)
    }

    fn needs(&self) -> Vec<Need> {
        let ns = Some(self.0.namespace.as_str());
        vec![Need::new(Op::Change(Forward::StartHelper), POD, ns), self.claim().find_need()]
    }

    fn ignored_keys(&self) -> Vec<String> {
        match self.0.image {
            Some(_) => vec!["image (the helper is chaosdeck's own image)".into()],
            None => vec![],
        }
    }

    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>> {
        Box::pin(async move {
            let s = &self.0;
            let started = Instant::now();
            let m = self.claim().locate(ctx).await?;
            let step = self.fault(&m);
            let pod = |id: &str| {
                helper_pod(HelperPod {
                    node: &m.node,
                    command: self.command(id, &m),
                    seconds: s.duration + HELPER_GRACE.as_secs(),
                    capabilities: &[],
                    host_pid: true,
                    host_network: false,
                    cgroups: true,
                    tolerations: Vec::new(),
                    service_account: None,
                })
            };
            let change = ctx.start_helper(&step, &s.namespace, |_| self.fault(&m), pod).await?;
            if ctx.dry_run {
                ctx.log(format!(
                    "dry run: the helper would be this pod (its name and state tagged with the \
                     entry id): {}",
                    serde_json::to_string(&pod("<entry id>")["spec"]).unwrap_or_default()
                ));
                ctx.hold(self.expected(), self.expected(), started).await?;
                return Ok(Outcome::Passed);
            }
            let tag = change.written.as_ref().map(|w| w.name.id()).ok_or_else(|| {
                ScenarioError::Internal("a helper started without an entry".into())
            })?;
            if let Err(e) = ctx.helper_rules(&change.target, &tag, Some(1), HELPER_START).await {
                ctx.revert(&change).await?;
                return Err(e);
            }
            ctx.step(format!("{step} for {} s", s.duration));
            ctx.hold(self.expected(), self.expected(), started).await?;
            ctx.step("lifting the throttle");
            ctx.revert(&change).await?;
            Ok(Outcome::Passed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Box<dyn ScenarioPlan>, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("throttle.yaml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Type.load(&path).map_err(|e| e.to_string())
    }

    #[test]
    fn the_throttle_type_picks_the_limits_and_an_empty_one_is_refused() {
        let base = "storage_throttle_scenario:\n  pvc_name: data\n  namespace: db\n  read_iops: 100\n  write_iops: 50\n  read_bps: 1048576\n  write_bps: 0\n  duration: 5\n";
        assert!(load(base).is_ok());
        let iops = base.replace("duration: 5", "duration: 5\n  throttle_type: iops");
        assert!(load(&iops).is_ok());
        let none = "storage_throttle_scenario:\n  pvc_name: data\n  namespace: db\n  write_bps: 0\n  duration: 5\n";
        let err = load(none).err().unwrap_or_default();
        assert!(err.contains("throttle_type bandwidth sets no limit"), "{err}");
        let odd = base.replace("duration: 5", "duration: 5\n  throttle_type: fast");
        assert!(load(&odd).err().unwrap_or_default().contains("is not iops, bandwidth or both"));
    }
}
