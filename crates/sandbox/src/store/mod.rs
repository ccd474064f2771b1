//! The in-memory object store: every object of every served resource, the global
//! resourceVersion counter and the recent change history watches replay from.
//!
//! Owns: object identity (uid, resourceVersion, creationTimestamp, generation, generateName),
//! optimistic concurrency and delete preconditions, cascading deletion through owner
//! references, and namespace teardown. Objects are kept as `serde_json::Value` behind `Arc`
//! so LIST and WATCH never copy them under the lock, except the kinds [`stored`] keeps as
//! JSON bytes to save memory (pods), which are parsed again when read. Must not know HTTP,
//! and must not run controllers (they call in here like any client).

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::broadcast;

mod cascade;
pub mod stored;

pub use stored::{Stored, string_fields};

use super::admission;
use super::meta;
use super::resources::{self as r, RESOURCES};
use super::status::ApiError;

pub type Obj = Arc<Value>;
/// (namespace, name); namespace is empty for cluster-scoped objects.
pub type Key = (String, String);

/// How many past changes a watch can resume from before it gets 410 Gone.
pub const HISTORY: usize = 50_000;
const BROADCAST: usize = 1 << 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub kind: EventType,
    pub res: usize,
    pub obj: Obj,
    /// The object before a modification, so selector watches can turn a change that leaves
    /// their selection into DELETED.
    pub prev: Option<Obj>,
}

struct Inner {
    rv: u64,
    tables: Vec<BTreeMap<Key, Stored>>,
    history: VecDeque<Arc<Change>>,
    /// Highest resourceVersion no longer in `history`.
    compacted: u64,
    ip_counter: u32,
}

pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Change>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteOpts {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub propagation: Option<Propagation>,
    pub grace_seconds: Option<i64>,
    /// `dryRun: [All]` in the DeleteOptions body: answer as if deleted, change nothing.
    pub dry_run: bool,
}

/// Which part of an object an update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Everything but `status` (for kinds that have a status subresource).
    Main,
    /// Only `status`.
    Status,
    /// Everything: controllers bypass the split.
    All,
}

/// Result of a delete: either gone now, or marked and left for a controller to finish.
#[derive(Debug)]
pub enum Deleted {
    Gone(Obj),
    Marked(Obj),
}

/// What a page keeps when not everything: objects `keep` accepts. An object kept as JSON that
/// contains none of `hints` (if there are any) is not parsed, so every object `keep` accepts
/// must contain one of them as serde_json writes it.
pub struct Selection<'a> {
    pub hints: &'a [String],
    pub keep: &'a dyn Fn(&Value) -> bool,
}

/// One page of a list, read at one moment (pages of the same walk are not one snapshot).
#[derive(Debug)]
pub struct Page {
    /// In stored form: a JSON list copies pods' bytes without parsing them.
    pub items: Vec<Stored>,
    /// The key of the last item, for the continue token.
    pub last: Option<Key>,
    /// The store's resourceVersion when the page was read.
    pub rv: u64,
    /// Whether an accepted object follows the last item: the page needs a continue token.
    pub more: bool,
    /// How many objects follow the last item; only counted when every object is accepted,
    /// since counting matches would mean scanning the rest of the table on every page.
    pub remaining: Option<usize>,
}

pub struct Subscription {
    pub backlog: Vec<Arc<Change>>,
    pub rx: broadcast::Receiver<Arc<Change>>,
    pub rv: u64,
}

/// How many names a create with `generateName` tries before it fails with 409.
const GENERATE_NAME_TRIES: usize = 8;

/// `prefix` and the first generated suffix whose name is not `taken`; when all
/// [`GENERATE_NAME_TRIES`] are taken, the last one (the create then fails with 409).
fn generate_name(
    prefix: &str,
    taken: impl Fn(&str) -> bool,
    mut suffix: impl FnMut() -> String,
) -> String {
    let mut name = format!("{prefix}{}", suffix());
    for _ in 1..GENERATE_NAME_TRIES {
        if !taken(&name) {
            break;
        }
        name = format!("{prefix}{}", suffix());
    }
    name
}

