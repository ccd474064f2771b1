//! Built-in checks that need no configuration: the ready/desired replicas of the Deployments
//! behind the pods a scenario targets, and the ready endpoints of a Service a scenario
//! hijacks. They read the API only, so they work on any cluster (kwok included), unlike URL
//! checks that need a process answering behind the Service.
//!
//! Owns: turning scenario targets into rows and reading their state. Must not change
//! anything on the cluster.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kube::api::DynamicObject;
use serde_json::Value;

use crate::cluster::ClusterOps;
use crate::journal::ObjectRef;

/// The label of a service-hijacking pod (Krkn's and chaosdeck's).
const HIJACK_LABEL: &str = "service-hijacking";

/// What a scenario targets, as far as readiness goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// The Deployments owning the pods in namespaces matching `namespace` (a regex), whose
    /// names match `name` (a regex) and that carry every label of `labels`.
    Pods { namespace: String, name: Option<String>, labels: Vec<(String, String)> },
    /// A Service whose endpoints a scenario takes over.
    Service { namespace: String, name: String },
}

impl Target {
    /// Pods in exactly `namespace` with `labels`.
    pub fn pods_in(namespace: &str, labels: Vec<(String, String)>) -> Target {
        Target::Pods { namespace: format!("^{}$", regex::escape(namespace)), name: None, labels }
    }

    /// `k=v,k2==v2` equality terms of a label selector (set-based terms are not followed).
    pub fn labels_of(selector: &str) -> Vec<(String, String)> {
        selector
            .split(',')
            .filter_map(|term| {
                let (k, v) = term.split_once("==").or_else(|| term.split_once('='))?;
                let (k, v) = (k.trim(), v.trim());
                (!k.is_empty() && !k.ends_with('!')).then(|| (k.to_string(), v.to_string()))
            })
            .collect()
    }
}

/// A resolved row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Watched {
    Deployment { namespace: String, name: String },
    Service { namespace: String, name: String },
}

impl Watched {
    pub fn name(&self) -> String {
        match self {
            Watched::Deployment { namespace, name } => format!("deploy {namespace}/{name}"),
            Watched::Service { namespace, name } => format!("endpoints {namespace}/{name}"),
        }
    }
}

/// The rows for `targets`, found once when the run starts (later a killed pod's owner would
/// be looked up while it is gone).
pub async fn resolve(ops: &ClusterOps, targets: &[Target]) -> Vec<Watched> {
    let mut out = BTreeSet::new();
    for target in targets {
        match target {
            Target::Service { namespace, name } => {
                out.insert(Watched::Service { namespace: namespace.clone(), name: name.clone() });
            }
            Target::Pods { namespace, name, labels } => {
                for (ns, deploy) in
                    deployments_behind(ops, namespace, name.as_deref(), labels).await
                {
                    out.insert(Watched::Deployment { namespace: ns, name: deploy });
                }
            }
        }
    }
    out.into_iter().collect()
}

async fn deployments_behind(
    ops: &ClusterOps,
    namespace: &str,
    name: Option<&str>,
    labels: &[(String, String)],
) -> Vec<(String, String)> {
    let (Ok(ns_re), Ok(name_re)) =
        (regex::Regex::new(namespace), regex::Regex::new(name.unwrap_or("")))
    else {
        return Vec::new();
    };
    let namespaces = ops.list("v1", "Namespace", None).await.unwrap_or_default();
    let mut out = Vec::new();
    for ns in namespaces.iter().filter_map(|n| n.metadata.name.as_deref()) {
        if !ns_re.is_match(ns) {
            continue;
        }
        let pods = ops.list("v1", "Pod", Some(ns)).await.unwrap_or_default();
        let sets: BTreeSet<String> = pods
            .iter()
            .filter(|p| name_re.is_match(p.metadata.name.as_deref().unwrap_or("")))
            .filter(|p| has_labels(p, labels))
            .flat_map(|p| owners(p, "ReplicaSet"))
            .collect();
        if sets.is_empty() {
            continue;
        }
        let replica_sets = ops.list("apps/v1", "ReplicaSet", Some(ns)).await.unwrap_or_default();
        for rs in replica_sets
            .iter()
            .filter(|rs| rs.metadata.name.as_ref().is_some_and(|n| sets.contains(n)))
        {
            for deploy in owners(rs, "Deployment") {
                out.push((ns.to_string(), deploy));
            }
        }
    }
    out
}

fn has_labels(obj: &DynamicObject, labels: &[(String, String)]) -> bool {
    let have = obj.metadata.labels.as_ref();
    labels.iter().all(|(k, v)| have.and_then(|l| l.get(k)) == Some(v))
}

fn owners(obj: &DynamicObject, kind: &str) -> Vec<String> {
    obj.metadata
        .owner_references
        .iter()
        .flatten()
        .filter(|o| o.kind == kind)
        .map(|o| o.name.clone())
        .collect()
}

/// (ok, latency, detail)
pub async fn probe(ops: &ClusterOps, watched: &Watched) -> (bool, Duration, String) {
    let started = Instant::now();
    let (ok, detail) = match watched {
        Watched::Deployment { namespace, name } => {
            let target = ObjectRef::new("apps/v1", "Deployment", Some(namespace), name);
            match ops.get(&target).await {
                Ok(Some(d)) => {
                    let num = |p: &str| d.data.pointer(p).and_then(Value::as_i64).unwrap_or(0);
                    let desired = d.data.pointer("/spec/replicas").and_then(Value::as_i64);
                    let desired = desired.unwrap_or(1);
                    let ready = num("/status/readyReplicas");
                    (ready >= desired, format!("{ready}/{desired} ready"))
                }
                Ok(None) => (false, "not found".into()),
                Err(e) => (false, e.to_string()),
            }
        }
        Watched::Service { namespace, name } => service(ops, namespace, name).await,
    };
    (ok, started.elapsed(), detail)
}

async fn service(ops: &ClusterOps, namespace: &str, name: &str) -> (bool, String) {
    let target = ObjectRef::new("v1", "Service", Some(namespace), name);
    let svc = match ops.get(&target).await {
        Ok(Some(svc)) => svc,
        Ok(None) => return (false, "not found".into()),
        Err(e) => return (false, e.to_string()),
    };
    let selector: Vec<(String, String)> = svc
        .data
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect()
        })
        .unwrap_or_default();
    if selector.iter().any(|(k, _)| k == HIJACK_LABEL) {
        return (false, "hijacked".into());
    }
    if selector.is_empty() {
        return (false, "no selector".into());
    }
    let pods = match ops.list("v1", "Pod", Some(namespace)).await {
        Ok(pods) => pods,
        Err(e) => return (false, e.to_string()),
    };
    let ready = pods.iter().filter(|p| has_labels(p, &selector) && is_ready(p)).count();
    (ready > 0, format!("{ready} ready endpoint{}", if ready == 1 { "" } else { "s" }))
}

fn is_ready(pod: &DynamicObject) -> bool {
    pod.data.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten().any(
        |c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("status").and_then(Value::as_str) == Some("True")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_terms_of_a_selector_are_kept() {
        assert_eq!(
            Target::labels_of("app=cart, tier==backend,env!=prod,x in (a)"),
            vec![("app".into(), "cart".into()), ("tier".into(), "backend".into())]
        );
        assert_eq!(
            Target::pods_in("a.b", vec![]),
            Target::Pods { namespace: "^a\\.b$".into(), name: None, labels: vec![] }
        );
    }
}
