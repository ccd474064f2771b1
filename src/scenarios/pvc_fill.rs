//! `pvc_scenarios`: fill a PersistentVolumeClaim to `fill_percentage` (as `df` in the pod that
//! mounts it measures) for `duration`, then remove exactly the file that did it.
//!
//! Beyond Krkn: the entry that removes the file — naming it (its name carries the entry id),
//! the pod's uid, the container and the claim — is durable and mirrored before the first byte
//! is allocated (Krkn registers its undo after the file exists), and the undo finds the claim's
//! current pod when the recorded one is gone. `fallocate` reserves the space in one exec; Krkn's
//! `block_size` (for its `dd` fallback) is accepted and not used.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::Deserialize;

use super::claim_mount::ClaimTarget;
use super::ctx::ScenarioCtx;
use super::error::ScenarioError;
use super::file::{invalid, load_yaml};
use super::needs::{Forward, Need, Op, POD};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::cluster::exec::DiskUsage;
use crate::config::ConfigError;

pub struct Type;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    pvc_scenario: Spec,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    pvc_name: Option<String>,
    #[serde(default)]
    pod_name: Option<String>,
    namespace: String,
    fill_percentage: u8,
    #[serde(deserialize_with = "crate::config::bounds::seconds")]
    duration: u64,
    #[serde(default)]
    block_size: Option<u64>,
}

struct Plan(Spec);

impl Plan {
    fn claim(&self) -> ClaimTarget<'_> {
        ClaimTarget::of(&self.0.namespace, &self.0.pvc_name, &self.0.pod_name)
    }
}

impl ScenarioType for Type {
    fn name(&self) -> &'static str {
        "pvc_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let file: File = load_yaml(path)?;
        let spec = file.pvc_scenario;
        if spec.namespace.trim().is_empty() {
            return Err(invalid(path, "pvc_scenario.namespace must name a namespace"));
        }
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&spec.pvc_name) && blank(&spec.pod_name) {
            return Err(invalid(path, "pvc_scenario names neither pvc_name nor pod_name"));
        }
        if !(1..=99).contains(&spec.fill_percentage) {
            return Err(invalid(
                path,
                format!(
                    "pvc_scenario.fill_percentage is {}; expected 1 to 99",
                    spec.fill_percentage
                ),
            ));
        }
        Ok(Box::new(Plan(spec)))
    }
}

/// The bytes to allocate so that `usage` reaches `percent` of its size (whole KiB, rounded up,
/// as `df` counts), or None when it is there already.
fn bytes_to_fill(usage: &DiskUsage, percent: u8) -> Option<u64> {
    let goal = (u128::from(usage.size) * u128::from(percent)).div_ceil(100);
    let goal = u64::try_from(goal).ok()?;
    let missing = goal.checked_sub(usage.used).filter(|m| *m > 0)?;
    Some(missing.div_ceil(1024) * 1024)
}

impl ScenarioPlan for Plan {
    fn describe(&self) -> String {
        let s = &self.0;
        let what = self.claim().describe();
        format!("fill {what} to {}% for {} s", s.fill_percentage, s.duration)
    }

    fn expected(&self) -> Duration {
        Duration::from_secs(self.0.duration)
    }

    fn needs(&self) -> Vec<Need> {
        let ns = Some(self.0.namespace.as_str());
        vec![Need::new(Op::Change(Forward::FillFile), POD, ns), self.claim().find_need()]
    }

    fn ignored_keys(&self) -> Vec<String> {
        match self.0.block_size {
            Some(_) => vec!["block_size (chaosdeck allocates with fallocate, not dd)".into()],
            None => vec![],
        }
    }

    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>> {
        Box::pin(async move {
            let spec = &self.0;
            let started = Instant::now();
            let m = self.claim().locate(ctx).await?;
            let at = format!("{} at {} (claim {})", m.container.display(), m.mount_path, m.claim);
            if ctx.dry_run {
                ctx.log(format!(
                    "dry run: would measure {at} with df and fill it to {}%",
                    spec.fill_percentage
                ));
                ctx.fill_file("fill", &m.container, Some(&m.claim), &m.mount_path, 0).await?;
                ctx.hold(self.expected(), self.expected(), started).await?;
                return Ok(Outcome::Passed);
            }
            let (_, before) = ctx.disk_usage(&m.container, &m.mount_path).await?;
            let Some(bytes) = bytes_to_fill(&before, spec.fill_percentage) else {
                return Ok(Outcome::Skipped(format!(
                    "{at} is {:.1}% used already, at or above {}%",
                    before.percent_used(),
                    spec.fill_percentage
                )));
            };
            ctx.step(format!("allocating {bytes} bytes in {at}"));
            let step =
                format!("filled claim {}/{} to {}%", spec.namespace, m.claim, spec.fill_percentage);
            let (change, out) =
                ctx.fill_file(&step, &m.container, Some(&m.claim), &m.mount_path, bytes).await?;
            if let Some(out) = out.filter(|o| o.code != 0) {
                ctx.revert(&change).await?;
                return Err(ScenarioError::Failed(format!(
                    "fallocate in {at} exited {}: {}",
                    out.code,
                    crate::refs::printable(out.stderr.trim())
                )));
            }
            let (_, filled) = ctx.disk_usage(&m.container, &m.mount_path).await?;
            // df counts whole KiB; a hair below the goal is the rounding, not a short fill.
            if filled.percent_used() + 0.5 < f64::from(spec.fill_percentage) {
                ctx.revert(&change).await?;
                return Err(ScenarioError::Failed(format!(
                    "{at} is {:.1}% used after the fill, short of {}%",
                    filled.percent_used(),
                    spec.fill_percentage
                )));
            }
            ctx.step(format!(
                "claim {} {:.0}% used (was {:.0}%) for {} s",
                m.claim,
                filled.percent_used(),
                before.percent_used(),
                spec.duration
            ));
            ctx.hold(self.expected(), self.expected(), started).await?;
            ctx.step("removing the fill");
            ctx.revert(&change).await?;
            let (_, after) = ctx.disk_usage(&m.container, &m.mount_path).await?;
            if after.used >= before.used.saturating_add(bytes / 2) {
                return Err(ScenarioError::Failed(format!(
                    "{at} is {:.1}% used after the fill was removed (was {:.1}%): the space did \
                     not come back",
                    after.percent_used(),
                    before.percent_used()
                )));
            }
            ctx.log(format!(
                "claim {}: {:.1}% used before, {:.1}% filled, {:.1}% after",
                m.claim,
                before.percent_used(),
                filled.percent_used(),
                after.percent_used()
            ));
            Ok(Outcome::Passed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fill_reaches_the_percentage_in_whole_kib() {
        let gib = 1u64 << 30;
        let half_full = DiskUsage { size: 2 * gib, used: gib, available: gib };
        assert_eq!(bytes_to_fill(&half_full, 50), None);
        assert_eq!(bytes_to_fill(&half_full, 75), Some(gib / 2));
        let odd = DiskUsage { size: 1000 * 1024, used: 0, available: 1000 * 1024 };
        assert_eq!(bytes_to_fill(&odd, 33), Some(330 * 1024));
        let uneven = DiskUsage { size: 1000, used: 0, available: 1000 };
        assert_eq!(bytes_to_fill(&uneven, 33), Some(1024));
    }
}
