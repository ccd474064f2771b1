//! `syn_flood_scenarios` and `http_load_scenarios`: attacker/load pods for a while; undo:
//! delete them (Krkn's http_load undo deletes nothing, D3).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, join_all};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ctx::ScenarioCtx;
use super::error::ScenarioError;
use super::file::{KrknOnly, invalid, load_yaml, parse_duration};
use super::names::random_name;
use super::needs::{Forward, Need, Op, POD};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::config::ConfigError;

pub struct SynFlood;
pub struct HttpLoad;

#[derive(Deserialize, Clone)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct SynSpec {
    #[serde(deserialize_with = "crate::config::bounds::count")]
    packet_size: usize,
    #[serde(deserialize_with = "crate::config::bounds::count")]
    window_size: usize,
    #[serde(deserialize_with = "crate::config::bounds::seconds")]
    duration: u64,
    namespace: String,
    #[serde(default)]
    target_service: Option<String>,
    target_port: u16,
    #[serde(default)]
    target_service_label: Option<String>,
    #[serde(deserialize_with = "crate::config::bounds::count")]
    number_of_pods: usize,
    image: String,
    #[serde(default)]
    attacker_nodes: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpItem {
    http_load_scenario: HttpSpec,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct HttpSpec {
    #[serde(default = "one", deserialize_with = "crate::config::bounds::count")]
    number_of_pods: usize,
    #[serde(default = "default_ns")]
    namespace: String,
    #[serde(default = "default_http_image")]
    image: String,
    #[serde(default)]
    attacker_nodes: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    targets: Value,
    #[serde(default)]
    rate: Option<String>,
    duration: Value,
    // Krkn's (vegeta's) knobs, snake_case in its files.
    #[serde(default)]
    runs: KrknOnly,
    #[serde(default)]
    workers: KrknOnly,
    #[serde(default, rename = "max_workers")]
    max_workers: KrknOnly,
    #[serde(default)]
    connections: KrknOnly,
    #[serde(default)]
    timeout: KrknOnly,
    #[serde(default)]
    keepalive: KrknOnly,
    #[serde(default)]
    http2: KrknOnly,
    #[serde(default)]
    insecure: KrknOnly,
}

fn one() -> usize {
    1
}
fn default_ns() -> String {
    "default".into()
}
fn default_http_image() -> String {
    "quay.io/krkn-chaos/krkn-http-load:latest".into()
}

/// What both types do: N pods running `image` with `env`, held for `duration`.
#[derive(Clone)]
struct Attack {
    kind: &'static str,
    prefix: &'static str,
    namespace: String,
    image: String,
    pods: usize,
    duration: Duration,
    env: Vec<(String, String)>,
    affinity: Option<BTreeMap<String, Vec<String>>>,
    target: String,
    /// The Service under attack, when the scenario names one: its endpoints become a built-in
    /// health check (a label-selected target or a URL list has no single Service to watch).
    service: Option<String>,
    /// Krkn's keys present in the file that chaosdeck does not use.
    ignored: Vec<String>,
}

struct Plan(Vec<Attack>);

impl ScenarioType for SynFlood {
    fn name(&self) -> &'static str {
        "syn_flood_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let s: SynSpec = load_yaml(path)?;
        let svc = s.target_service.clone().filter(|v| !v.is_empty());
        let label = s.target_service_label.clone().filter(|v| !v.is_empty());
        if svc.is_some() == label.is_some() {
            return Err(invalid(
                path,
                "exactly one of target-service and target-service-label must be set",
            ));
        }
        let target = svc.clone().or(label.clone()).unwrap_or_default();
        Ok(Box::new(Plan(vec![Attack {
            kind: "SYN flood",
            prefix: "syn-flood",
            namespace: s.namespace,
            image: s.image,
            pods: s.number_of_pods,
            duration: Duration::from_secs(s.duration),
            env: vec![
                ("TARGET".into(), target.clone()),
                ("PORT".into(), s.target_port.to_string()),
                ("PACKET_SIZE".into(), s.packet_size.to_string()),
                ("WINDOW_SIZE".into(), s.window_size.to_string()),
                ("DURATION".into(), s.duration.to_string()),
            ],
            affinity: s.attacker_nodes,
            target,
            service: svc,
            ignored: Vec::new(),
        }])))
    }
}

