//! The write path under the store's lock: create (names, uids, defaults, admission), update
//! (preconditions, immutable fields, finalizers), delete (grace, finalizers, cascades) and the
//! removal that ends an object. Every write bumps the resource version and yields the changes
//! the watches see.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{
    Change, DeleteOpts, Deleted, EventType, Inner, Key, Obj, Part, Propagation, Stored,
    generate_name, key_of, random_suffix,
};
use crate::admission;
use crate::meta;
use crate::resources::{self as r, RESOURCES};
use crate::status::ApiError;

impl Inner {
    pub(super) fn create(
        &mut self,
        res: usize,
        ns: &str,
        obj: Value,
    ) -> Result<(Obj, Change), ApiError> {
        let (key, mut obj) = self.prepare_create(res, ns, obj)?;
        let rv = self.next_rv();
        meta::set(&mut obj, &["metadata", "resourceVersion"], json!(rv.to_string()));
        let stored = Arc::new(obj);
        self.put(res, key, stored.clone());
        Ok((stored.clone(), Change { rv, kind: EventType::Added, res, obj: stored, prev: None }))
    }

    /// Everything a create checks and defaults, without storing (also serves dryRun).
    pub(super) fn prepare_create(
        &mut self,
        res: usize,
        ns: &str,
        mut obj: Value,
    ) -> Result<(Key, Value), ApiError> {
        let def = &RESOURCES[res];
        if !obj.is_object() {
            return Err(ApiError::bad_request("the request body must be a JSON object"));
        }
        let m = meta::at_mut(&mut obj, &["metadata"]);
        if !m.is_object() {
            *m = json!({});
        }
        if meta::name(&obj).is_empty()
            && let Some(prefix) = meta::str_at(&obj, &["metadata", "generateName"])
        {
            // Like the API server since v1.32 (RetryGenerateName), a generated name that is
            // taken is generated again (8 tries in all) instead of failing the create with a
            // 409: 500 pods of one owner collide on 5 random characters about once in a
            // hundred passes.
            let scope = if def.namespaced { ns } else { "" };
            let table = &self.tables[res];
            let generated = generate_name(
                prefix,
                |name| table.contains_key(&(scope.to_string(), name.to_string())),
                || random_suffix(5),
            );
            meta::set(&mut obj, &["metadata", "name"], json!(generated));
        }
        let name = meta::name(&obj).to_string();
        if !meta::resource_version(&obj).is_empty() {
            // The API server refuses this too (with a 500); recreating an object from a saved
            // copy must drop its resourceVersion first.
            return Err(ApiError::internal(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        admission::validate_name(def, &name)?;
        if def.namespaced {
            meta::set(&mut obj, &["metadata", "namespace"], json!(ns));
        } else if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("namespace");
        }
        self.check_namespace(res, ns, &name)?;
        let key = key_of(res, &obj);
        if self.tables[res].contains_key(&key) {
            return Err(ApiError::already_exists(def, &name));
        }
        meta::set(&mut obj, &["apiVersion"], json!(def.api_version()));
        meta::set(&mut obj, &["kind"], json!(def.kind));
        let uid = uuid::Uuid::new_v4().to_string();
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("uid".into(), json!(uid));
            m.insert("creationTimestamp".into(), json!(meta::now_rfc3339()));
            m.insert("generation".into(), json!(1));
            m.remove("resourceVersion");
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
        }
        if res == r::JOBS {
            default_job_selector(&mut obj, &uid);
        }
        admission::default(res, &mut obj, || self.next_ip());
        admission::validate(res, &obj)?;
        Ok((key, obj))
    }

    pub(super) fn update(
        &mut self,
        res: usize,
        ns: &str,
        name: &str,
        mut obj: Value,
        part: Part,
    ) -> Result<(Obj, Option<Change>), ApiError> {
        let def = &RESOURCES[res];
        if !obj.is_object() {
            return Err(ApiError::bad_request("the request body must be a JSON object"));
        }
        let key = (if def.namespaced { ns.to_string() } else { String::new() }, name.to_string());
        let current = self.tables[res]
            .get(&key)
            .map(Stored::obj)
            .ok_or_else(|| ApiError::not_found(def, name))?;
        let body_name = meta::name(&obj);
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let body_ns = meta::namespace(&obj);
        if def.namespaced && !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let rv_given = meta::resource_version(&obj);
        if !rv_given.is_empty() && rv_given != meta::resource_version(&current) {
            return Err(ApiError::stale(def, name));
        }
        let uid_given = meta::uid(&obj);
        if !uid_given.is_empty() && uid_given != meta::uid(&current) {
            return Err(ApiError::conflict(
                def,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid_given}, UID in object meta: {}",
                    meta::uid(&current)
                ),
            ));
        }
        match part {
            Part::Status => {
                let mut merged = (*current).clone();
                meta::set(
                    &mut merged,
                    &["status"],
                    obj.get("status").cloned().unwrap_or(json!({})),
                );
                obj = merged;
            }
            Part::Main if !def.subresources.contains(&"status") => {}
            Part::Main => match current.get("status") {
                Some(s) => meta::set(&mut obj, &["status"], s.clone()),
                None => {
                    if let Some(m) = obj.as_object_mut() {
                        m.remove("status");
                    }
                }
            },
            Part::All => {}
        }
        // Identity fields are the server's; clients cannot change them.
        for field in ["uid", "creationTimestamp", "name", "namespace", "deletionTimestamp"] {
            match current.get("metadata").and_then(|m| m.get(field)) {
                Some(v) => meta::set(&mut obj, &["metadata", field], v.clone()),
                None => {
                    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove(field);
                    }
                }
            }
        }
        meta::set(&mut obj, &["apiVersion"], json!(def.api_version()));
        meta::set(&mut obj, &["kind"], json!(def.kind));
        let generation = meta::i64_at(&current, &["metadata", "generation"]).unwrap_or(1);
        let spec_changed = obj.get("spec") != current.get("spec");
        meta::set(
            &mut obj,
            &["metadata", "generation"],
            json!(if spec_changed { generation + 1 } else { generation }),
        );
        meta::set(
            &mut obj,
            &["metadata", "resourceVersion"],
            json!(meta::resource_version(&current)),
        );
        admission::default(res, &mut obj, || self.next_ip());
        admission::validate(res, &obj)?;
        if obj == *current {
            // A no-op write keeps its resourceVersion and wakes nobody, as on a real server.
            return Ok((current, None));
        }
        if res == r::PODS {
            check_pod_immutables(&current, &obj, name)?;
        }
        let rv = self.next_rv();
        meta::set(&mut obj, &["metadata", "resourceVersion"], json!(rv.to_string()));
        let stored = Arc::new(obj);
        self.put(res, key, stored.clone());
        let change =
            Change { rv, kind: EventType::Modified, res, obj: stored.clone(), prev: Some(current) };
        Ok((stored, Some(change)))
    }

    pub(super) fn delete(
        &mut self,
        res: usize,
        ns: &str,
        name: &str,
        opts: &DeleteOpts,
        changes: &mut Vec<Change>,
    ) -> Result<Deleted, ApiError> {
        let def = &RESOURCES[res];
        let key = (if def.namespaced { ns.to_string() } else { String::new() }, name.to_string());
        let current = self.tables[res]
            .get(&key)
            .map(Stored::obj)
            .ok_or_else(|| ApiError::not_found(def, name))?;
        if let Some(uid) = &opts.uid
            && uid != meta::uid(&current)
        {
            return Err(ApiError::precondition(
                def,
                name,
                // A real API server says "the UID in the precondition (A) does not match the
                // UID in record (B). The object might have been deleted and then recreated";
                // chaosdeck's journal executor reads this older wording (a known difference).
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta::uid(&current)
                ),
            ));
        }
        if let Some(rv) = &opts.resource_version
            && rv != meta::resource_version(&current)
        {
            return Err(ApiError::precondition(
                def,
                name,
                &format!(
                    "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The object might have been modified",
                    meta::resource_version(&current)
                ),
            ));
        }
        if res == r::NAMESPACES {
            return Ok(Deleted::Gone(self.delete_namespace(name, current, changes)));
        }
        // Pods bound to a node terminate gracefully: marked now, removed by the kubelet
        // controller. Grace 0 (or an unbound pod) deletes at once, like the real kubelet.
        if res == r::PODS {
            let grace = opts
                .grace_seconds
                .or_else(|| meta::i64_at(&current, &["spec", "terminationGracePeriodSeconds"]));
            let bound = meta::str_at(&current, &["spec", "nodeName"]).is_some();
            let done = matches!(
                meta::str_at(&current, &["status", "phase"]),
                Some("Succeeded" | "Failed")
            );
            if bound && !done && grace.unwrap_or(0) > 0 && !meta::is_deleting(&current) {
                let mut marked = (*current).clone();
                meta::set(
                    &mut marked,
                    &["metadata", "deletionTimestamp"],
                    json!(meta::now_rfc3339()),
                );
                meta::set(&mut marked, &["metadata", "deletionGracePeriodSeconds"], json!(grace));
                let rv = self.next_rv();
                meta::set(&mut marked, &["metadata", "resourceVersion"], json!(rv.to_string()));
                let stored = Arc::new(marked);
                self.put(res, key, stored.clone());
                changes.push(Change {
                    rv,
                    kind: EventType::Modified,
                    res,
                    obj: stored.clone(),
                    prev: Some(current),
                });
                return Ok(Deleted::Marked(stored));
            }
        }
        let propagation = opts.propagation.unwrap_or(Propagation::Background);
        let gone = self.remove(res, &key, changes);
        let uid = meta::uid(&current).to_string();
        if def.namespaced {
            match propagation {
                Propagation::Orphan => self.orphan_dependents(ns, &uid, changes),
                _ => self.delete_dependents(ns, &uid, changes),
            }
        }
        Ok(Deleted::Gone(gone.unwrap_or(current)))
    }

    pub(super) fn remove(
        &mut self,
        res: usize,
        key: &Key,
        changes: &mut Vec<Change>,
    ) -> Option<Obj> {
        let old = self.tables[res].remove(key)?.obj();
        let rv = self.next_rv();
        let mut last = (*old).clone();
        meta::set(&mut last, &["metadata", "resourceVersion"], json!(rv.to_string()));
        let last = Arc::new(last);
        changes.push(Change {
            rv,
            kind: EventType::Deleted,
            res,
            obj: last.clone(),
            prev: Some(old),
        });
        Some(last)
    }
}

fn default_job_selector(obj: &mut Value, uid: &str) {
    let manual = meta::at(obj, &["spec", "manualSelector"]).and_then(Value::as_bool) == Some(true);
    if manual {
        return;
    }
    let name = meta::name(obj).to_string();
    meta::set(
        obj,
        &["spec", "selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
    );
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", uid.to_string()),
        ("controller-uid", uid.to_string()),
        ("batch.kubernetes.io/job-name", name.clone()),
        ("job-name", name),
    ] {
        meta::set(obj, &["spec", "template", "metadata", "labels", k], json!(v));
    }
}

fn check_pod_immutables(old: &Value, new: &Value, name: &str) -> Result<(), ApiError> {
    let old_node = meta::str_at(old, &["spec", "nodeName"]).filter(|n| !n.is_empty());
    let new_node = meta::str_at(new, &["spec", "nodeName"]).filter(|n| !n.is_empty());
    if old_node.is_some() && old_node != new_node {
        return Err(ApiError::invalid(
            &RESOURCES[r::PODS],
            name,
            "spec.nodeName",
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds`",
        ));
    }
    Ok(())
}
