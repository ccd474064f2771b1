//! What an undo may touch, whoever runs it (the engine, the TUI, `execute-rollback`, the
//! watchdog): only the inverse of a change some scenario can make, never in a protected
//! namespace. An entry is data that someone wrote — a mirror in the cluster, a file in a
//! directory — so what it asks for is checked here before any request is sent.
//!
//! Owns: [`REVERSIBLE`], the changes chaos makes (scenarios may declare nothing else:
//! `scenarios::needs` checks its operations against it), and [`admit`]. Must not send
//! anything: it judges actions, the executor applies them.

pub use super::undo::Author;
use super::undo::UndoAction;
use crate::refs::ProtectedNamespaces;

/// A forward operation a scenario performs through its context: the kind of a change, and of
/// the undo that reverses it. Everything that differs by kind and is not about one object's
/// fields is answered here by an exhaustive match, so a new kind does not compile until each
/// answer is given: which undo reverses it ([`Forward::of_undo`]), the requests it and its undo
/// send ([`Forward::verbs`], [`Forward::undo_verbs`]: the permissions a scenario declares and
/// the rollback role grants), and its name in a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Forward {
    /// Creates an object; undone by deleting exactly it.
    Create,
    /// Merge-patches fields; undone by a guarded patch back.
    Patch,
    /// Appends one item to a list; undone by removing exactly that item.
    AddListItem,
    /// Deletes an object; undone by re-creating it from its snapshot.
    Delete,
    /// Allocates a file inside a container of a pod (exec); undone by removing exactly that
    /// file, through whichever pod mounts its claim then.
    FillFile,
    /// Starts chaosdeck's helper pod on the target's node, which applies a fault tagged with
    /// the entry id (and removes it at its deadline); undone by asking the helper to remove
    /// the tagged rules, then deleting the helper.
    StartHelper,
    /// Krkn's storage throttle (Krkn makes it; chaosdeck only lifts what Krkn left): undone by
    /// a one-shot helper on the node of Krkn's privileged pod, then deleting that pod.
    KrknThrottle,
}

/// One request a change or an undo sends: a verb on the kind, on one of its subresources, or
/// on another kind in the same namespace (`other`: apiVersion and kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verb {
    pub verb: &'static str,
    pub subresource: Option<&'static str>,
    pub other: Option<(&'static str, &'static str)>,
}

const fn on(verb: &'static str) -> Verb {
    Verb { verb, subresource: None, other: None }
}

const fn on_sub(verb: &'static str, subresource: &'static str) -> Verb {
    Verb { verb, subresource: Some(subresource), other: None }
}

const fn on_other(verb: &'static str, api_version: &'static str, kind: &'static str) -> Verb {
    Verb { verb, subresource: None, other: Some((api_version, kind)) }
}

impl Forward {
    /// The change `action` reverses.
    pub fn of_undo(action: &UndoAction) -> Forward {
        match action {
            UndoAction::Delete { .. } => Forward::Create,
            UndoAction::Patch { .. } => Forward::Patch,
            UndoAction::RemoveListItem { .. } => Forward::AddListItem,
            UndoAction::Create { .. } => Forward::Delete,
            UndoAction::RemoveFile { .. } => Forward::FillFile,
            UndoAction::StopHelper { .. } => Forward::StartHelper,
            UndoAction::LiftThrottle { .. } => Forward::KrknThrottle,
        }
    }