impl ScenarioType for HttpLoad {
    fn name(&self) -> &'static str {
        "http_load_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let items: Vec<HttpItem> = load_yaml(path)?;
        if items.is_empty() {
            return Err(invalid(path, "no http_load_scenario item"));
        }
        let mut attacks = Vec::new();
        for item in items {
            let s = item.http_load_scenario;
            let ignored = crate::krkn_only_present!(
                s,
                "_",
                [runs, workers, max_workers, connections, timeout, keepalive, http2, insecure]
            );
            let raw = match &s.duration {
                Value::String(d) => d.clone(),
                other => other.to_string(),
            };
            let duration = parse_duration(&raw).map_err(|e| invalid(path, e))?;
            attacks.push(Attack {
                kind: "HTTP load",
                prefix: "http-load",
                namespace: s.namespace,
                image: s.image,
                pods: s.number_of_pods,
                duration,
                env: vec![
                    ("TARGETS".into(), serde_json::to_string(&s.targets).unwrap_or_default()),
                    ("RATE".into(), s.rate.unwrap_or_default()),
                    ("DURATION".into(), raw),
                ],
                affinity: s.attacker_nodes,
                target: "endpoints".into(),
                service: None,
                ignored,
            });
        }
        Ok(Box::new(Plan(attacks)))
    }
}

fn pod(a: &Attack) -> Value {
    let env: Vec<Value> = a.env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": random_name(a.prefix, 10), "namespace": a.namespace},
        "spec": {"restartPolicy": "Never", "containers": [{"name": a.prefix, "image": a.image, "env": env}]},
    });
    if let Some(nodes) = &a.affinity {
        let terms: Vec<Value> = nodes
            .iter()
            .map(|(k, vals)| {
                let vals: Vec<&String> = vals.iter().filter(|v| !v.is_empty()).collect();
                if vals.is_empty() {
                    json!({"key": k, "operator": "Exists"})
                } else {
                    json!({"key": k, "operator": "In", "values": vals})
                }
            })
            .collect();
        pod["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": terms}]}}});
    }
    pod
}

impl ScenarioPlan for Plan {
    fn ignored_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.0.iter().flat_map(|a| a.ignored.clone()).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|a| {
                format!(
                    "{} from {} pod(s) at {} for {} s",
                    a.kind,
                    a.pods,
                    a.target,
                    a.duration.as_secs()
                )
            })
            .collect();
        parts.join("; ")
    }

    fn expected(&self) -> Duration {
        self.0.iter().map(|a| a.duration).sum()
    }

    fn needs(&self) -> Vec<Need> {
        self.0
            .iter()
            .map(|a| Need::new(Op::Change(Forward::Create), POD, Some(&a.namespace)))
            .collect()
    }

    fn health_targets(&self) -> Vec<crate::health::Target> {
        let target = |a: &Attack| {
            let name = a.service.clone()?;
            Some(crate::health::Target::Service { namespace: a.namespace.clone(), name })
        };
        self.0.iter().filter_map(target).collect()
    }

    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>> {
        Box::pin(async move {
            let started = Instant::now();
            for a in &self.0 {
                ctx.check_namespace(&a.namespace)?;
                ctx.step(format!("starting {} {} pod(s) in {}", a.pods, a.kind, a.namespace));
                let mut changes = Vec::new();
                let step = format!("created {} pod in {}", a.kind, a.namespace);
                for r in join_all((0..a.pods).map(|_| ctx.create(&step, pod(a)))).await {
                    changes.push(r?);
                }
                ctx.step(format!("{} for {} s", a.kind, a.duration.as_secs()));
                ctx.hold(a.duration, self.expected(), started).await?;
                ctx.step(format!("deleting {} pods", a.kind));
                for r in join_all(changes.iter().map(|c| ctx.revert(c))).await {
                    r?;
                }
            }
            Ok(Outcome::Passed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("18446744073709551615m").unwrap_err().contains("out of range"));
    }

    #[test]
    fn a_syn_flood_on_a_named_service_watches_its_endpoints_and_http_load_nothing() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/engine");
        let syn = SynFlood.load(&data.join("syn_flood.yaml")).unwrap();
        let want =
            crate::health::Target::Service { namespace: "default".into(), name: "frontend".into() };
        assert_eq!(syn.health_targets(), vec![want]);
        let http = HttpLoad.load(&data.join("http_load.yml")).unwrap();
        assert!(http.health_targets().is_empty());
    }
}
