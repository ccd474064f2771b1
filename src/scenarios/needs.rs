//! What a loaded scenario may do to the cluster: the one list the preflight checks and the
//! scenario context enforces.
//!
//! Owns: [`Need`] (one operation of [`ScenarioCtx`](super::ScenarioCtx) on one kind, in one
//! namespace or all), the permissions each operation takes — its forward request and the
//! requests of its undo, since a scenario reverts its own changes — and [`UNDO_PERMISSIONS`],
//! what `execute-rollback` needs for every entry chaosdeck writes. A plan declares its needs
//! ([`ScenarioPlan::needs`](super::ScenarioPlan::needs)); the context refuses any operation that
//! is not declared, so a scenario cannot send a request the preflight did not ask about.

use crate::cluster::access::Permission;
pub use crate::journal::admissible::{Forward, Verb};

/// The operations of the scenario context, one per request shape it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `get` one object.
    Get,
    /// `list` a kind (in a namespace, or everywhere).
    List,
    /// A change chaos makes, written to the journal first; its requests and its undo's are
    /// [`Forward`]'s, which every undo kind names ([`Forward::of_undo`]).
    Change(Forward),
    /// `create` on the `eviction` subresource of pods; no entry.
    Evict,
    /// A signal to PID 1 of a container (`create` on `pods/exec`, after reading the pod); no
    /// entry: the kubelet starts the container again, nothing is left to undo.
    Signal,
}

impl Op {
    /// The change this operation makes, whose undo the journal admits
    /// (`journal::admissible`); `None` for reads and evictions (no entry).
    pub fn forward(self) -> Option<Forward> {
        match self {
            Op::Change(forward) => Some(forward),
            Op::Get | Op::List | Op::Evict | Op::Signal => None,
        }
    }
}

/// The operation as a refusal names it: `Create`, `List`, `Evict`.
impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Change(forward) => write!(f, "{forward:?}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// One operation on one kind; `namespace: None` for cluster-scoped kinds or every namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Need {
    pub op: Op,
    pub api_version: &'static str,
    pub kind: &'static str,
    pub namespace: Option<String>,
}

pub const POD: (&str, &str) = ("v1", "Pod");
pub const NODE: (&str, &str) = ("v1", "Node");
pub const NAMESPACE: (&str, &str) = ("v1", "Namespace");
pub const SERVICE: (&str, &str) = ("v1", "Service");
pub const CONFIGMAP: (&str, &str) = ("v1", "ConfigMap");
pub const NETWORKPOLICY: (&str, &str) = ("networking.k8s.io/v1", "NetworkPolicy");
pub const PVC: (&str, &str) = ("v1", "PersistentVolumeClaim");
pub const DEPLOYMENT: (&str, &str) = ("apps/v1", "Deployment");
pub const REPLICASET: (&str, &str) = ("apps/v1", "ReplicaSet");
pub const STATEFULSET: (&str, &str) = ("apps/v1", "StatefulSet");
pub const DAEMONSET: (&str, &str) = ("apps/v1", "DaemonSet");

impl Need {
    pub fn new(
        op: Op,
        (api_version, kind): (&'static str, &'static str),
        ns: Option<&str>,
    ) -> Need {
        Need { op, api_version, kind, namespace: ns.map(str::to_string) }
    }

    /// Whether this declaration allows `op` on `api_version`/`kind` in `ns`.
    pub fn allows(&self, op: Op, api_version: &str, kind: &str, ns: Option<&str>) -> bool {
        self.op == op
            && self.api_version == api_version
            && self.kind == kind
            && (self.namespace.is_none() || self.namespace.as_deref() == ns)
    }

    /// The requests the forward operation sends.
    pub fn forward(&self) -> Vec<Permission> {
        let on =
            |verb| Permission::on(verb, self.api_version, self.kind, self.namespace.as_deref());
        match self.op {
            Op::Get => vec![on("get")],
            Op::List => vec![on("list")],
            Op::Change(forward) => forward.verbs().iter().map(|v| self.permission(v)).collect(),
            Op::Evict => vec![on("create").on_subresource("eviction")],
            // A WebSocket exec is a GET the API server authorizes as get and create (v1.35+).
            Op::Signal => vec![
                on("get"),
                on("get").on_subresource("exec"),
                on("create").on_subresource("exec"),
            ],
        }
    }

    /// The requests its journal entry's undo sends (the executor's `apply_action`).
    pub fn undo(&self) -> Vec<Permission> {
        match self.op {
            Op::Get | Op::List | Op::Evict | Op::Signal => vec![],
            Op::Change(forward) => {
                forward.undo_verbs().iter().map(|v| self.permission(v)).collect()
            }
        }
    }

    /// `verb` on this need's kind (or the other kind it names), in its namespace.
    fn permission(&self, verb: &Verb) -> Permission {
        let (api_version, kind) = verb.other.unwrap_or((self.api_version, self.kind));
        let p = Permission::on(verb.verb, api_version, kind, self.namespace.as_deref());
        match verb.subresource {
            Some(sub) => p.on_subresource(sub),
            None => p,
        }
    }

