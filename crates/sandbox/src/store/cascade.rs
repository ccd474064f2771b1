//! Cascading deletion: owner references (background/foreground delete the dependents, orphan
//! strips the reference) and namespace teardown.
//!
//! Owns: which objects go with an owner. Foreground propagation is treated like background:
//! dependents are removed in the same step, so the end state is the same and no object is
//! ever left waiting on a `foregroundDeletion` finalizer. Must not be called without the
//! store lock held (it only exists as methods on the locked state).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{Change, EventType, Inner, Key, Obj, Stored, key_of};
use crate::meta;
use crate::resources::{self as r, RESOURCES};

impl Inner {
    fn dependents(&self, ns: &str, owner_uid: &str) -> Vec<(usize, Key)> {
        let mut out = Vec::new();
        for (res, def) in RESOURCES.iter().enumerate() {
            if !def.namespaced {
                continue;
            }
            for stored in self.scan(res, Some(ns)) {
                // Parsing every pod of a big namespace on each delete would be slow; the
                // uid's text must appear in an object that names it as its owner.
                if !stored.may_contain_str(owner_uid) {
                    continue;
                }
                let o = stored.obj();
                if meta::owner_uids(&o).any(|u| u == owner_uid) {
                    out.push((res, key_of(res, &o)));
                }
            }
        }
        out
    }

    pub(super) fn delete_dependents(
        &mut self,
        ns: &str,
        owner_uid: &str,
        changes: &mut Vec<Change>,
    ) {
        let mut queue = vec![owner_uid.to_string()];
        let mut seen = HashSet::new();
        while let Some(uid) = queue.pop() {
            if !seen.insert(uid.clone()) {
                continue;
            }
            for (res, key) in self.dependents(ns, &uid) {
                if let Some(gone) = self.remove(res, &key, changes) {
                    queue.push(meta::uid(&gone).to_string());
                }
            }
        }
    }

    pub(super) fn orphan_dependents(
        &mut self,
        ns: &str,
        owner_uid: &str,
        changes: &mut Vec<Change>,
    ) {
        for (res, key) in self.dependents(ns, owner_uid) {
            let Some(cur) = self.tables[res].get(&key).map(Stored::obj) else { continue };
            let mut obj = (*cur).clone();
            if let Some(refs) =
                obj.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut)
            {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
            }
            let rv = self.next_rv();
            meta::set(&mut obj, &["metadata", "resourceVersion"], json!(rv.to_string()));
            let stored = Arc::new(obj);
            self.put(res, key, stored.clone());
            changes.push(Change {
                rv,
                kind: EventType::Modified,
                res,
                obj: stored,
                prev: Some(cur),
            });
        }
    }

    /// Marks the namespace Terminating (visible to watchers), removes everything in it,
    /// then removes the namespace itself.
    pub(super) fn delete_namespace(
        &mut self,
        name: &str,
        current: Obj,
        changes: &mut Vec<Change>,
    ) -> Obj {
        let key = (String::new(), name.to_string());
        let mut marked = (*current).clone();
        meta::set(&mut marked, &["metadata", "deletionTimestamp"], json!(meta::now_rfc3339()));
        meta::set(&mut marked, &["status", "phase"], json!("Terminating"));
        let rv = self.next_rv();
        meta::set(&mut marked, &["metadata", "resourceVersion"], json!(rv.to_string()));
        let marked = Arc::new(marked);
        self.put(r::NAMESPACES, key.clone(), marked.clone());
        changes.push(Change {
            rv,
            kind: EventType::Modified,
            res: r::NAMESPACES,
            obj: marked.clone(),
            prev: Some(current),
        });
        for (res, def) in RESOURCES.iter().enumerate() {
            if !def.namespaced {
                continue;
            }
            let keys: Vec<Key> = self.tables[res]
                .range((name.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == name)
                .map(|(k, _)| k.clone())
                .collect();
            for k in keys {
                self.remove(res, &k, changes);
            }
        }
        self.remove(r::NAMESPACES, &key, changes).unwrap_or(marked)
    }
}
