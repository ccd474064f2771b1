//! Identifiers shared by `cluster` and `journal`: which object, on which cluster.
//!
//! Below both, so that neither has to import the other for them. Owns no behaviour beyond
//! comparing and describing identifiers; must not talk to a cluster or touch files.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Identifies one object by apiVersion + kind, so any resource type works.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn new(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Self {
        ObjectRef {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }

    /// `Kind ns/name` or `Kind name`, for messages.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// The identity of a snapshot (missing fields become empty strings and fail later, loudly).
pub fn object_ref_of(object: &Value) -> ObjectRef {
    let s = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
    ObjectRef {
        api_version: s("/apiVersion"),
        kind: s("/kind"),
        namespace: object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string),
        name: s("/metadata/name"),
    }
}

/// The cluster an entry was made on, recorded in every entry so that nothing replays it on
/// another cluster by mistake (a demo's snapshot re-created on production).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterIdentity {
    /// Kubeconfig context name at the time.
    pub context: String,
    /// API server URL.
    pub server: String,
    /// uid of the `kube-system` namespace: stable for the life of a cluster, different on every
    /// other one, whatever its context is called. Absent when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_system_uid: Option<String>,
}

impl ClusterIdentity {
    /// The same cluster: by kube-system uid when both sides know it (contexts get renamed,
    /// servers sit behind new load balancers), else by server URL and context together.
    pub fn same_cluster(&self, other: &ClusterIdentity) -> bool {
        match (&self.kube_system_uid, &other.kube_system_uid) {
            (Some(a), Some(b)) => a == b,
            _ => self.server == other.server && self.context == other.context,
        }
    }

    /// `context prod-eu at https://… (kube-system uid …)`, for messages.
    pub fn describe(&self) -> String {
        match &self.kube_system_uid {
            Some(uid) => {
                format!("context {} at {} (kube-system uid {uid})", self.context, self.server)
            }
            None => format!("context {} at {}", self.context, self.server),
        }
    }
}

/// A valid RFC 1123 label (namespace names): lower-case alphanumerics and `-`, at most 63,
/// starting and ending with an alphanumeric.
pub fn is_dns_label(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| alnum(c) || c == '-')
        && name.starts_with(alnum)
        && name.ends_with(alnum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(context: &str, server: &str, uid: Option<&str>) -> ClusterIdentity {
        ClusterIdentity {
            context: context.into(),
            server: server.into(),
            kube_system_uid: uid.map(str::to_string),
        }
    }

    #[test]
    fn clusters_are_told_apart_by_uid_first() {
        let a = id("prod", "https://a", Some("u1"));
        assert!(a.same_cluster(&id("renamed", "https://lb", Some("u1"))));
        assert!(!a.same_cluster(&id("prod", "https://a", Some("u2"))));
        assert!(a.same_cluster(&id("prod", "https://a", None)));
        assert!(!a.same_cluster(&id("prod", "https://b", None)));
        assert!(!a.same_cluster(&id("staging", "https://a", None)));
    }
}