    /// Forward and undo: a run reverts its own changes, so it needs both.
    pub fn permissions(&self) -> Vec<Permission> {
        let mut all = self.forward();
        all.extend(self.undo());
        all
    }
}

/// What every run needs besides its scenarios: the cluster identity (the kube-system
/// namespace's uid, recorded in each entry), and who it is (the dead man's switch names it).
pub fn run_permissions() -> Vec<Permission> {
    vec![
        Permission::on("get", NAMESPACE.0, NAMESPACE.1, None),
        Permission::on("create", "authentication.k8s.io/v1", "SelfSubjectReview", None),
    ]
}

/// What `execute-rollback` (and the TUI's `x`/`!`) needs cluster-wide for any entry chaosdeck
/// or Krkn writes: the undo of every change a scenario can declare, the cluster identity, and
/// the lists Krkn's service-hijacking mapping reads (its leftover plan ConfigMaps) — all but
/// re-creating what was deleted, which may create privileged pods and is granted per namespace
/// ([`RECREATE_PERMISSIONS`]).
pub const UNDO_PERMISSIONS: &[(&str, (&str, &str))] = &[
    ("get", NAMESPACE),
    ("get", POD),
    ("delete", POD),
    ("list", POD),
    ("get", CONFIGMAP),
    ("delete", CONFIGMAP),
    ("list", CONFIGMAP),
    ("get", SERVICE),
    ("patch", SERVICE),
    ("get", NETWORKPOLICY),
    ("delete", NETWORKPOLICY),
    ("get", NODE),
    ("patch", NODE),
    ("get", PVC),
    ("get", DEPLOYMENT),
    ("get", REPLICASET),
    ("get", STATEFULSET),
    ("get", DAEMONSET),
];

pub fn undo_permissions() -> Vec<Permission> {
    UNDO_PERMISSIONS.iter().map(|(verb, (v, k))| Permission::on(verb, v, k, None)).collect()
}

/// The undo of a deletion re-creates the object (a bare pod; a Service or workload controller
/// of a service disruption): granted in the namespaces where objects are deleted, never
/// cluster-wide (whoever may create any pod — or any Deployment — anywhere may create a
/// privileged one in kube-system).
pub const RECREATE_PERMISSIONS: &[(&str, (&str, &str))] = &[
    ("create", POD),
    ("create", SERVICE),
    ("create", DEPLOYMENT),
    ("create", REPLICASET),
    ("create", STATEFULSET),
    ("create", DAEMONSET),
];

pub fn recreate_permissions() -> Vec<Permission> {
    RECREATE_PERMISSIONS.iter().map(|(verb, (v, k))| Permission::on(verb, v, k, None)).collect()
}

/// The undo of a PVC fill execs `rm` in a pod (a WebSocket upgrade, which the API server
/// authorizes as get and create): granted in the namespaces where claims are filled, never
/// cluster-wide (exec into every pod reads every mounted secret).
pub fn exec_undo_permissions() -> Vec<Permission> {
    ["get", "create"]
        .into_iter()
        .map(|verb| Permission::on(verb, POD.0, POD.1, None).on_subresource("exec"))
        .collect()
}

/// Every permission the plans' needs take, plus the run's own, without duplicates.
pub fn permissions_of<'a>(needs: impl IntoIterator<Item = &'a Need>) -> Vec<Permission> {
    let mut all = run_permissions();
    for need in needs {
        all.extend(need.permissions());
    }
    crate::cluster::access::normalize(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::journal::admissible::REVERSIBLE;

    #[test]
    fn undo_permissions_cover_the_undo_of_every_change_a_scenario_can_make() {
        let mut rollback = undo_permissions();
        rollback.extend(recreate_permissions());
        rollback.extend(exec_undo_permissions());
        for change in REVERSIBLE {
            let op = Op::Change(change.forward);
            let kind: (&'static str, &'static str) = (change.api_version, change.kind);
            for p in Need::new(op, kind, None).undo() {
                assert!(rollback.iter().any(|r| r.covers(&p)), "{p} missing for rollback");
            }
        }
    }

    #[test]
    fn a_namespaced_need_is_allowed_only_in_its_namespace() {
        let need = Need::new(Op::Change(Forward::Create), POD, Some("demo"));
        assert!(need.allows(Op::Change(Forward::Create), "v1", "Pod", Some("demo")));
        assert!(!need.allows(Op::Change(Forward::Create), "v1", "Pod", Some("prod")));
        assert!(!need.allows(Op::Change(Forward::Delete), "v1", "Pod", Some("demo")));
        assert!(Need::new(Op::Change(Forward::Delete), POD, None).allows(
            Op::Change(Forward::Delete),
            "v1",
            "Pod",
            Some("x")
        ));
    }
}