    /// The requests the change sends.
    pub fn verbs(self) -> &'static [Verb] {
        match self {
            Forward::Create => const { &[on("create")] },
            Forward::Patch => const { &[on("patch")] },
            // Read the list, then append to it with a test-guarded JSON patch.
            Forward::AddListItem => const { &[on("get"), on("patch")] },
            Forward::Delete => const { &[on("delete")] },
            // Read the pod (uid, restarts), then exec (`df` and `fallocate`): a WebSocket
            // upgrade is a GET that the API server authorizes as both get and create.
            Forward::FillFile => {
                const { &[on("get"), on_sub("get", "exec"), on_sub("create", "exec")] }
            }
            // Krkn's change, never sent by chaosdeck.
            Forward::KrknThrottle => const { &[] },
            // Create the helper, read it until it runs, ask it (exec) what it applied.
            Forward::StartHelper => {
                const { &[on("create"), on("get"), on_sub("get", "exec"), on_sub("create", "exec")] }
            }
        }
    }

    /// The requests its undo sends (the executor's `apply`).
    pub fn undo_verbs(self) -> &'static [Verb] {
        match self {
            // Read for the uid or label check, then delete exactly that object.
            Forward::Create => const { &[on("get"), on("delete")] },
            Forward::Patch | Forward::AddListItem => const { &[on("get"), on("patch")] },
            Forward::Delete => const { &[on("create"), on("get")] },
            // Read the pod; when it is gone, read its claim and list the pods that may mount
            // it; exec `rm` and `df`.
            Forward::FillFile => {
                const {
                    &[
                        on("get"),
                        on("list"),
                        on_sub("create", "exec"),
                        on_other("get", "v1", "PersistentVolumeClaim"),
                    ]
                }
            }
            // Read Krkn's pod (its node), create the lift helper and read it until it ends,
            // delete both.
            Forward::KrknThrottle => const { &[on("get"), on("create"), on("delete")] },
            // Read the helper, exec its removal, delete it.
            Forward::StartHelper => {
                const { &[on("get"), on("delete"), on_sub("get", "exec"), on_sub("create", "exec")] }
            }
        }
    }

    /// What its undo does, as a refusal says it: "an undo may not <word> v1 Pod".
    fn undo_word(self) -> &'static str {
        match self {
            Forward::Create => "delete",
            Forward::Patch => "patch",
            Forward::AddListItem => "remove a list item of",
            Forward::Delete => "re-create",
            Forward::FillFile => "remove a file in",
            Forward::StartHelper => "stop the helper",
            Forward::KrknThrottle => "lift a throttle through",
        }
    }
}

/// One change chaos makes: the operation, the kind, and for patches and list items the
/// fields it touches (JSON pointers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reversible {
    pub forward: Forward,
    pub api_version: &'static str,
    pub kind: &'static str,
    pub fields: &'static [&'static str],
}

const fn change(forward: Forward, api_version: &'static str, kind: &'static str) -> Reversible {
    Reversible { forward, api_version, kind, fields: &[] }
}

/// Every change a scenario can make. A new scenario that changes something else adds it here
/// (its undo is refused otherwise, and its context refuses the change itself).
pub const REVERSIBLE: &[Reversible] = &[
    // application outage: the deny-all policy.
    change(Forward::Create, "networking.k8s.io/v1", "NetworkPolicy"),
    // hog, syn flood, http load, service hijacking: their pods.
    change(Forward::Create, "v1", "Pod"),
    // service hijacking: its plan.
    change(Forward::Create, "v1", "ConfigMap"),
    // service hijacking: the selector.
    Reversible {
        forward: Forward::Patch,
        api_version: "v1",
        kind: "Service",
        fields: &["/spec/selector"],
    },
    // node cordon.
    Reversible {
        forward: Forward::Patch,
        api_version: "v1",
        kind: "Node",
        fields: &["/spec/unschedulable"],
    },
    // node taint.
    Reversible {
        forward: Forward::AddListItem,
        api_version: "v1",
        kind: "Node",
        fields: &["/spec/taints"],
    },
    // pod disruption: a bare pod, re-created from its snapshot.
    change(Forward::Delete, "v1", "Pod"),
    // service disruption: a namespace's Services and workload controllers, re-created from
    // their snapshots.
    change(Forward::Delete, "v1", "Service"),
    change(Forward::Delete, "apps/v1", "Deployment"),
    change(Forward::Delete, "apps/v1", "ReplicaSet"),
    change(Forward::Delete, "apps/v1", "StatefulSet"),
    change(Forward::Delete, "apps/v1", "DaemonSet"),
    // PVC fill: a file in a container of the pod, removed by its tag.
    change(Forward::FillFile, "v1", "Pod"),
    // Network filter: chaosdeck's helper pod, which applies the tagged rules.
    change(Forward::StartHelper, "v1", "Pod"),
    // Krkn's storage throttle: its privileged pod, whose node the lift runs on.
    change(Forward::KrknThrottle, "v1", "Pod"),
];

/// The change `forward` on `api_version`/`kind`, if chaos makes it.
pub fn reversible(forward: Forward, api_version: &str, kind: &str) -> Option<&'static Reversible> {
    REVERSIBLE
        .iter()
        .find(|r| r.forward == forward && r.api_version == api_version && r.kind == kind)
}

