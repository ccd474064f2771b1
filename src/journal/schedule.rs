//! Which undos may run at the same time: dependency-aware ordering for the parallel executor.
//!
//! Every entry has a footprint: the objects it changes (exclusive) and the objects its changes
//! depend on without changing them (shared: the namespace a namespaced object lives in, the
//! owners named in a snapshot). Two entries conflict when one's exclusive set meets the other's
//! exclusive or shared set; of two conflicting entries the newer one (earlier in the newest-first
//! list) always finishes before the older one starts. Everything else may overlap. So undos of
//! one object keep strict newest-first order, a namespace is never re-created or deleted while
//! an undo inside it runs, and a `create` from a snapshot waits for every newer entry on that
//! object.
//!
//! Pure bookkeeping: no cluster, no files.

use std::collections::{BTreeSet, HashMap};

use super::entry::UndoAction;
use super::krkn;
use super::scan::{EntryBody, EntryNode};
use crate::refs::ObjectRef;

/// One object, independent of the API version it was named with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    group: String,
    kind: String,
    namespace: String,
    name: String,
}

impl Key {
    fn of(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Key {
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("").to_string();
        Key {
            group,
            kind: kind.to_string(),
            namespace: namespace.unwrap_or("").into(),
            name: name.into(),
        }
    }

    fn object(target: &ObjectRef) -> Key {
        Key::of(&target.api_version, &target.kind, target.namespace.as_deref(), &target.name)
    }

    /// The Namespace object itself: what every object inside it shares.
    fn namespace(name: &str) -> Key {
        Key::of("v1", "Namespace", None, name)
    }
}

/// Kinds a namespaced object can be owned by that live outside any namespace (a mirror pod's
/// Node above all): their key carries no namespace, like the entries that change them.
fn cluster_scoped(api_version: &str, kind: &str) -> bool {
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    matches!(
        (group, kind),
        ("", "Node" | "Namespace" | "PersistentVolume")
            | ("rbac.authorization.k8s.io", "ClusterRole" | "ClusterRoleBinding")
            | ("storage.k8s.io", "StorageClass")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
    )
}

/// What one entry changes, and what it relies on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    pub exclusive: BTreeSet<Key>,
    pub shared: BTreeSet<Key>,
    /// The objects its undo actions name (a subset of `exclusive`, which may hold a whole
    /// namespace for ordering's sake): what "the same object" means when a newer entry was
    /// not undone and an older one must not run ([`same_object`]).
    pub objects: BTreeSet<Key>,
}

/// Whether two entries' undos name a common object: then the older one must not run when the
/// newer one was not undone (it would undo in the wrong order). Sharing only a namespace
/// orders them but does not hold the older one back.
pub fn same_object(a: &Footprint, b: &Footprint) -> bool {
    !a.objects.is_disjoint(&b.objects)
}

impl Footprint {
    fn touch(&mut self, target: &ObjectRef) {
        self.objects.insert(Key::object(target));
        self.exclusive.insert(Key::object(target));
        if let Some(ns) = &target.namespace {
            self.shared.insert(Key::namespace(ns));
        }
    }

    fn action(&mut self, action: &UndoAction) {
        self.touch(&action.target());
        // What else it relies on must be undone first (a snapshot's owners before it is
        // re-created with their references); a cluster-scoped owner has no namespace.
        for owner in action.relies_on() {
            let (api_version, kind) = (&owner.api_version, &owner.kind);
            let ns =
                if cluster_scoped(api_version, kind) { None } else { owner.namespace.as_deref() };
            self.shared.insert(Key::of(api_version, kind, ns, &owner.name));
        }
    }
}

