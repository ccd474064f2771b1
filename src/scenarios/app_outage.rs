//! `application_outages_scenarios`: a deny-all NetworkPolicy on the selected pods for
//! `duration`; undo: delete it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;

use super::ctx::ScenarioCtx;
use super::error::ScenarioError;
use super::file::{invalid, load_yaml};
use super::names::random_name;
use super::needs::{Forward, NETWORKPOLICY, Need, Op};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::config::ConfigError;

pub struct Type;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    application_outage: Spec,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(deserialize_with = "crate::config::bounds::seconds")]
    duration: u64,
    namespace: String,
    #[serde(default)]
    pod_selector: BTreeMap<String, String>,
    #[serde(default = "both")]
    block: Vec<String>,
    #[serde(default)]
    exclude_label: Option<String>,
}

fn both() -> Vec<String> {
    vec!["Ingress".into(), "Egress".into()]
}

struct Plan(Spec);

impl ScenarioType for Type {
    fn name(&self) -> &'static str {
        "application_outages_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let file: File = load_yaml(path)?;
        let spec = file.application_outage;
        if let Some(bad) = spec.block.iter().find(|b| *b != "Ingress" && *b != "Egress") {
            return Err(invalid(
                path,
                format!("application_outage.block has {bad:?}; expected Ingress and/or Egress"),
            ));
        }
        if spec.namespace.trim().is_empty() {
            return Err(invalid(path, "application_outage.namespace must name a namespace"));
        }
        Ok(Box::new(Plan(spec)))
    }
}

impl ScenarioPlan for Plan {
    fn describe(&self) -> String {
        let sel: Vec<String> =
            self.0.pod_selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "block {} to pods {} in {} for {} s",
            self.0.block.join("+"),
            sel.join(","),
            self.0.namespace,
            self.0.duration
        )
    }

    fn expected(&self) -> Duration {
        Duration::from_secs(self.0.duration)
    }

    fn needs(&self) -> Vec<Need> {
        vec![Need::new(Op::Change(Forward::Create), NETWORKPOLICY, Some(&self.0.namespace))]
    }

    fn health_targets(&self) -> Vec<crate::health::Target> {
        let labels = self.0.pod_selector.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        vec![crate::health::Target::pods_in(&self.0.namespace, labels)]
    }

    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>> {
        Box::pin(async move {
            let spec = &self.0;
            let started = Instant::now();
            let mut expressions = Vec::new();
            if let Some((k, v)) = spec.exclude_label.as_deref().and_then(|l| l.split_once('=')) {
                expressions.push(json!({"key": k, "operator": "NotIn", "values": [v]}));
            }
            let name = random_name("chaosdeck-deny", 5);
            let policy = json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": spec.namespace},
                "spec": {
                    "podSelector": {"matchLabels": spec.pod_selector, "matchExpressions": expressions},
                    "policyTypes": spec.block,
                },
            });
            ctx.step(format!("creating NetworkPolicy {}/{name}", spec.namespace));
            let change = ctx
                .create(
                    &format!("created deny-all NetworkPolicy {}/{name}", spec.namespace),
                    policy,
                )
                .await?;
            ctx.step(format!("outage in {} for {} s", spec.namespace, spec.duration));
            ctx.hold(self.expected(), self.expected(), started).await?;
            ctx.step("removing the NetworkPolicy");
            ctx.revert(&change).await?;
            Ok(Outcome::Passed)
        })
    }
}