/// Why `action` may not be applied, or `Ok` when it is the inverse of a change chaos makes.
pub fn admit(
    action: &UndoAction,
    author: Author,
    protected: &ProtectedNamespaces,
) -> Result<(), String> {
    let target = action.target();
    if let Some(ns) = &target.namespace
        && protected.refuses(ns)
    {
        return Err(format!(
            "{} is in the protected namespace {ns}, where chaos makes no change; not undone \
             here (a run allowed there is undone with its own config: execute-rollback -c)",
            target.display()
        ));
    }
    let forward = Forward::of_undo(action);
    let what = forward.undo_word();
    let Some(change) = reversible(forward, &target.api_version, &target.kind) else {
        return Err(format!(
            "an undo may not {what} {} {}: no scenario makes the change that would undo",
            target.api_version, target.kind
        ));
    };
    action.admit_kind(change.fields, author)
}

/// Every action of an entry is admissible ([`admit`]), or the first reason one is not: an
/// entry is undone whole or not at all.
pub fn admit_all(
    actions: &[UndoAction],
    author: Author,
    protected: &ProtectedNamespaces,
) -> Result<(), String> {
    actions
        .iter()
        .try_for_each(|a| admit(a, author, protected))
        .map_err(|why| format!("refused: {why}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::journal::ObjectRef;
    use crate::journal::undo::ENTRY_LABEL;

    fn protected() -> ProtectedNamespaces {
        ProtectedNamespaces::default()
    }

    fn admitted(action: &UndoAction) -> Result<(), String> {
        admit(action, Author::Chaosdeck, &protected())
    }

    #[test]
    fn a_throttle_lift_is_krkns_only_and_only_for_a_pods_cgroup() {
        let lift = |cgroup: &str, device: &str| UndoAction::LiftThrottle {
            pod: ObjectRef::new("v1", "Pod", Some("ledger"), "io-throttle-pod-abcde"),
            device: device.into(),
            cgroup_path: cgroup.into(),
            cgroup_version: "v2".into(),
        };
        let krkn = |a: &UndoAction| admit(a, Author::KrknMapping, &protected());
        assert_eq!(krkn(&lift("/kubepods.slice/x.scope", "8:16")), Ok(()));
        // A chaosdeck entry (a mirror someone wrote) never carries it.
        let err = admitted(&lift("/kubepods.slice/x.scope", "8:16")).unwrap_err();
        assert!(err.contains("never lift a Krkn throttle"), "{err}");
        // Krkn's file may name only a pod's cgroup and a device number.
        assert!(krkn(&lift("/kubepods/../system.slice", "8:16")).is_err());
        assert!(krkn(&lift("/system.slice/sshd.service", "8:16")).is_err());
        assert!(krkn(&lift("/kubepods.slice/x.scope", "8:16 rbps=1")).is_err());
    }

    #[test]
    fn a_helper_stop_names_only_the_helper_of_its_entry() {
        let stop = |pod: &str, tag: &str| UndoAction::StopHelper {
            helper: ObjectRef::new("v1", "Pod", Some("shop"), pod),
            uid: None,
            tag: tag.into(),
            fault: "DROP tcp port 8080 ingress of pod shop/web".into(),
        };
        let own = stop("chaosdeck-helper-1795-abcdefgh", "1795-abcdefgh");
        assert_eq!(admitted(&own), Ok(()));
        // A forged entry pointing the undo (an exec, then a delete) at someone else's pod.
        let err = admitted(&stop("postgres-0", "1795-abcdefgh")).unwrap_err();
        assert!(err.contains("is not a chaosdeck helper"), "{err}");
        // Or at another entry's helper, or with a tag that is not an entry id.
        assert!(admitted(&stop("chaosdeck-helper-1795-abcdefgh", "1795-zzzzzzzz")).is_err());
        assert!(admitted(&stop("chaosdeck-helper-x", "x")).is_err());
        assert!(admitted(&stop("chaosdeck-helper-1795 -f", "1795 -f")).is_err());
        let protected_ns = UndoAction::StopHelper {
            helper: ObjectRef::new(
                "v1",
                "Pod",
                Some("kube-system"),
                "chaosdeck-helper-1795-abcdefgh",
            ),
            uid: None,
            tag: "1795-abcdefgh".into(),
            fault: String::new(),
        };
        assert!(admitted(&protected_ns).is_err());
    }

    #[test]
    fn a_file_removal_names_only_a_fill_chaosdeck_wrote() {
        use crate::cluster::exec::{ContainerPath, ContainerTarget};
        use crate::journal::placed_file::PlacedFile;
        let removal = |path: &str, tag: &str| UndoAction::RemoveFile {
            file: PlacedFile {
                container: ContainerTarget {
                    namespace: "demo".into(),
                    pod: "db-0".into(),
                    container: "db".into(),
                    uid: None,
                    restarts: None,
                },
                claim: Some("data".into()),
                mount_path: ContainerPath::parse("/etc").unwrap_or_else(|e| panic!("{e}")),
                path: ContainerPath::parse(path).unwrap_or_else(|e| panic!("{e}")),
                tag: tag.into(),
                bytes: 0,
            },
        };
        let fill = removal("/etc/chaosdeck-fill-1795-abcdefgh.tmp", "1795-abcdefgh");
        assert_eq!(admitted(&fill), Ok(()));
        // A forged entry whose tag is a key file's name: the tag rule alone would let it by.
        let key = removal("/etc/ssl/server.key", "server.key");
        let err = admitted(&key).unwrap_err();
        assert!(err.contains("names a file chaosdeck does not write"), "{err}");
        assert!(!err.contains("server.key"), "a refusal names no value: {err}");
        assert_eq!(admit(&key, Author::KrknMapping, &protected()), Ok(()));
        let tagless = removal("/etc/passwd", "1795-abcdefgh");
        assert!(admitted(&tagless).is_err());
    }

    #[test]
    fn the_undos_chaosdeck_writes_are_admitted() {
        let svc = ObjectRef::new("v1", "Service", Some("shop"), "web");
        let hijack = UndoAction::Patch {
            target: svc,
            restore: json!({"spec": {"selector": {"app": "web", "service-hijacking": null}}}),
            guard: json!({"spec": {"selector": {"app": null, "service-hijacking": "sh-1"}}}),
        };
        assert_eq!(admitted(&hijack), Ok(()));
        let cordon = UndoAction::Patch {
            target: ObjectRef::new("v1", "Node", None, "w1"),
            restore: json!({"spec": {"unschedulable": null}}),
            guard: json!({"spec": {"unschedulable": true}}),
        };
        assert_eq!(admitted(&cordon), Ok(()));
        let labelled = UndoAction::Delete {
            target: ObjectRef::new("v1", "Pod", Some("shop"), "hog"),
            uid: None,
            require_labels: BTreeMap::from([(ENTRY_LABEL.to_string(), "1-abc".to_string())]),
        };
        assert_eq!(admitted(&labelled), Ok(()));
        let taint = UndoAction::RemoveListItem {
            target: ObjectRef::new("v1", "Node", None, "w1"),
            path: "/spec/taints".into(),
            item: json!({"key": "k", "effect": "NoSchedule"}),
        };
        assert_eq!(admitted(&taint), Ok(()));
    }

    #[test]
    fn what_no_scenario_does_is_refused_before_anything_is_sent() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "evil", "namespace": "kube-system"}, "spec": {}});
        let err = admitted(&UndoAction::Create { object: pod }).unwrap_err();
        assert!(err.contains("protected namespace kube-system"), "{err}");
        let deploy = UndoAction::Delete {
            target: ObjectRef::new("apps/v1", "Deployment", Some("shop"), "frontend"),
            uid: Some("u".into()),
            require_labels: BTreeMap::new(),
        };
        assert!(admitted(&deploy).unwrap_err().contains("no scenario makes"));
        let unpinned = UndoAction::Delete {
            target: ObjectRef::new("v1", "Pod", Some("shop"), "web-1"),
            uid: None,
            require_labels: BTreeMap::new(),
        };
        assert!(admitted(&unpinned).unwrap_err().contains("neither the uid"));
        assert_eq!(admit(&unpinned, Author::KrknMapping, &protected()), Ok(()));
        let svc = ObjectRef::new("v1", "Service", Some("shop"), "web");
        let unguarded = UndoAction::Patch {
            target: svc.clone(),
            restore: json!({"spec": {"selector": {"app": "evil"}}}),
            guard: json!({"spec": {"selector": {"app": null}}}),
        };
        assert!(admitted(&unguarded).unwrap_err().contains("no guard"));
        let wider = UndoAction::Patch {
            target: svc,
            restore: json!({"spec": {"selector": {"app": "web"}, "externalIPs": ["203.0.113.7"]}}),
            guard: json!({"spec": {"selector": {"hijack": "x"}}}),
        };
        assert!(admitted(&wider).unwrap_err().contains("restore /spec/externalIPs"));
        let allowed = ProtectedNamespaces { allowed: true, ..protected() };
        let np = UndoAction::Delete {
            target: ObjectRef::new(
                "networking.k8s.io/v1",
                "NetworkPolicy",
                Some("kube-system"),
                "x",
            ),
            uid: Some("u".into()),
            require_labels: BTreeMap::new(),
        };
        assert!(admitted(&np).is_err());
        assert_eq!(admit(&np, Author::Chaosdeck, &allowed), Ok(()));
    }
}
