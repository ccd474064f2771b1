//! The fixed table of API resources the sandbox serves.
//!
//! Owns: which group/version/resource triples exist, their kind, scope, short names and
//! subresources. Everything else (discovery, routing, the store) looks resources up here, so
//! adding a kind means adding one row. Must not hold any object data.

/// One servable API resource (a row of discovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceDef {
    pub group: &'static str,
    pub version: &'static str,
    /// Plural, lower case: the URL segment.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub subresources: &'static [&'static str],
    /// Namespaces cannot be deleted as a collection in Kubernetes; keep that quirk.
    pub deletecollection: bool,
    /// Name rule: namespaces and services need a DNS-1123 label, the rest a subdomain.
    pub label_name: bool,
}

impl ResourceDef {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` for core, `deployments.apps` otherwise: the spelling kubectl uses in errors.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub fn has_sub(&self, sub: &str) -> bool {
        self.subresources.contains(&sub)
    }
}

// One positional row per resource keeps the table below readable as a table.
#[allow(clippy::too_many_arguments)]
const fn def(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    subresources: &'static [&'static str],
) -> ResourceDef {
    ResourceDef {
        group,
        version,
        plural,
        singular,
        kind,
        namespaced,
        short_names,
        subresources,
        deletecollection: true,
        label_name: false,
    }
}

/// Index of each resource in [`RESOURCES`]; the store is a vector indexed by these.
pub const NAMESPACES: usize = 0;
pub const NODES: usize = 1;
pub const PODS: usize = 2;
pub const SERVICES: usize = 3;
pub const CONFIGMAPS: usize = 4;
pub const EVENTS: usize = 5;
pub const DEPLOYMENTS: usize = 6;
pub const REPLICASETS: usize = 7;
pub const NETWORKPOLICIES: usize = 8;
pub const JOBS: usize = 9;
pub const PDBS: usize = 10;
pub const LEASES: usize = 11;
pub const PVCS: usize = 12;
pub const STATEFULSETS: usize = 13;
pub const DAEMONSETS: usize = 14;

pub static RESOURCES: [ResourceDef; 15] = [
    ResourceDef {
        deletecollection: false,
        label_name: true,
        ..def(
            "",
            "v1",
            "namespaces",
            "namespace",
            "Namespace",
            false,
            &["ns"],
            &["status", "finalize"],
        )
    },
    def("", "v1", "nodes", "node", "Node", false, &["no"], &["status"]),
    def("", "v1", "pods", "pod", "Pod", true, &["po"], &["status", "eviction", "log", "exec"]),
    ResourceDef {
        label_name: true,
        ..def("", "v1", "services", "service", "Service", true, &["svc"], &["status"])
    },
    def("", "v1", "configmaps", "configmap", "ConfigMap", true, &["cm"], &[]),
    def("", "v1", "events", "event", "Event", true, &["ev"], &[]),
    def(
        "apps",
        "v1",
        "deployments",
        "deployment",
        "Deployment",
        true,
        &["deploy"],
        &["status", "scale"],
    ),
    def(
        "apps",
        "v1",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        true,
        &["rs"],
        &["status", "scale"],
    ),
    def(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        true,
        &["netpol"],
        &[],
    ),
    def("batch", "v1", "jobs", "job", "Job", true, &[], &["status"]),
    def(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        true,
        &["pdb"],
        &["status"],
    ),
    def("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, &[], &[]),
    def(
        "",
        "v1",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        true,
        &["pvc"],
        &["status"],
    ),
    // Stored and served; no controller creates their pods (the Deployment one does).
    def(
        "apps",
        "v1",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        true,
        &["sts"],
        &["status", "scale"],
    ),
    def("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, &["ds"], &["status"]),
];

/// Non-core groups in the order `/apis` lists them.
pub const GROUPS: [&str; 5] =
    ["apps", "networking.k8s.io", "batch", "policy", "coordination.k8s.io"];

pub fn find(group: &str, version: &str, plural: &str) -> Option<usize> {
    RESOURCES.iter().position(|r| r.group == group && r.version == version && r.plural == plural)
}

pub fn in_group_version(group: &str, version: &str) -> impl Iterator<Item = &'static ResourceDef> {
    let (group, version) = (group.to_string(), version.to_string());
    RESOURCES.iter().filter(move |r| r.group == group && r.version == version)
}

pub fn group_exists(group: &str) -> bool {
    GROUPS.contains(&group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_match_the_table() {
        assert_eq!(RESOURCES[PODS].plural, "pods");
        assert_eq!(RESOURCES[NODES].plural, "nodes");
        assert_eq!(RESOURCES[NAMESPACES].plural, "namespaces");
        assert_eq!(RESOURCES[SERVICES].plural, "services");
        assert_eq!(RESOURCES[CONFIGMAPS].plural, "configmaps");
        assert_eq!(RESOURCES[EVENTS].plural, "events");
        assert_eq!(RESOURCES[DEPLOYMENTS].plural, "deployments");
        assert_eq!(RESOURCES[REPLICASETS].plural, "replicasets");
        assert_eq!(RESOURCES[NETWORKPOLICIES].plural, "networkpolicies");
        assert_eq!(RESOURCES[JOBS].plural, "jobs");
        assert_eq!(RESOURCES[PDBS].plural, "poddisruptionbudgets");
        assert_eq!(RESOURCES[LEASES].plural, "leases");
        assert_eq!(RESOURCES[PVCS].plural, "persistentvolumeclaims");
        assert_eq!(RESOURCES[STATEFULSETS].plural, "statefulsets");
        assert_eq!(RESOURCES[DAEMONSETS].plural, "daemonsets");
        assert_eq!(find("apps", "v1", "deployments"), Some(DEPLOYMENTS));
        assert_eq!(RESOURCES[DEPLOYMENTS].qualified(), "deployments.apps");
    }
}
