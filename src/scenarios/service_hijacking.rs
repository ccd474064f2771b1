//! `service_hijacking_scenarios`: a pod serving a fake plan (from a ConfigMap) takes over a
//! Service's selector for `chaos_duration`; undo: restore the selector (guarded), delete the pod
//! and the ConfigMap (Krkn leaks the ConfigMap).

use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ctx::ScenarioCtx;
use super::error::ScenarioError;
use super::file::{invalid, load_yaml};
use super::names::random_name;
use super::needs::{CONFIGMAP, Forward, Need, Op, POD, SERVICE};
use super::plan::{Outcome, ScenarioPlan, ScenarioType};
use crate::config::ConfigError;
use crate::journal::ObjectRef;

pub struct Type;

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Spec {
    service_name: String,
    service_namespace: String,
    #[serde(default)]
    service_target_port: Option<Value>,
    #[serde(default = "default_image")]
    image: String,
    #[serde(deserialize_with = "crate::config::bounds::seconds")]
    chaos_duration: u64,
    #[serde(default)]
    privileged: Option<bool>,
    #[serde(default)]
    plan: Value,
}

fn default_image() -> String {
    "quay.io/krkn-chaos/krkn-service-hijacking:v0.1.3".into()
}

struct Plan(Spec);

impl ScenarioType for Type {
    fn name(&self) -> &'static str {
        "service_hijacking_scenarios"
    }

    fn load(&self, path: &Path) -> Result<Box<dyn ScenarioPlan>, ConfigError> {
        let spec: Spec = load_yaml(path)?;
        if spec.service_name.is_empty() || spec.service_namespace.is_empty() {
            return Err(invalid(path, "service_name and service_namespace are required"));
        }
        Ok(Box::new(Plan(spec)))
    }
}

impl ScenarioPlan for Plan {
    fn describe(&self) -> String {
        format!(
            "hijack Service {}/{} for {} s",
            self.0.service_namespace, self.0.service_name, self.0.chaos_duration
        )
    }

    fn expected(&self) -> Duration {
        Duration::from_secs(self.0.chaos_duration)
    }

    fn needs(&self) -> Vec<Need> {
        let ns = Some(self.0.service_namespace.as_str());
        vec![
            Need::new(Op::Get, SERVICE, ns),
            Need::new(Op::Change(Forward::Create), CONFIGMAP, ns),
            Need::new(Op::Change(Forward::Create), POD, ns),
            Need::new(Op::Change(Forward::Patch), SERVICE, ns),
        ]
    }

    fn health_targets(&self) -> Vec<crate::health::Target> {
        vec![crate::health::Target::Service {
            namespace: self.0.service_namespace.clone(),
            name: self.0.service_name.clone(),
        }]
    }

    fn run<'a>(&'a self, ctx: &'a ScenarioCtx) -> BoxFuture<'a, Result<Outcome, ScenarioError>> {
        Box::pin(async move {
            let s = &self.0;
            let started = Instant::now();
            let svc = ObjectRef::new("v1", "Service", Some(&s.service_namespace), &s.service_name);
            let current = ctx
                .get(&svc)
                .await?
                .ok_or_else(|| ScenarioError::Failed(format!("{} not found", svc.display())))?;
            let original: Map<String, Value> = current
                .data
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let tag = random_name("sh", 5);
            let plan_text = serde_json::to_string(&s.plan).unwrap_or_default();
            let cm_name = random_name("chaosdeck-hijack-plan", 5);
            let cm = json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": cm_name, "namespace": s.service_namespace},
                "data": {"plan.json": plan_text},
            });
            ctx.step("creating the hijack plan ConfigMap");
            let cm_change = ctx
                .create(
                    &format!("created ConfigMap {}/{cm_name} (hijack plan)", s.service_namespace),
                    cm,
                )
                .await?;
            let pod_name = random_name("chaosdeck-hijack", 5);
            let port = s.service_target_port.clone().unwrap_or(json!(8080));
            let pod = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod_name, "namespace": s.service_namespace, "labels": {"service-hijacking": tag}},
                "spec": {
                    "containers": [{
                        "name": "hijacker", "image": s.image,
                        "ports": [{"containerPort": if port.is_number() { port.clone() } else { json!(8080) }, "name": "hijack"}],
                        "env": [{"name": "TEST_PLAN_PATH", "value": "/plan/plan.json"}],
                        "securityContext": {"privileged": s.privileged.unwrap_or(false)},
                        "volumeMounts": [{"name": "plan", "mountPath": "/plan"}],
                    }],
                    "volumes": [{"name": "plan", "configMap": {"name": cm_name}}],
                },
            });
            ctx.step("starting the hijack pod");
            let pod_change = ctx
                .create(&format!("created hijack Pod {}/{pod_name}", s.service_namespace), pod)
                .await?;
            // The selector becomes exactly {service-hijacking: tag}; restore puts every original
            // key back and drops ours. Guarded by what we set, so a human's edit is not clobbered.
            let mut set = Map::new();
            for k in original.keys() {
                set.insert(k.clone(), Value::Null);
            }
            set.insert("service-hijacking".into(), json!(tag));
            let mut restore: Map<String, Value> = original.clone();
            restore.insert("service-hijacking".into(), Value::Null);
            ctx.step(format!("pointing {} at the hijack pod", svc.display()));
            let selector_change = ctx
                .patch(
                    &format!("pointed {} at hijack pod {pod_name}", svc.display()),
                    svc.clone(),
                    json!({"spec": {"selector": set}}),
                    json!({"spec": {"selector": restore}}),
                )
                .await?;
            ctx.hold(self.expected(), self.expected(), started).await?;
            ctx.step("restoring the Service selector");
            ctx.revert(&selector_change).await?;
            ctx.revert(&pod_change).await?;
            ctx.revert(&cm_change).await?;
            Ok(Outcome::Passed)
        })
    }
}