/// The footprint of a journal entry. A Krkn file whose plan names its objects orders by them,
/// like chaosdeck's own entries; a Krkn service hijack finds some of its objects (its plan
/// ConfigMap) in the cluster only when it runs, so it takes its whole namespace.
pub fn footprint(node: &EntryNode) -> Footprint {
    let mut f = Footprint::default();
    match &node.body {
        EntryBody::Chaosdeck(entry) => entry.undo.iter().for_each(|a| f.action(a)),
        EntryBody::Krkn(k) => match &k.plan {
            krkn::Plan::Executable { actions, hijack: None, .. } => {
                actions.iter().for_each(|a| f.action(a));
            }
            krkn::Plan::Executable { actions, hijack: Some(h), .. } => {
                let mut targets: Vec<ObjectRef> = actions.iter().map(UndoAction::target).collect();
                targets.extend([h.service.clone(), h.pod.clone()]);
                for target in targets {
                    f.objects.insert(Key::object(&target));
                    f.exclusive.insert(Key::object(&target));
                    if let Some(ns) = &target.namespace {
                        f.exclusive.insert(Key::namespace(ns));
                    }
                }
            }
            krkn::Plan::NotExecutable { .. } => {}
        },
        // Nothing is sent for these.
        EntryBody::Listed(_) | EntryBody::Invalid(_) => {}
    }
    // An entry that deletes or re-creates a Namespace holds it exclusively, not shared.
    let exclusive = f.exclusive.clone();
    f.shared.retain(|k| !exclusive.contains(k));
    f
}

