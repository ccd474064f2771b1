//! Permissions: what a request needs from the API server's authorizer, and asking it.
//!
//! Owns: the [`Permission`] value (verb, API group, resource, subresource, namespace), the map
//! from apiVersion + kind to the resource name RBAC uses, and the preflight question
//! ("may I?") put to the API server as one `SelfSubjectAccessReview` per permission. Must not
//! decide which permissions a scenario needs: `scenarios::needs` does, and the scenario context
//! refuses any operation its plan did not declare.

use std::fmt;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};
use serde::Serialize;

/// One thing the API server must allow, in RBAC's terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Permission {
    pub verb: &'static str,
    /// `""` for the core group.
    pub group: String,
    /// Plural, lower case (`networkpolicies`).
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subresource: Option<&'static str>,
    /// `None`: cluster-scoped resources, or every namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Permission {
    /// `verb` on the resource that serves `api_version` + `kind`.
    pub fn on(verb: &'static str, api_version: &str, kind: &str, namespace: Option<&str>) -> Self {
        let (group, resource) = resource_of(api_version, kind);
        Permission {
            verb,
            group,
            resource,
            subresource: None,
            namespace: namespace.map(str::to_string),
        }
    }

    pub fn on_subresource(mut self, subresource: &'static str) -> Self {
        self.subresource = Some(subresource);
        self
    }

    /// Whether holding `self` allows `other` (same request; a namespace-less grant covers
    /// every namespace).
    pub fn covers(&self, other: &Permission) -> bool {
        self.verb == other.verb
            && self.group == other.group
            && self.resource == other.resource
            && self.subresource == other.subresource
            && (self.namespace.is_none() || self.namespace == other.namespace)
    }

    /// `networkpolicies.networking.k8s.io`, `pods/eviction`: the spelling of RBAC rules and
    /// `kubectl auth can-i`.
    pub fn resource_name(&self) -> String {
        let mut name = self.resource.clone();
        if let Some(sub) = self.subresource {
            name = format!("{name}/{sub}");
        }
        if self.group.is_empty() { name } else { format!("{name}.{}", self.group) }
    }

    /// `kubectl auth can-i` asks the same question by hand.
    pub fn can_i(&self) -> String {
        let scope = match &self.namespace {
            Some(ns) => format!("-n {ns}"),
            None => "--all-namespaces".into(),
        };
        format!("kubectl auth can-i {} {} {scope}", self.verb, self.resource_name())
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {} in namespace {ns}", self.verb, self.resource_name()),
            None => write!(f, "{} {} (all namespaces / cluster)", self.verb, self.resource_name()),
        }
    }
}

/// The API group and the plural resource name of a kind. Known kinds come from k8s-openapi;
/// an unknown one falls back to Kubernetes' default plural (lower case + `s`).
pub fn resource_of(api_version: &str, kind: &str) -> (String, String) {
    use k8s_openapi::api::{core::v1 as core, networking::v1 as net};
    use kube::Resource;
    let group = api_version.split_once('/').map(|(g, _)| g.to_string()).unwrap_or_default();
    let plural = match kind {
        "Pod" => core::Pod::plural(&()).into_owned(),
        "Node" => core::Node::plural(&()).into_owned(),
        "Namespace" => core::Namespace::plural(&()).into_owned(),
        "Service" => core::Service::plural(&()).into_owned(),
        "ConfigMap" => core::ConfigMap::plural(&()).into_owned(),
        "NetworkPolicy" => net::NetworkPolicy::plural(&()).into_owned(),
        other => {
            let lower = other.to_ascii_lowercase();
            if lower.ends_with('y') {
                format!("{}ies", &lower[..lower.len() - 1])
            } else {
                format!("{lower}s")
            }
        }
    };
    (group, plural)
}

/// The authorizer's answer for one permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub permission: Permission,
    pub allowed: bool,
    /// The authorizer's reason (RBAC gives one when it allows; a denial often has none).
    pub reason: String,
}

/// Asks the API server, once per permission, whether the credentials of `client` hold it
/// (`SelfSubjectAccessReview`: every authenticated user may ask about itself). An error means
/// no answer (the server unreachable, the review API not served), not a denial.
pub async fn review(client: &Client, wanted: &[Permission]) -> Result<Vec<Verdict>, kube::Error> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let mut verdicts = Vec::with_capacity(wanted.len());
    for permission in wanted {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(permission.verb.to_string()),
                    group: Some(permission.group.clone()),
                    resource: Some(permission.resource.clone()),
                    subresource: permission.subresource.map(str::to_string),
                    namespace: permission.namespace.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let answer = api.create(&PostParams::default(), &review).await?;
        let status = answer.status.unwrap_or_default();
        let reason = [status.reason, status.evaluation_error]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        verdicts.push(Verdict {
            permission: permission.clone(),
            allowed: status.allowed && !status.denied.unwrap_or(false),
            reason,
        });
    }
    Ok(verdicts)
}

/// Sorts and removes duplicates and permissions another one in the list covers.
pub fn normalize(mut wanted: Vec<Permission>) -> Vec<Permission> {
    wanted.sort();
    wanted.dedup();
    let all = wanted.clone();
    wanted.retain(|p| !all.iter().any(|q| q != p && q.covers(p)));
    wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_rbac_resources() {
        let p = Permission::on("create", "networking.k8s.io/v1", "NetworkPolicy", Some("demo"));
        assert_eq!(
            (p.group.as_str(), p.resource.as_str()),
            ("networking.k8s.io", "networkpolicies")
        );
        assert_eq!(p.resource_name(), "networkpolicies.networking.k8s.io");
        assert_eq!(p.to_string(), "create networkpolicies.networking.k8s.io in namespace demo");
        let e = Permission::on("create", "v1", "Pod", None).on_subresource("eviction");
        assert_eq!(e.resource_name(), "pods/eviction");
        assert_eq!(e.can_i(), "kubectl auth can-i create pods/eviction --all-namespaces");
        assert_eq!(resource_of("policy/v1", "PodDisruptionBudget").1, "poddisruptionbudgets");
    }

    #[test]
    fn a_cluster_wide_grant_covers_each_namespace_and_not_the_other_way() {
        let all = Permission::on("delete", "v1", "Pod", None);
        let demo = Permission::on("delete", "v1", "Pod", Some("demo"));
        assert!(all.covers(&demo));
        assert!(!demo.covers(&all));
        assert!(!Permission::on("get", "v1", "Pod", None).covers(&demo));
        assert_eq!(normalize(vec![demo.clone(), all.clone(), demo]), vec![all]);
    }
}
