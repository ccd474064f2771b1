//! Identifiers shared by `cluster` and `journal`: which object, on which cluster.
//!
//! Below both, so that neither has to import the other for them. Owns no behaviour beyond
//! comparing and describing identifiers; must not talk to a cluster or touch files.

use std::borrow::Cow;

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
            _ => {
                normalized_server(&self.server) == normalized_server(&other.server)
                    && self.context == other.context
            }
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

/// An API server URL in the form two spellings of one server share: scheme and host in lower
/// case, the scheme's default port dropped, no trailing slash (kubeconfigs and kube's
/// `cluster_url` disagree on that slash).
pub fn normalized_server(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => "",
    };
    if !default_port.is_empty() && authority.ends_with(default_port) {
        authority.truncate(authority.len() - default_port.len());
    }
    format!("{scheme}://{authority}{path}")
}

/// Namespaces chaos never touches unless the config says so explicitly.
pub const BUILTIN_PROTECTED: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];
/// Where the dead man's switch keeps its Leases and mirrors by default: chaos there would
/// disarm the switch, so it is protected too.
pub const DEFAULT_SWITCH_NAMESPACE: &str = "chaosdeck-system";

/// The namespaces changes and undos stay out of, and whether the operator allowed them anyway
/// (a config with `allow_protected_namespaces: true` made its changes there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedNamespaces {
    pub namespaces: Vec<String>,
    pub allowed: bool,
}

impl Default for ProtectedNamespaces {
    /// The built-in ones and the switch's namespace, not allowed.
    fn default() -> Self {
        let mut namespaces: Vec<String> = BUILTIN_PROTECTED.iter().map(|s| s.to_string()).collect();
        namespaces.push(DEFAULT_SWITCH_NAMESPACE.to_string());
        ProtectedNamespaces { namespaces, allowed: false }
    }
}

impl ProtectedNamespaces {
    /// Whether `ns` is off limits.
    pub fn refuses(&self, ns: &str) -> bool {
        !self.allowed && self.namespaces.iter().any(|p| p == ns)
    }
}

/// `s` fit for a terminal, a log line or a file: every control character (an escape sequence
/// that would drive the terminal, a carriage return that would hide what came before, a
/// newline that would forge a log line) becomes `\u{FFFD}`. Strings from a cluster or a file
/// pass through here before they are shown or written.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect())
}

/// [`printable`] for text of several lines (a file shown whole): newlines and tabs stay.
pub fn printable_lines(s: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if bad(c) { '\u{FFFD}' } else { c }).collect())
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
    fn control_characters_never_pass() {
        assert_eq!(printable("plain"), "plain");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(printable("a\x1b[2Jb\rc\nd"), "a\u{FFFD}[2Jb\u{FFFD}c\u{FFFD}d");
        assert_eq!(printable_lines("a\x1b]0;x\x07\n\tb"), "a\u{FFFD}]0;x\u{FFFD}\n\tb");
        assert_eq!(printable("\u{9b}31m"), "\u{FFFD}31m", "C1 controls too");
    }

    /// An unreachable cluster (no uid) whose URL is spelled with a trailing slash, an upper-case
    /// host or its default port is the same cluster, not "made on another cluster".
    #[test]
    fn server_urls_compare_normalized() {
        let entry = id("prod", "https://API.prod.example:443/", None);
        assert!(entry.same_cluster(&id("prod", "https://api.prod.example", None)));
        assert!(!entry.same_cluster(&id("prod", "https://api.prod.example:6443", None)));
        assert!(!entry.same_cluster(&id("prod", "http://api.prod.example", None)));
        assert_eq!(normalized_server("http://127.0.0.1:80/base/"), "http://127.0.0.1/base");
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