/// For each entry (newest first), the earlier entries it must wait for. Transitively, every
/// conflicting newer entry is finished before an older one starts.
pub fn dependencies(footprints: &[Footprint]) -> Vec<Vec<usize>> {
    #[derive(Default)]
    struct Seen {
        last_exclusive: Option<usize>,
        shared_since: Vec<usize>,
    }
    let mut seen: HashMap<&Key, Seen> = HashMap::new();
    let mut deps = Vec::with_capacity(footprints.len());
    for (i, f) in footprints.iter().enumerate() {
        let mut mine = BTreeSet::new();
        for key in &f.exclusive {
            let s = seen.entry(key).or_default();
            mine.extend(s.last_exclusive);
            mine.extend(s.shared_since.drain(..));
            s.last_exclusive = Some(i);
        }
        for key in &f.shared {
            let s = seen.entry(key).or_default();
            mine.extend(s.last_exclusive);
            s.shared_since.push(i);
        }
        deps.push(mine.into_iter().collect());
    }
    deps
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fp(exclusive: &[Key], shared: &[Key]) -> Footprint {
        Footprint {
            exclusive: exclusive.iter().cloned().collect(),
            shared: shared.iter().cloned().collect(),
            objects: exclusive.iter().cloned().collect(),
        }
    }

    fn pod(ns: &str, name: &str) -> Key {
        Key::of("v1", "Pod", Some(ns), name)
    }

    #[test]
    fn same_object_waits_different_objects_do_not() {
        let ns = [Key::namespace("a")];
        let f = vec![
            fp(&[pod("a", "x")], &ns),
            fp(&[pod("a", "y")], &ns),
            fp(&[pod("a", "x")], &ns),
            fp(&ns, &[]),
        ];
        let d = dependencies(&f);
        assert_eq!(d[0], Vec::<usize>::new());
        assert_eq!(d[1], Vec::<usize>::new(), "another pod in the same namespace runs alongside");
        assert_eq!(d[2], vec![0], "the older undo of x waits for the newer one");
        assert_eq!(d[3], vec![0, 1, 2], "the namespace waits for everything inside it");
    }

    #[test]
    fn a_snapshot_owned_by_a_node_waits_for_the_newer_entry_on_that_node() {
        let node = ObjectRef::new("v1", "Node", None, "n1");
        let mut uncordon = Footprint::default();
        uncordon.action(&UndoAction::Patch {
            target: node,
            restore: serde_json::json!({"spec": {"unschedulable": null}}),
            guard: serde_json::json!({"spec": {"unschedulable": true}}),
        });
        let mut mirror_pod = Footprint::default();
        mirror_pod.action(&UndoAction::Create {
            object: serde_json::json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "etcd-n1", "namespace": "kube-system",
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "u"}]}}),
        });
        assert_eq!(dependencies(&[uncordon, mirror_pod])[1], vec![0]);
    }

    #[test]
    fn api_versions_of_one_kind_are_one_object() {
        assert_eq!(
            Key::of("apps/v1", "Deployment", Some("a"), "d"),
            Key::of("apps/v1beta1", "Deployment", Some("a"), "d")
        );
    }

    /// A tiny cluster: object → value; a namespace delete removes everything inside.
    #[derive(Debug, Clone)]
    enum Op {
        Set(usize, u32),
        Remove(usize),
        DropNamespace(usize),
    }

    const OBJECTS: usize = 6;
    fn ns_of(object: usize) -> usize {
        object % 2
    }

    fn footprint_of(op: &Op) -> Footprint {
        let obj = |o: usize| pod(&format!("ns{}", ns_of(o)), &format!("o{o}"));
        match op {
            Op::Set(o, _) | Op::Remove(o) => {
                fp(&[obj(*o)], &[Key::namespace(&format!("ns{}", ns_of(*o)))])
            }
            Op::DropNamespace(n) => fp(&[Key::namespace(&format!("ns{n}"))], &[]),
        }
    }

    fn apply(state: &mut [Option<u32>; OBJECTS], op: &Op) {
        match op {
            Op::Set(o, v) => state[*o] = Some(*v),
            Op::Remove(o) => state[*o] = None,
            Op::DropNamespace(n) => {
                for (o, slot) in state.iter_mut().enumerate() {
                    if ns_of(o) == *n {
                        *slot = None;
                    }
                }
            }
        }
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..OBJECTS, 0u32..100).prop_map(|(o, v)| Op::Set(o, v)),
            2 => (0..OBJECTS).prop_map(Op::Remove),
            1 => (0..2usize).prop_map(Op::DropNamespace),
        ]
    }

    proptest! {
        /// Any order the scheduler allows (a random pick among the ready entries each step)
        /// never runs an older entry before a newer conflicting one, and ends in the same state
        /// as the serial newest-first run.
        #[test]
        fn every_allowed_order_matches_the_serial_run(
            ops in prop::collection::vec(op(), 1..40),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 40),
        ) {
            let footprints: Vec<Footprint> = ops.iter().map(footprint_of).collect();
            let deps = dependencies(&footprints);
            let mut serial = [None; OBJECTS];
            ops.iter().for_each(|op| apply(&mut serial, op));

            let mut done = vec![false; ops.len()];
            let mut order = Vec::new();
            let mut parallel = [None; OBJECTS];
            for step in 0..ops.len() {
                let ready: Vec<usize> = (0..ops.len())
                    .filter(|&i| !done[i] && deps[i].iter().all(|&d| done[d]))
                    .collect();
                prop_assert!(!ready.is_empty(), "the schedule is stuck");
                let i = ready[picks[step].index(ready.len())];
                done[i] = true;
                order.push(i);
                apply(&mut parallel, &ops[i]);
            }
            prop_assert_eq!(parallel, serial);
            // Directly: conflicting pairs keep newest-first order.
            let position: Vec<usize> = {
                let mut p = vec![0; ops.len()];
                for (at, &i) in order.iter().enumerate() { p[i] = at; }
                p
            };
            for a in 0..ops.len() {
                for b in a + 1..ops.len() {
                    let (fa, fb) = (&footprints[a], &footprints[b]);
                    let conflict = fa.exclusive.iter().any(|k| fb.exclusive.contains(k) || fb.shared.contains(k))
                        || fb.exclusive.iter().any(|k| fa.shared.contains(k));
                    if conflict {
                        prop_assert!(position[a] < position[b], "{a} and {b} ran out of order");
                    }
                }
            }
        }
    }
}