fn key_of(res: usize, obj: &Value) -> Key {
    let ns = if RESOURCES[res].namespaced { meta::namespace(obj) } else { "" };
    (ns.to_string(), meta::name(obj).to_string())
}

/// Gives a seeded object the identity the store would: uid, resourceVersion, creation time,
/// generation; returns it keyed and in its stored form.
fn stamp(res: usize, mut obj: Value, rv: u64, now: &str) -> (Key, Stored) {
    let m = meta::at_mut(&mut obj, &["metadata"]);
    if let Some(m) = m.as_object_mut() {
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("resourceVersion".into(), json!(rv.to_string()));
        m.entry("creationTimestamp").or_insert_with(|| json!(now));
        m.entry("generation").or_insert(json!(1));
    }
    (key_of(res, &obj), Stored::new(res, Arc::new(obj)))
}

fn random_suffix(len: usize) -> String {
    // The alphabet Kubernetes uses: no vowels, no look-alikes.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(BROADCAST);
        Self {
            inner: Mutex::new(Inner {
                rv: 1,
                tables: RESOURCES.iter().map(|_| BTreeMap::new()).collect(),
                history: VecDeque::new(),
                compacted: 1,
                ip_counter: 10,
            }),
            tx,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not take the whole API down; the data stays consistent
        // because every mutation is applied in one step.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, res: usize, ns: &str, name: &str) -> Result<Obj, ApiError> {
        let inner = self.lock();
        inner.tables[res]
            .get(&(ns.to_string(), name.to_string()))
            .map(Stored::obj)
            .ok_or_else(|| ApiError::not_found(&RESOURCES[res], name))
    }

    /// Objects of one resource, optionally one namespace, plus the list's resourceVersion.
    pub fn list(&self, res: usize, ns: Option<&str>) -> (Vec<Obj>, u64) {
        let inner = self.lock();
        (inner.scan(res, ns).map(Stored::obj).collect(), inner.rv)
    }

    /// Like `list` but filtering under the lock, so big tables are not copied first.
    pub fn list_filtered(
        &self,
        res: usize,
        ns: Option<&str>,
        keep: impl Fn(&Value) -> bool,
    ) -> (Vec<Obj>, u64) {
        let inner = self.lock();
        (inner.scan(res, ns).map(Stored::obj).filter(|o| keep(o)).collect(), inner.rv)
    }

    /// Like `list_filtered` for scans over big tables: an object kept as JSON that contains
    /// none of `hints` is passed over without being parsed. Every object `keep` accepts must
    /// therefore contain one of them as serde_json writes it (`"phase":"Pending"`, no spaces).
    pub fn list_hinted(
        &self,
        res: usize,
        ns: Option<&str>,
        hints: &[&str],
        keep: impl Fn(&Value) -> bool,
    ) -> (Vec<Obj>, u64) {
        self.list_screened(res, ns, |s| hints.iter().any(|h| s.may_contain_str(h)), keep)
    }

    /// Like `list_filtered`, with `screen` deciding first, on the stored form, which objects
    /// are worth parsing: it must let through every object `keep` could accept.
    pub fn list_screened(
        &self,
        res: usize,
        ns: Option<&str>,
        screen: impl Fn(&Stored) -> bool,
        keep: impl Fn(&Value) -> bool,
    ) -> (Vec<Obj>, u64) {
        let inner = self.lock();
        let items = inner
            .scan(res, ns)
            .filter(|s| screen(s))
            .map(Stored::obj)
            .filter(|o| keep(o))
            .collect();
        (items, inner.rv)
    }

    /// Calls `f` with every stored object of `res` (in `ns`), unparsed, under the store's lock:
    /// for tallies over big tables that can mostly be read from the JSON.
    pub fn for_each_stored(&self, res: usize, ns: Option<&str>, mut f: impl FnMut(&Stored)) {
        let inner = self.lock();
        inner.scan(res, ns).for_each(&mut f);
    }

    /// Up to `limit` objects that `selection` accepts (every one when `None`, which makes the
    /// remaining count cheap enough to report), in key order, starting strictly after `after`.
    /// The scan starts at `after` with a range query, so a page deep into a big table costs
    /// what the first one does.
    pub fn list_page(
        &self,
        res: usize,
        ns: Option<&str>,
        after: Option<&Key>,
        limit: Option<usize>,
        selection: Option<Selection<'_>>,
    ) -> Page {
        let inner = self.lock();
        let mut rest = inner.scan_after(res, ns, after);
        let limit = limit.unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut last = None;
        // Without a selector nothing needs parsing: compact objects go out as they are. With
        // one, `hints` (as in `list_hinted`; none means no hint) spare parsing most misses.
        let all_kept = selection.is_none();
        let accepts = |s: &Stored| match &selection {
            None => true,
            Some(sel) => {
                (sel.hints.is_empty() || sel.hints.iter().any(|h| s.may_contain_str(h)))
                    && (sel.keep)(&s.obj())
            }
        };
        for (key, stored) in rest.by_ref() {
            if items.len() == limit {
                // One accepted object past the limit is enough to promise another page;
                // scanning further for it is bounded by what the next page reads anyway.
                if accepts(stored) {
                    let remaining = all_kept.then(|| 1 + rest.count());
                    return Page { items, last, rv: inner.rv, more: true, remaining };
                }
                continue;
            }
            if accepts(stored) {
                items.push(stored.clone());
                last = Some(key.clone());
            }
        }
        Page { items, last, rv: inner.rv, more: false, remaining: None }
    }

    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.lock().tables[r::NAMESPACES].contains_key(&(String::new(), ns.to_string()))
    }

    pub fn create(&self, res: usize, ns: &str, obj: Value) -> Result<Obj, ApiError> {
        let mut inner = self.lock();
        let (stored, change) = inner.create(res, ns, obj)?;
        self.publish(&mut inner, change);
        Ok(stored)
    }

    /// Validates and defaults like `create` but stores nothing.
    pub fn dry_create(&self, res: usize, ns: &str, obj: Value) -> Result<Value, ApiError> {
        self.lock().prepare_create(res, ns, obj).map(|(_, o)| o)
    }

    /// Replaces an object. A resourceVersion in `obj` must match the stored one.
    pub fn update(
        &self,
        res: usize,
        ns: &str,
        name: &str,
        obj: Value,
        part: Part,
    ) -> Result<Obj, ApiError> {
        let mut inner = self.lock();
        let (stored, change) = inner.update(res, ns, name, obj, part)?;
        if let Some(change) = change {
            self.publish(&mut inner, change);
        }
        Ok(stored)
    }

    /// Read-modify-write under one lock: the way patches and controllers change objects.
    /// `f` gets the current object and returns the desired one (or an error to abort).
    pub fn modify(
        &self,
        res: usize,
        ns: &str,
        name: &str,
        part: Part,
        f: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Obj, ApiError> {
        let mut inner = self.lock();
        let current = inner.tables[res]
            .get(&(ns.to_string(), name.to_string()))
            .map(Stored::obj)
            .ok_or_else(|| ApiError::not_found(&RESOURCES[res], name))?;
        let desired = f(&current)?;
        let (stored, change) = inner.update(res, ns, name, desired, part)?;
        if let Some(change) = change {
            self.publish(&mut inner, change);
        }
        Ok(stored)
    }

    pub fn delete(
        &self,
        res: usize,
        ns: &str,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Deleted, ApiError> {
        let mut inner = self.lock();
        let mut changes = Vec::new();
        let result = inner.delete(res, ns, name, opts, &mut changes);
        for c in changes {
            self.publish(&mut inner, c);
        }
        result
    }

    /// Adds many objects at once without history: for seeding before anyone watches.
    pub fn bulk_load(&self, objects: impl IntoIterator<Item = (usize, Value)>) {
        let mut inner = self.lock();
        let now = meta::now_rfc3339();
        for (res, obj) in objects {
            inner.rv += 1;
            let (key, stored) = stamp(res, obj, inner.rv, &now);
            inner.tables[res].insert(key, stored);
        }
        inner.compacted = inner.rv;
    }

    /// Like `bulk_load` for `count` objects of one resource that `build(i)` makes, built,
    /// stamped and stored on every core. A compact kind's object is turned into bytes right
    /// where it is built, so the parsed forms never all exist at once (at 150,000 pods they
    /// would take over a gigabyte, and the allocator keeps what it once had).
    pub fn bulk_build(&self, res: usize, count: usize, build: impl Fn(usize) -> Value + Sync) {
        let mut inner = self.lock();
        let now = meta::now_rfc3339();
        let first_rv = inner.rv + 1;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let chunk = count.div_ceil(threads).max(1);
        let built: Vec<Vec<(Key, Stored)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .step_by(chunk)
                .map(|start| {
                    let (build, now) = (&build, &now);
                    scope.spawn(move || {
                        (start..(start + chunk).min(count))
                            .map(|i| stamp(res, build(i), first_rv + i as u64, now))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            // A builder that panicked loses its share of the seed rather than the sandbox.
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        inner.tables[res].extend(built.into_iter().flatten());
        inner.rv += count as u64;
        inner.compacted = inner.rv;
    }

    /// Forgets the history of changes, as an etcd compaction does: watches and exact lists
    /// from any earlier resourceVersion answer 410 Gone from now on.
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.compacted = inner.rv;
    }

    /// Current objects plus every later change, atomically: nothing falls in between.
    /// `since` = None means "from now"; Some(rv) replays history after rv or fails with 410.
    pub fn subscribe(&self, since: Option<u64>) -> Result<Subscription, ApiError> {
        let inner = self.lock();
        let rx = self.tx.subscribe();
        let backlog = match since {
            None => Vec::new(),
            Some(rv) if rv < inner.compacted => return Err(ApiError::gone(rv, inner.compacted)),
            Some(rv) => inner.history.iter().filter(|c| c.rv > rv).cloned().collect(),
        };
        Ok(Subscription { backlog, rx, rv: inner.rv })
    }

    /// Snapshot of one resource plus a subscription starting right after it.
    pub fn snapshot_and_subscribe(&self, res: usize, ns: Option<&str>) -> (Vec<Obj>, Subscription) {
        let inner = self.lock();
        let rx = self.tx.subscribe();
        let objs = inner.scan(res, ns).map(Stored::obj).collect();
        (objs, Subscription { backlog: Vec::new(), rx, rv: inner.rv })
    }

    fn publish(&self, inner: &mut Inner, change: Change) {
        let change = Arc::new(change);
        inner.history.push_back(change.clone());
        while inner.history.len() > HISTORY {
            if let Some(old) = inner.history.pop_front() {
                inner.compacted = old.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(change);
    }
}

impl Inner {
    fn scan<'a>(
        &'a self,
        res: usize,
        ns: Option<&str>,
    ) -> Box<dyn Iterator<Item = &'a Stored> + 'a> {
        let table = &self.tables[res];
        match ns {
            Some(ns) if RESOURCES[res].namespaced => {
                let lo = (ns.to_string(), String::new());
                let ns = ns.to_string();
                Box::new(table.range(lo..).take_while(move |((n, _), _)| *n == ns).map(|(_, v)| v))
            }
            _ => Box::new(table.values()),
        }
    }

    /// Like `scan`, but only keys strictly after `after`.
    fn scan_after<'a>(
        &'a self,
        res: usize,
        ns: Option<&str>,
        after: Option<&Key>,
    ) -> Box<dyn Iterator<Item = (&'a Key, &'a Stored)> + 'a> {
        let table = &self.tables[res];
        let ns = ns.filter(|_| RESOURCES[res].namespaced).map(str::to_string);
        let lo = match (&ns, after) {
            (Some(ns), Some(after)) if after.0 < *ns => {
                Bound::Included((ns.clone(), String::new()))
            }
            (Some(ns), None) => Bound::Included((ns.clone(), String::new())),
            (_, Some(after)) => Bound::Excluded(after.clone()),
            (None, None) => Bound::Unbounded,
        };
        let range = table.range((lo, Bound::Unbounded));
        match ns {
            Some(ns) => Box::new(range.take_while(move |((n, _), _)| *n == ns)),
            None => Box::new(range),
        }
    }

    fn put(&mut self, res: usize, key: Key, obj: Obj) {
        self.tables[res].insert(key, Stored::new(res, obj));
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn next_ip(&mut self) -> String {
        self.ip_counter += 1;
        let n = self.ip_counter;
        format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)
    }

    fn check_namespace(&self, res: usize, ns: &str, name: &str) -> Result<(), ApiError> {
        if !RESOURCES[res].namespaced {
            return Ok(());
        }
        let nsobj = self.tables[r::NAMESPACES]
            .get(&(String::new(), ns.to_string()))
            .map(Stored::obj)
            .ok_or_else(|| ApiError::namespace_not_found(ns))?;
        if meta::is_deleting(&nsobj)
            || meta::str_at(&nsobj, &["status", "phase"]) == Some("Terminating")
        {
            return Err(ApiError::forbidden_terminating(&RESOURCES[res], name, ns));
        }
        Ok(())
    }

    fn create(&mut self, res: usize, ns: &str, obj: Value) -> Result<(Obj, Change), ApiError> {
        let (key, mut obj) = self.prepare_create(res, ns, obj)?;
        let rv = self.next_rv();
        meta::set(&mut obj, &["metadata", "resourceVersion"], json!(rv.to_string()));
        let stored = Arc::new(obj);
        self.put(res, key, stored.clone());
        Ok((stored.clone(), Change { rv, kind: EventType::Added, res, obj: stored, prev: None }))
    }

    /// Everything a create checks and defaults, without storing (also serves dryRun).
    fn prepare_create(
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

    fn update(
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

    fn delete(
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

    fn remove(&mut self, res: usize, key: &Key, changes: &mut Vec<Change>) -> Option<Obj> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_ns() -> Store {
        let s = Store::new();
        s.create(r::NAMESPACES, "", json!({"metadata": {"name": "default"}})).unwrap();
        s
    }

    fn pod(name: &str) -> Value {
        json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
    }

    #[test]
    fn a_generated_name_that_is_taken_is_generated_again() {
        let suffixes = ["aaaaa", "bbbbb", "ccccc"];
        let mut next = suffixes.iter().map(|s| s.to_string());
        let name = generate_name("job-", |n| n == "job-aaaaa", || next.next().unwrap());
        assert_eq!(name, "job-bbbbb");

        let mut calls = 0;
        let name = generate_name(
            "job-",
            |_| true,
            || {
                calls += 1;
                format!("{calls:05}")
            },
        );
        assert_eq!((name.as_str(), calls), ("job-00008", GENERATE_NAME_TRIES));
    }

    #[test]
    fn create_get_conflict_delete() {
        let s = store_with_ns();
        let p = s.create(r::PODS, "default", pod("a")).unwrap();
        assert_eq!(meta::namespace(&p), "default");
        assert!(!meta::uid(&p).is_empty());
        let again = s.create(r::PODS, "default", pod("a")).unwrap_err();
        assert_eq!(again.code, 409);
        assert_eq!(again.message, "pods \"a\" already exists");
        let mut stale = (*p).clone();
        meta::set(&mut stale, &["metadata", "resourceVersion"], json!("1"));
        assert_eq!(
            s.update(r::PODS, "default", "a", stale, Part::Main).unwrap_err().reason,
            "Conflict"
        );
        let bad = DeleteOpts { uid: Some("nope".into()), ..Default::default() };
        assert_eq!(s.delete(r::PODS, "default", "a", &bad).unwrap_err().code, 409);
        assert!(matches!(
            s.delete(r::PODS, "default", "a", &DeleteOpts::default()),
            Ok(Deleted::Gone(_))
        ));
        assert_eq!(s.get(r::PODS, "default", "a").unwrap_err().message, "pods \"a\" not found");
    }

    #[test]
    fn create_refuses_a_resource_version_and_replaces_the_uid() {
        let s = store_with_ns();
        let mut p = pod("a");
        meta::set(&mut p, &["metadata", "resourceVersion"], json!("5"));
        assert_eq!(s.create(r::PODS, "default", p.clone()).unwrap_err().code, 500);
        meta::set(&mut p, &["metadata", "resourceVersion"], json!(""));
        meta::set(&mut p, &["metadata", "uid"], json!("mine"));
        assert_ne!(meta::uid(&s.create(r::PODS, "default", p).unwrap()), "mine");
    }

    #[test]
    fn missing_namespace_and_bad_name_are_refused() {
        let s = store_with_ns();
        assert_eq!(
            s.create(r::PODS, "nope", pod("a")).unwrap_err().message,
            "namespaces \"nope\" not found"
        );
        assert_eq!(s.create(r::PODS, "default", pod("Bad_Name")).unwrap_err().code, 422);
    }

    #[test]
    fn pages_start_after_the_key_and_stay_in_their_namespace() {
        let s = store_with_ns();
        for ns in ["a", "b", "c"] {
            s.create(r::NAMESPACES, "", json!({"metadata": {"name": ns}})).unwrap();
            for name in ["p1", "p2", "p3"] {
                s.create(r::PODS, ns, pod(name)).unwrap();
            }
        }
        let names = |p: &Page| {
            p.items
                .iter()
                .map(|s| s.obj())
                .map(|o| format!("{}/{}", meta::namespace(&o), meta::name(&o)))
                .collect::<Vec<_>>()
        };
        let key = |ns: &str, name: &str| (ns.to_string(), name.to_string());
        let p = s.list_page(r::PODS, None, Some(&key("a", "p3")), Some(2), None);
        assert_eq!(names(&p), ["b/p1", "b/p2"]);
        assert!(p.more);
        assert_eq!(p.remaining, Some(4));
        // A key from before the namespace starts it from the top; one past it yields nothing.
        let p = s.list_page(r::PODS, Some("b"), Some(&key("a", "p3")), None, None);
        assert_eq!(names(&p), ["b/p1", "b/p2", "b/p3"]);
        let p = s.list_page(r::PODS, Some("b"), Some(&key("c", "p1")), None, None);
        assert!(p.items.is_empty() && !p.more);
        // With a filter, `more` means another match exists, and nothing is counted.
        let p3 = |o: &Value| meta::name(o) == "p3";
        let p = s.list_page(
            r::PODS,
            None,
            Some(&key("b", "p3")),
            Some(1),
            Some(Selection { hints: &[], keep: &p3 }),
        );
        assert_eq!(names(&p), ["c/p3"]);
        assert!(!p.more);
        let p =
            s.list_page(r::PODS, None, None, Some(1), Some(Selection { hints: &[], keep: &p3 }));
        assert_eq!(names(&p), ["a/p3"]);
        assert!(p.more && p.remaining.is_none());
    }

    #[test]
    fn namespace_delete_removes_contents_and_history_expires() {
        let s = store_with_ns();
        s.create(r::NAMESPACES, "", json!({"metadata": {"name": "x"}})).unwrap();
        s.create(r::PODS, "x", pod("a")).unwrap();
        s.delete(r::NAMESPACES, "", "x", &DeleteOpts::default()).unwrap();
        assert!(s.list(r::PODS, Some("x")).0.is_empty());
        assert!(!s.namespace_exists("x"));
        assert!(s.subscribe(Some(0)).is_err());
    }
}
