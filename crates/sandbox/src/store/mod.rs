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
mod writes;

pub use stored::{Obj, Stored, string_fields};

use super::meta;
use super::resources::{self as r, RESOURCES};
use super::status::ApiError;

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
