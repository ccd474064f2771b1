//! Applying undo actions: newest first, idempotent, one failure never stops the others.
//!
//! An entry becomes `.executed` only when every one of its actions succeeded or was found
//! already done (Krkn D4 marks failures executed; we never do). A failed entry stays pending
//! with its error recorded (Krkn D5 aborts the remaining files; we go on). The per-context
//! lock plus a re-check of the file under the lock means two processes never apply the same
//! entry twice; the rename and the error record go through `state` under that lock.
//!
//! Every selected entry gets exactly one outcome, and only `Executed` and a skip of an entry
//! another process executed mean "nothing left to do": a pending-named file that cannot be read is `Invalid`
//! (outstanding, never executed), and when the cluster cannot be reached the remaining entries
//! are `NotAttempted` rather than each waiting out its own timeout. An entry whose newer entry
//! on the same object was not undone is `Blocked`, never run out of order (D5 still holds for
//! every other entry).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use serde_json::Value;

use crate::cluster::{ClusterOps, DeleteOutcome};
use crate::refs::ProtectedNamespaces;

use super::admissible::{self, Author};
use super::entry::{Entry, ObjectRef, UndoAction};
use super::filter::Filter;
pub use super::guard::first_mismatch;
use super::guard::{guarded_json_patch, shape};
use super::krkn;
use super::lock::{ContextLock, lock_context};
use super::mirror::{MirrorSays, MirrorTrust};
use super::scan::{self, EntryBody, EntryNode, EntryState, JournalTree, Liveness};
use super::schedule;
use super::state::Marked;

#[derive(Debug, Clone, Copy)]
pub struct ExecuteOptions {
    pub dry_run: bool,
    /// How long to wait for another process that holds a context's lock.
    pub lock_patience: Duration,
    /// How many undos may be in flight at once (entries that conflict never overlap).
    pub parallel: usize,
    /// Undo entries in files or directories another user owns or may write (refused by
    /// default: [`super::trust`]).
    pub foreign_ok: bool,
}

/// Undos in flight by default: enough to hide a far-away cluster's round trips, few enough to
/// stay under an API server's per-client fairness limits.
pub const DEFAULT_PARALLEL: usize = 16;

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            dry_run: false,
            lock_patience: super::lock::DEFAULT_PATIENCE,
            parallel: DEFAULT_PARALLEL,
            foreign_ok: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Undone; renamed `.executed`. Notes say what was found (e.g. "already gone").
    Executed { notes: Vec<String> },
    /// Still pending; the error is recorded with the entry.
    Failed { error: String },
    /// A pending-named file that cannot be read as an entry: still pending, never executed.
    Invalid { reason: String },
    /// Not attempted because the cluster could not be reached (an earlier entry found out);
    /// still pending.
    NotAttempted { reason: String },
    /// Not attempted because a newer entry on the same object (or its namespace or owner) was
    /// not undone: undoing this older one first could restore a state the newer change still
    /// sits on top of (re-create an object while chaosdeck's replacement holds its name). Still
    /// pending; it runs once the newer one is undone.
    Blocked { reason: String },
    /// Not attempted: already executed by another process, or a Krkn file left to Krkn.
    Skipped { reason: String, still_pending: bool },
    /// Not attempted: the entry was made on another cluster than the one connected (or does
    /// not say which), or it asks for something that is not the undo of a change chaos makes
    /// ([`admissible`]). Still pending; nothing was recorded beside it.
    Refused { reason: String },
    /// Dry run: what would be done.
    Planned { steps: Vec<String> },
}

impl Outcome {
    /// The entry still needs an undo after this outcome (the cluster change may remain).
    pub fn left_outstanding(&self) -> bool {
        match self {
            Outcome::Executed { .. } | Outcome::Planned { .. } => false,
            Outcome::Failed { .. }
            | Outcome::Invalid { .. }
            | Outcome::NotAttempted { .. }
            | Outcome::Blocked { .. }
            | Outcome::Refused { .. } => true,
            Outcome::Skipped { still_pending, .. } => *still_pending,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryOutcome {
    pub path: PathBuf,
    pub file_name: String,
    pub summary: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// How a batch of outcomes adds up; the one account the CLI, the engine and the TUI print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub executed: usize,
    pub failed: usize,
    pub invalid: usize,
    pub not_attempted: usize,
    /// Waiting for a newer entry on the same object that was not undone: left pending.
    pub blocked: usize,
    /// Made on another cluster (or not saying which), or not an undo of a chaos change: left
    /// pending.
    pub refused: usize,
    /// Skipped and done elsewhere (already executed by another process).
    pub skipped_done: usize,
    /// Skipped and still pending (Krkn files that need Krkn).
    pub skipped_pending: usize,
}

impl Tally {
    pub fn of(outcomes: &[EntryOutcome]) -> Tally {
        let mut t = Tally::default();
        for o in outcomes {
            match &o.outcome {
                Outcome::Executed { .. } => t.executed += 1,
                Outcome::Failed { .. } => t.failed += 1,
                Outcome::Invalid { .. } => t.invalid += 1,
                Outcome::NotAttempted { .. } => t.not_attempted += 1,
                Outcome::Blocked { .. } => t.blocked += 1,
                Outcome::Refused { .. } => t.refused += 1,
                Outcome::Skipped { still_pending: true, .. } => t.skipped_pending += 1,
                Outcome::Skipped { still_pending: false, .. } => t.skipped_done += 1,
                Outcome::Planned { .. } => {}
            }
        }
        t
    }

    pub fn skipped(&self) -> usize {
        self.skipped_done + self.skipped_pending
    }

    /// Entries whose change may still be in the cluster because this batch could not undo
    /// them (failed, invalid, not attempted, blocked, refused); skipped Krkn files are counted
    /// apart.
    pub fn not_undone(&self) -> usize {
        self.failed + self.invalid + self.not_attempted + self.blocked + self.refused
    }

    /// `N executed, M failed, K invalid (not executed), S skipped[, U not attempted ...]`;
    /// the invalid and not-attempted parts appear when there are any.
    pub fn line(&self) -> String {
        let mut line = format!("{} executed, {} failed", self.executed, self.failed);
        if self.invalid > 0 {
            line.push_str(&format!(", {} invalid (not executed)", self.invalid));
        }
        if self.refused > 0 {
            line.push_str(&format!(
                ", {} refused (another cluster, or not an undo of a chaos change)",
                self.refused
            ));
        }
        line.push_str(&format!(", {} skipped", self.skipped()));
        if self.not_attempted > 0 {
            line.push_str(&format!(", {} not attempted (cluster unreachable)", self.not_attempted));
        }
        if self.blocked > 0 {
            line.push_str(&format!(
                ", {} blocked (a newer entry on the same object was not undone)",
                self.blocked
            ));
        }
        line
    }
}

/// Outstanding entries of `tree` that `filter` selects, newest first (LIFO). Invalid
/// pending-named files are selected too: they are outstanding work, reported as such.
///
/// Ordered by when each entry was written, not context by context: two runs on one journal
/// overlap in time, and the schedule reads this order as "newer first" for entries on the
/// same object. Ties (same nanosecond) fall back to the context's time and the file name.
pub fn select<'t>(tree: &'t JournalTree, filter: &Filter) -> Vec<&'t EntryNode> {
    let mut chosen: Vec<(&scan::ContextNode, &EntryNode)> = tree
        .entries()
        .filter(|(_, e)| e.state.is_outstanding() || e.state == EntryState::Invalid)
        .filter(|(c, e)| filter.matches(c, e))
        .collect();
    chosen.sort_by(|(ca, a), (cb, b)| {
        (b.name.ts_ns, cb.name.ts_ns, &b.file_name).cmp(&(
            a.name.ts_ns,
            ca.name.ts_ns,
            &a.file_name,
        ))
    });
    chosen.into_iter().map(|(_, e)| e).collect()
}

/// Executes the selected entries (newest first), up to `options.parallel` at a time, calling
/// `report` as each one finishes. Entries that touch the same object (or an object and its
/// namespace or owner) keep strict newest-first order ([`super::schedule`]); the rest overlap,
/// which is what makes an emergency rollback on a far-away cluster take seconds, not minutes.
/// Outcomes come back in the order of `entries`.
pub async fn execute(
    ops: &ClusterOps,
    entries: &[&EntryNode],
    options: ExecuteOptions,
    mut report: impl FnMut(&EntryOutcome),
) -> Vec<EntryOutcome> {
    let locks = if options.dry_run { HashMap::new() } else { lock_all(entries, &options).await };
    let mut batches = Batches::new(entries);
    let footprints: Vec<_> = entries.iter().map(|n| schedule::footprint(n)).collect();
    let mut order = Order::new(&schedule::dependencies(&footprints), |a, b| {
        schedule::same_object(&footprints[a], &footprints[b])
    });
    // Set once a request finds the cluster out of reach: the rest are not attempted.
    let unreachable: Mutex<Option<String>> = Mutex::new(None);
    // Whether a mirror's "undone by the watchdog" can be believed: asked once per batch.
    let trust = MirrorTrust::new();
    let mut running = FuturesUnordered::new();
    let mut results: Vec<Option<EntryOutcome>> = vec![None; entries.len()];
    // One at a time until an undo has reached the cluster: a dead API server is found by one
    // request, not by `parallel` of them each waiting out a timeout.
    let mut limit = 1;
    loop {
        while running.len() < limit {
            let Some(i) = order.next() else { break };
            let node = entries[i];
            if let Some(newer) = order.blocked_by(i) {
                let outcome = match unreachable.lock().ok().and_then(|u| u.clone()) {
                    Some(reason) => Outcome::NotAttempted { reason },
                    None => Outcome::Blocked {
                        reason: format!(
                            "waits for {}, a newer entry on the same object that was not undone",
                            entries[newer].file_name
                        ),
                    },
                };
                let mut out = finish(node, outcome);
                batches.settled(node, &locks, &mut out, &mut results);
                report(&out);
                order.settle(i, false);
                results[i] = Some(out);
                continue;
            }
            let lock = node.path.parent().and_then(|dir| locks.get(dir));
            let unreachable = &unreachable;
            let trust = &trust;
            running.push(async move {
                (i, execute_one(ops, trust, node, lock, &options, unreachable).await)
            });
        }
        let Some((i, outcome)) = running.next().await else { break };
        // Reached the cluster: executed, or failed for a reason other than reaching it.
        if matches!(outcome, Outcome::Executed { .. } | Outcome::Failed { .. })
            && unreachable.lock().map(|u| u.is_none()).unwrap_or(false)
        {
            limit = options.parallel.max(1);
        }
        let mut out = finish(entries[i], outcome);
        batches.settled(entries[i], &locks, &mut out, &mut results);
        report(&out);
        order.settle(i, !holds_back_older(&out.outcome));
        results[i] = Some(out);
    }
    results.into_iter().flatten().collect()
}

/// Durability of a batch. Each undo is made in the cluster before its entry is renamed
/// `.executed`, and the rename happens at once: another process sees it, and a killed process
/// loses nothing (the rename is in the kernel). Only the directory fsync, which makes the
/// rename survive a power loss or a kernel crash, waits until the context's last entry of the
/// batch has settled: one fsync per context instead of one per entry (every fsync holds up the
/// whole batch: 1,000 undos at 20 ms took 2.0 s with one per entry, 1.7 s). What such a crash
/// can lose is the rename, never the undo: the entry shows as pending again, and undoing it
/// again is harmless — a delete by uid finds the object gone (404), a guarded patch finds its
/// guard no longer holds and reads the object back as already restored, a re-create finds the
/// object there (409).
struct Batches<'e> {
    /// Entries of each context that have not settled yet.
    left: HashMap<&'e Path, usize>,
}

impl<'e> Batches<'e> {
    fn new(entries: &[&'e EntryNode]) -> Batches<'e> {
        let mut left = HashMap::new();
        for node in entries {
            if let Some(dir) = node.path.parent() {
                *left.entry(dir).or_default() += 1;
            }
        }
        Batches { left }
    }

    /// `node` settled as `out`: when it was its context's last entry, syncs the context's
    /// renames. If that fails, every entry of the context executed in this batch says so.
    fn settled(
        &mut self,
        node: &'e EntryNode,
        locks: &HashMap<PathBuf, Result<ContextLock, String>>,
        out: &mut EntryOutcome,
        results: &mut [Option<EntryOutcome>],
    ) {
        let Some(dir) = node.path.parent() else { return };
        let Some(left) = self.left.get_mut(dir) else { return };
        *left = left.saturating_sub(1);
        if *left > 0 {
            return;
        }
        let Some(Ok(lock)) = locks.get(dir) else { return };
        if let Err(e) = lock.sync() {
            let note = format!(
                "marked executed, but {} could not be synced ({e}): after a power loss it may \
                 list as pending again, and undoing it again is harmless",
                dir.display()
            );
            let same_context =
                results.iter_mut().flatten().filter(|o| o.path.parent() == Some(dir));
            for o in same_context.chain(std::iter::once(out)) {
                if let Outcome::Executed { notes } = &mut o.outcome {
                    notes.push(note.clone());
                }
            }
        }
    }
}

/// Whether entries older than this one on the same objects must wait: its change may still
/// be in the cluster. Not for an entry refused as another cluster's (an older entry is judged
/// the same way on its own, and reported refused, not blocked), nor for entries that send
/// nothing (their footprint is empty: nothing waits behind them).
fn holds_back_older(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Failed { .. } | Outcome::Blocked { .. } | Outcome::NotAttempted { .. }
    )
}

/// Which entries may start: those whose newer entries on the same objects have all finished
/// ([`schedule::dependencies`]). An entry whose newer one on a common object was left
/// outstanding does not run (it is reported blocked), and neither does anything older behind
/// it on a common object.
struct Order {
    waiting: Vec<usize>,
    /// The older entries waiting for each entry, and whether they name a common object.
    dependents: Vec<Vec<(usize, bool)>>,
    /// Newest first among the ready ones, so that with `parallel: 1` this is the serial order.
    ready: BinaryHeap<Reverse<usize>>,
    /// The newer entry, not undone, that an entry waits behind.
    blocked_by: Vec<Option<usize>>,
}

impl Order {
    fn new(deps: &[Vec<usize>], same_object: impl Fn(usize, usize) -> bool) -> Order {
        let waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
        let mut dependents: Vec<Vec<(usize, bool)>> = vec![Vec::new(); deps.len()];
        for (i, d) in deps.iter().enumerate() {
            for &before in d {
                dependents[before].push((i, same_object(before, i)));
            }
        }
        let ready = (0..deps.len()).filter(|&i| waiting[i] == 0).map(Reverse).collect();
        Order { waiting, dependents, ready, blocked_by: vec![None; deps.len()] }
    }

    fn next(&mut self) -> Option<usize> {
        self.ready.pop().map(|Reverse(i)| i)
    }

    fn blocked_by(&self, i: usize) -> Option<usize> {
        self.blocked_by[i]
    }

    /// Entry `i` finished: `undone` when nothing of its change is left in the cluster.
    fn settle(&mut self, i: usize, undone: bool) {
        // Name the entry that was not undone, not the chain of entries blocked behind it.
        let cause = if undone { None } else { Some(self.blocked_by[i].unwrap_or(i)) };
        for k in 0..self.dependents[i].len() {
            let (next, same_object) = self.dependents[i][k];
            if let Some(cause) = cause.filter(|_| same_object) {
                self.blocked_by[next].get_or_insert(cause);
            }
            self.waiting[next] -= 1;
            if self.waiting[next] == 0 {
                self.ready.push(Reverse(next));
            }
        }
    }
}

/// Takes the lock of every context involved, in path order: two processes executing
/// overlapping sets wait for each other instead of each holding half.
async fn lock_all(
    entries: &[&EntryNode],
    options: &ExecuteOptions,
) -> HashMap<PathBuf, Result<ContextLock, String>> {
    let dirs: BTreeSet<PathBuf> = entries
        .iter()
        .filter(|n| needs_cluster(n))
        .filter_map(|n| n.path.parent().map(PathBuf::from))
        .collect();
    let mut locks = HashMap::new();
    for dir in dirs {
        let lock = lock_context(&dir, options.lock_patience).await.map_err(|e| e.to_string());
        locks.insert(dir, lock);
    }
    locks
}

async fn execute_one(
    ops: &ClusterOps,
    trust: &MirrorTrust,
    node: &EntryNode,
    lock: Option<&Result<ContextLock, String>>,
    options: &ExecuteOptions,
    unreachable: &Mutex<Option<String>>,
) -> Outcome {
    if options.dry_run {
        return plan(node);
    }
    // Nothing to lock or send (a file that cannot say what to undo, a Krkn file left to
    // Krkn): reported exactly as without a cluster, and [`lock_all`] took no lock for it.
    if !needs_cluster(node) {
        return offline_outcome(node);
    }
    if let Some(reason) = unreachable.lock().ok().and_then(|u| u.clone()) {
        return Outcome::NotAttempted { reason };
    }
    let lock = match lock {
        Some(Ok(lock)) => lock,
        Some(Err(e)) => return Outcome::Failed { error: e.clone() },
        None => return Outcome::Failed { error: "internal: context lock missing".into() },
    };
    let before = ops.connection_failures();
    let outcome = execute_locked(ops, trust, lock, node, options.foreign_ok).await;
    if ops.connection_failures() > before
        && let Outcome::Failed { error } = &outcome
        && let Ok(mut u) = unreachable.lock()
    {
        u.get_or_insert_with(|| format!("not attempted after: {error}"));
    }
    outcome
}

/// Why `node` is in a file another user owns or may write ([`super::trust`]), if it is:
/// refused unless the operator says so (`--allow-foreign-journal`).
pub fn foreign(node: &EntryNode) -> Option<String> {
    let root = node.path.parent().and_then(Path::parent)?;
    super::trust::foreign(root, &node.path).map(|why| {
        format!(
            "refused: {why}; an entry someone else could have written is undone only with \
             --allow-foreign-journal"
        )
    })
}

/// Whether undoing `node` talks to the cluster: not for a file that cannot be read, nor for a
/// Krkn file left to Krkn; those are reported without one (see [`execute_offline`]).
pub fn needs_cluster(node: &EntryNode) -> bool {
    match &node.body {
        EntryBody::Invalid(_) => false,
        EntryBody::Krkn(k) => k.plan.is_executable(),
        EntryBody::Chaosdeck(_) | EntryBody::Listed(_) => true,
    }
}

/// The outcomes of entries that need no cluster (invalid files, Krkn files left to Krkn):
/// each is reported, none executed. Others in `entries` are ignored (give those to
/// [`execute`]).
pub fn execute_offline(
    entries: &[&EntryNode],
    mut report: impl FnMut(&EntryOutcome),
) -> Vec<EntryOutcome> {
    entries
        .iter()
        .filter(|node| !needs_cluster(node))
        .map(|node| {
            let out = finish(node, offline_outcome(node));
            report(&out);
            out
        })
        .collect()
}

/// The outcome of an entry that needs no cluster ([`needs_cluster`] is false).
fn offline_outcome(node: &EntryNode) -> Outcome {
    match &node.body {
        EntryBody::Invalid(reason) => Outcome::Invalid { reason: reason.clone() },
        EntryBody::Krkn(k) => {
            Outcome::Skipped { reason: krkn_reason(node, k), still_pending: true }
        }
        _ => Outcome::Failed { error: "internal: this entry needs the cluster".into() },
    }
}

fn finish(node: &EntryNode, outcome: Outcome) -> EntryOutcome {
    EntryOutcome {
        path: node.path.clone(),
        file_name: node.file_name.clone(),
        summary: node.summary(),
        outcome,
    }
}

fn plan(node: &EntryNode) -> Outcome {
    match &node.body {
        EntryBody::Chaosdeck(entry) => {
            let context = entry.cluster.as_ref().map(|c| c.context.as_str());
            Outcome::Planned {
                steps: entry
                    .undo
                    .iter()
                    .flat_map(|a| super::kubectl::commands(a, context))
                    .collect(),
            }
        }
        // Never planned from a header: the body says what would be undone.
        EntryBody::Listed(_) => {
            Outcome::Invalid { reason: "internal: the entry was not parsed before planning".into() }
        }
        EntryBody::Krkn(k) => match &k.plan {
            krkn::Plan::Executable { actions, .. } => Outcome::Planned {
                steps: actions.iter().flat_map(|a| super::kubectl::commands(a, None)).collect(),
            },
            krkn::Plan::NotExecutable { .. } => {
                Outcome::Skipped { reason: krkn_reason(node, k), still_pending: true }
            }
        },
        EntryBody::Invalid(reason) => Outcome::Invalid { reason: reason.clone() },
    }
}

/// Why a Krkn entry is left to Krkn, and how to run it there.
fn krkn_reason(node: &EntryNode, k: &krkn::KrknSummary) -> String {
    let what = match &k.plan {
        krkn::Plan::NotExecutable { what, .. } => what.clone(),
        krkn::Plan::Executable { .. } => k.plan.summary(),
    };
    format!(
        "not executable here: {what}; run it with Krkn {}",
        krkn::krkn_instructions(&node.path, &node.name.scenario_type)
    )
}

/// Runs one entry while its context lock is held.
async fn execute_locked(
    ops: &ClusterOps,
    trust: &MirrorTrust,
    lock: &ContextLock,
    node: &EntryNode,
    foreign_ok: bool,
) -> Outcome {
    // Re-read under the lock: another process may have executed or amended it meanwhile.
    match lock.still_pending(&node.path) {
        Ok(true) => {}
        Ok(false) => {
            return Outcome::Skipped {
                reason: "already executed by another process".into(),
                still_pending: false,
            };
        }
        Err(e) => return Outcome::Failed { error: e.to_string() },
    }
    if !foreign_ok && let Some(why) = foreign(node) {
        return Outcome::Refused { reason: why };
    }
    let fresh = scan::read_entry(
        node.path.clone(),
        node.file_name.clone(),
        node.name.clone(),
        &mut Liveness::default(),
    );
    let made_on = match &fresh.body {
        EntryBody::Chaosdeck(entry) => entry.cluster.as_ref(),
        _ => None,
    };
    let would_apply = match &fresh.body {
        EntryBody::Chaosdeck(_) => true,
        EntryBody::Krkn(k) => k.plan.is_executable(),
        _ => false,
    };
    if would_apply && let Err(reason) = ops.admits(made_on) {
        return Outcome::Refused { reason };
    }
    if let EntryBody::Chaosdeck(entry) = &fresh.body
        && let Err(reason) = admit_all(&entry.undo, Author::Chaosdeck, ops.protected())
    {
        return Outcome::Refused { reason };
    }
    // The watchdog may have undone it already (the dead man's switch): say who, do not redo.
    let mut notes = Vec::new();
    if let EntryBody::Chaosdeck(entry) = &fresh.body
        && let Some(mirror) = &entry.mirror
    {
        match super::mirror::undone_by(ops, trust, mirror).await {
            MirrorSays::Undone(undone) => {
                return match lock.mark_undone_elsewhere(&node.path, &undone) {
                    Ok(_) => {
                        let mut notes =
                            vec![format!("undone by {} at {} (its mirror)", undone.by, undone.at)];
                        if let Err(e) = super::mirror::retire(ops, mirror).await {
                            notes.push(format!("its mirror configmap/{} stays: {e}", mirror.name));
                        }
                        Outcome::Executed { notes }
                    }
                    Err(e) => failed(lock, &node.path, e.to_string()),
                };
            }
            MirrorSays::Unverified { claimed, why } => notes.push(format!(
                "its mirror says {} undid it, which cannot be believed here ({why}); undone here",
                claimed.by
            )),
            MirrorSays::Nothing => {}
        }
    }
    let applied = match &fresh.body {
        EntryBody::Chaosdeck(entry) => apply_entry(ops, entry).await,
        // Krkn's plan is resolved into the same generic actions (plus what the look-ups found)
        // and applied by the same loop as chaosdeck's own entries; the rename to `.py.executed`
        // below is exactly Krkn's own.
        EntryBody::Krkn(k) if k.plan.is_executable() => {
            let resolved = krkn::apply::resolve(ops, &k.plan).await;
            if let Err(reason) = admit_all(&resolved.actions, Author::KrknMapping, ops.protected())
            {
                return Outcome::Refused { reason };
            }
            apply_actions(ops, &resolved.actions, resolved.notes, resolved.errors).await
        }
        EntryBody::Krkn(k) => {
            return Outcome::Skipped { reason: krkn_reason(node, k), still_pending: true };
        }
        EntryBody::Listed(_) => {
            return Outcome::Failed {
                error: "internal: entry was not parsed before execution".into(),
            };
        }
        EntryBody::Invalid(reason) => return Outcome::Invalid { reason: reason.clone() },
    };
    let mirror = match &fresh.body {
        EntryBody::Chaosdeck(entry) => entry.mirror.clone(),
        _ => None,
    };
    match applied {
        // Synced with the rest of its context's batch (see [`Batches`]).
        Ok(found) => match lock.mark_executed_unsynced(&node.path) {
            Ok(Marked::Renamed) => {
                notes.extend(found);
                if let Some(mirror) = &mirror
                    && let Err(e) = super::mirror::retire(ops, mirror).await
                {
                    notes.push(format!("its mirror configmap/{} stays: {e}", mirror.name));
                }
                Outcome::Executed { notes }
            }
            Ok(Marked::AlreadyExecuted) => Outcome::Failed {
                error: "internal: the entry disappeared while its context was locked".into(),
            },
            Err(e) => failed(lock, &node.path, format!("undone in the cluster, but {e}")),
        },
        Err(Unapplied::Refused(reason)) => Outcome::Refused { reason },
        Err(Unapplied::Failed(error)) => failed(lock, &node.path, error),
    }
}

/// Every action of an entry is admissible ([`admissible::admit`]), or the first reason one
/// is not: an entry is undone whole or not at all.
fn admit_all(
    actions: &[UndoAction],
    author: Author,
    protected: &ProtectedNamespaces,
) -> Result<(), String> {
    actions
        .iter()
        .try_for_each(|a| admissible::admit(a, author, protected))
        .map_err(|why| format!("refused: {why}"))
}

/// A failed entry: its error recorded beside it (so listings say "failed", not "pending"),
/// and the outcome saying so — or saying that the record could not be written either.
fn failed(lock: &ContextLock, pending: &Path, error: String) -> Outcome {
    // A rename that happened before its directory fsync failed: no record for a file that is
    // no longer pending.
    if matches!(lock.still_pending(pending), Ok(false)) {
        return Outcome::Failed { error };
    }
    match lock.record_failure(pending, &error) {
        Ok(_) => Outcome::Failed { error },
        Err(e) => Outcome::Failed { error: format!("{error}; and {e}") },
    }
}

/// A scenario undoing its own change on normal completion: the same actions, under the
/// context lock, and the entry retired (renamed `.executed`) only after they all succeeded. An
/// entry another process already executed is left as it is.
pub async fn revert_own(
    ops: &ClusterOps,
    pending: &Path,
    entry: &Entry,
) -> Result<Vec<String>, String> {
    let dir = pending.parent().ok_or_else(|| format!("{}: no context", pending.display()))?;
    let lock = lock_context(dir, super::lock::DEFAULT_PATIENCE).await.map_err(|e| e.to_string())?;
    if !lock.still_pending(pending).map_err(|e| e.to_string())? {
        return Ok(vec![format!("{} was already executed by another process", pending.display())]);
    }
    // A failure is recorded like the executor's, so the entry lists as failed, not pending,
    // when nothing rolls it back afterwards (auto_rollback off).
    let record = |error: String| match lock.record_failure(pending, &error) {
        Ok(_) => error,
        Err(e) => format!("{error}; and {e}"),
    };
    let mut notes = apply_entry(ops, entry).await.map_err(|e| record(e.to_string()))?;
    lock.mark_executed(pending).map_err(|e| record(format!("undone in the cluster, but {e}")))?;
    if let Some(mirror) = &entry.mirror
        && let Err(e) = super::mirror::retire(ops, mirror).await
    {
        notes.push(format!("its mirror configmap/{} stays: {e}", mirror.name));
    }
    Ok(notes)
}

/// Why an entry's undo was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unapplied {
    /// An action is not the inverse of a change chaos makes ([`admissible::admit`]): nothing
    /// was sent, and trying again will not change that.
    Refused(String),
    /// Sent, and at least one action failed (every one was attempted).
    Failed(String),
}

impl std::fmt::Display for Unapplied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unapplied::Refused(why) | Unapplied::Failed(why) => f.write_str(why),
        }
    }
}

/// Whether every action of a chaosdeck entry may be applied, `protected` staying out of
/// bounds ([`admissible::admit`]); the reason the first may not.
pub fn admissible_entry(protected: &ProtectedNamespaces, entry: &Entry) -> Result<(), String> {
    admit_all(&entry.undo, Author::Chaosdeck, protected)
}

/// Applies every action of a chaosdeck entry once all are admissible; Ok with notes.
pub async fn apply_entry(ops: &ClusterOps, entry: &Entry) -> Result<Vec<String>, Unapplied> {
    admit_all(&entry.undo, Author::Chaosdeck, ops.protected()).map_err(Unapplied::Refused)?;
    apply_actions(ops, &entry.undo, Vec::new(), Vec::new()).await
}

/// The one loop that applies undo actions, for chaosdeck's entries and Krkn's alike (their
/// admission checked by the caller).
async fn apply_actions(
    ops: &ClusterOps,
    actions: &[UndoAction],
    mut notes: Vec<String>,
    mut errors: Vec<String>,
) -> Result<Vec<String>, Unapplied> {
    for action in actions {
        match apply_action(ops, action).await {
            Ok(Some(note)) => notes.push(note),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(notes) } else { Err(Unapplied::Failed(errors.join("; "))) }
}

/// One action; `Ok(Some(note))` when it found the work already done or not ours.
async fn apply_action(ops: &ClusterOps, action: &UndoAction) -> Result<Option<String>, String> {
    match action {
        // The uid names exactly the object chaosdeck created, so one DELETE carrying it as a
        // precondition is the whole undo: the API server answers 404 (already gone) or 409
        // (another object holds the name now). `require_labels` only stands in for the uid when
        // it was never recorded (a crash between the write-ahead entry and the create).
        UndoAction::Delete { target, uid: Some(uid), .. } if !uid.is_empty() => {
            match ops.delete_exact(target, uid).await.map_err(|e| e.to_string())? {
                DeleteOutcome::Deleted => Ok(None),
                DeleteOutcome::NotFound => Ok(Some(format!("{} already gone", target.display()))),
                DeleteOutcome::NotOurs(why) => Ok(Some(format!("{why}; left alone"))),
            }
        }
        // Nothing to check (a Krkn file names the object and nothing else): one DELETE by
        // name, what Krkn itself sends; a GET first would only double the round trips.
        UndoAction::Delete { target, require_labels, .. } if require_labels.is_empty() => {
            match ops.delete_named(target).await.map_err(|e| e.to_string())? {
                DeleteOutcome::NotFound => Ok(Some(format!("{} already gone", target.display()))),
                DeleteOutcome::Deleted | DeleteOutcome::NotOurs(_) => Ok(None),
            }
        }
        // Without a uid the labels must be read first. A deletecollection filtered by the labels
        // and the name would be one request, but the API server lists and then deletes by name
        // without a uid precondition, so a same-named stranger created in between could go.
        UndoAction::Delete { target, require_labels, .. } => {
            let Some(current) = ops.get(target).await.map_err(|e| e.to_string())? else {
                return Ok(Some(format!("{} already gone", target.display())));
            };
            let current_uid = current.metadata.uid.clone().unwrap_or_default();
            let labels = current.metadata.labels.clone().unwrap_or_default();
            if let Some((k, v)) = require_labels.iter().find(|(k, v)| labels.get(*k) != Some(*v)) {
                return Ok(Some(format!(
                    "{} does not carry {k}={v}, so it is not the object chaosdeck created; left alone",
                    target.display()
                )));
            }
            match ops.delete_exact(target, &current_uid).await.map_err(|e| e.to_string())? {
                DeleteOutcome::Deleted => Ok(None),
                DeleteOutcome::NotFound => Ok(Some(format!("{} already gone", target.display()))),
                DeleteOutcome::NotOurs(why) => Ok(Some(format!("{why}; left alone"))),
            }
        }
        UndoAction::Patch { target, restore, guard } => {
            if let Some(patch) = guarded_json_patch(restore, guard) {
                let patch: json_patch::Patch = serde_json::from_value(Value::Array(patch))
                    .map_err(|e| format!("{}: internal: bad JSON patch: {e}", target.display()))?;
                match ops.json_patch(target, patch).await {
                    Ok(_) => return Ok(None),
                    Err(e) if e.code() == Some(404) => {
                        return Ok(Some(format!(
                            "{} is gone; nothing to restore",
                            target.display()
                        )));
                    }
                    // 422: a test failed or the object has another shape; nothing was changed.
                    // The read below says why, in the same words as without the fast path.
                    Err(e) if e.code() == Some(422) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            restore_by_merge(ops, target, restore, guard).await
        }
        UndoAction::RemoveListItem { target, path, item } => {
            let Some(current) = ops.get(target).await.map_err(|e| e.to_string())? else {
                return Ok(Some(format!("{} is gone; nothing to remove", target.display())));
            };
            let current = serde_json::to_value(&current).map_err(|e| e.to_string())?;
            let list = match list_at(&current, path) {
                ListAt::List(list) => list,
                ListAt::FieldAbsent => {
                    return Ok(Some(format!(
                        "{} has no {path} any more, so not that item either",
                        target.display()
                    )));
                }
                ListAt::WrongShape(why) => {
                    return Err(format!(
                        "{}: {why}; the object does not have the shape this entry was written \
                         for, so it is not marked undone — check it by hand",
                        target.display()
                    ));
                }
            };
            let Some(index) = list.iter().position(|v| v == item) else {
                return Ok(Some(format!("{} no longer has that item in {path}", target.display())));
            };
            // `test` makes the removal conditional: if the list moved meanwhile, nothing else
            // is removed by mistake and the undo fails, to be retried.
            // Removing the only item removes the field, so the object reads as it did before.
            let only = list.len() == 1;
            let remove_path = if only { path.clone() } else { format!("{path}/{index}") };
            let ops_json = serde_json::json!([
                {"op": "test", "path": format!("{path}/{index}"), "value": item},
                {"op": "remove", "path": remove_path},
            ]);
            let patch: json_patch::Patch =
                serde_json::from_value(ops_json).map_err(|e| e.to_string())?;
            ops.json_patch(target, patch).await.map_err(|e| e.to_string())?;
            Ok(None)
        }
        UndoAction::Create { object } => recreate(ops, object).await,
    }
}

/// Reads the object, then merge-patches it at the version read: the undo of a patch when its
/// guarded JSON Patch cannot be expressed or did not apply. Tells "already restored" (a note)
/// from "changed by a human" (an error naming the path and what it holds).
async fn restore_by_merge(
    ops: &ClusterOps,
    target: &ObjectRef,
    restore: &Value,
    guard: &Value,
) -> Result<Option<String>, String> {
    let Some(current) = ops.get(target).await.map_err(|e| e.to_string())? else {
        return Ok(Some(format!("{} is gone; nothing to restore", target.display())));
    };
    let current = serde_json::to_value(&current).map_err(|e| e.to_string())?;
    if first_mismatch(restore, &current, "").is_none() {
        return Ok(Some(format!("{} already restored", target.display())));
    }
    if let Some(mismatch) = first_mismatch(guard, &current, "") {
        return Err(format!(
            "{} was changed after chaosdeck set it ({mismatch} no longer holds the value \
             chaosdeck set); not overwriting that edit — restore by hand or mark the entry \
             executed",
            target.display()
        ));
    }
    // Optimistic concurrency: the patch applies only to the version just checked.
    let mut patch = restore.clone();
    if let (Some(map), Some(rv)) =
        (patch.as_object_mut(), current.pointer("/metadata/resourceVersion"))
    {
        let meta = map.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("resourceVersion".into(), rv.clone());
        }
    }
    ops.merge_patch(target, &patch).await.map_err(|e| e.to_string())?;
    Ok(None)
}

/// What a JSON pointer finds where an entry expects a list.
enum ListAt<'v> {
    List(&'v Vec<Value>),
    /// The parent object is there without the field: Kubernetes drops an empty list (a node's
    /// `spec.taints` once its last taint is removed), so the item is gone.
    FieldAbsent,
    /// Anything else (the parent is missing or not an object, the field is not a list): the
    /// path does not fit this object, and "gone" would be a guess. Not counted as done.
    WrongShape(String),
}

fn list_at<'v>(object: &'v Value, path: &str) -> ListAt<'v> {
    match object.pointer(path) {
        Some(Value::Array(list)) => return ListAt::List(list),
        Some(other) => {
            return ListAt::WrongShape(format!(
                "{path} is {} where a list was expected",
                shape(other)
            ));
        }
        None => {}
    }
    let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    match object.pointer(parent) {
        Some(Value::Object(_)) => ListAt::FieldAbsent,
        Some(other) => ListAt::WrongShape(format!(
            "{} is {} where an object holding {path} was expected",
            if parent.is_empty() { "the object" } else { parent },
            shape(other)
        )),
        None => ListAt::WrongShape(format!("{parent} does not exist, so {path} cannot be checked")),
    }
}

/// How long a re-create waits for a same-named object that is still terminating.
const TERMINATING_PATIENCE: Duration = Duration::from_secs(60);

/// Creates the snapshot; an existing object counts as done unless it is still being deleted
/// (the one chaosdeck deleted, in its grace period), which is waited out.
async fn recreate(ops: &ClusterOps, object: &Value) -> Result<Option<String>, String> {
    let target = super::entry::object_ref_of(object);
    // Older or hand-written snapshots may still carry server-owned fields.
    let object = &super::entry::creatable(object);
    let deadline = std::time::Instant::now() + TERMINATING_PATIENCE;
    loop {
        if ops.create(object).await.map_err(|e| e.to_string())?.is_some() {
            return Ok(None);
        }
        let terminating = match ops.get(&target).await.map_err(|e| e.to_string())? {
            Some(o) => o.metadata.deletion_timestamp.is_some(),
            // It finished terminating between the 409 and this read: create again after a
            // short pause (not at once: a server that keeps answering 409 to the create and
            // 404 to the read would otherwise be sent requests back to back until the deadline).
            None if std::time::Instant::now() <= deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            None => {
                return Err(format!(
                    "{} answers 409 AlreadyExists to the create but cannot be read; run \
                     execute-rollback again",
                    target.display()
                ));
            }
        };
        if !terminating {
            return Ok(Some(format!(
                "{} already exists (re-created by its controller or by hand)",
                target.display()
            )));
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{} is still terminating after {} s; run execute-rollback again once it is gone",
                target.display(),
                TERMINATING_PATIENCE.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_entry_not_undone_blocks_every_older_one_behind_it_and_nothing_else() {
        // 0 newest; 1 waits for 0, 2 waits for 1; 3 touches something else.
        let mut order = Order::new(&[vec![], vec![0], vec![1], vec![]], |_, _| true);
        let mut started = vec![];
        while let Some(i) = order.next() {
            started.push((i, order.blocked_by(i)));
            // 0 fails; whatever is blocked is settled as not undone too.
            let undone = i == 3;
            order.settle(i, undone);
        }
        started.sort();
        assert_eq!(started, vec![(0, None), (1, Some(0)), (2, Some(0)), (3, None)]);

        let mut order = Order::new(&[vec![], vec![0]], |_, _| true);
        assert_eq!(order.next(), Some(0));
        order.settle(0, false);
        assert_eq!((order.next(), order.blocked_by(1)), (Some(1), Some(0)));

        // Ordered behind it (a namespace in common) but no object in common: runs.
        let mut order = Order::new(&[vec![], vec![0]], |_, _| false);
        assert_eq!(order.next(), Some(0));
        order.settle(0, false);
        assert_eq!((order.next(), order.blocked_by(1)), (Some(1), None));

        let mut order = Order::new(&[vec![], vec![0]], |_, _| true);
        assert_eq!(order.next(), Some(0));
        assert_eq!(order.next(), None, "1 waits for 0");
        order.settle(0, true);
        assert_eq!((order.next(), order.blocked_by(1)), (Some(1), None));
    }

    fn out(outcome: Outcome) -> EntryOutcome {
        EntryOutcome { path: "x".into(), file_name: "x".into(), summary: String::new(), outcome }
    }

    #[test]
    fn the_tally_counts_what_was_not_undone_and_keeps_done_elsewhere_apart() {
        let outcomes = [
            out(Outcome::Executed { notes: vec![] }),
            out(Outcome::Failed { error: "e".into() }),
            out(Outcome::Invalid { reason: "r".into() }),
            out(Outcome::NotAttempted { reason: "r".into() }),
            out(Outcome::Skipped { reason: "another process".into(), still_pending: false }),
            out(Outcome::Skipped { reason: "left to Krkn".into(), still_pending: true }),
        ];
        let t = Tally::of(&outcomes);
        assert_eq!(t.not_undone(), 3);
        assert_eq!((t.skipped_done, t.skipped_pending), (1, 1));
        assert_eq!(
            t.line(),
            "1 executed, 1 failed, 1 invalid (not executed), 2 skipped, \
             1 not attempted (cluster unreachable)"
        );
        let plain = Tally::of(&outcomes[..1]);
        assert_eq!(plain.line(), "1 executed, 0 failed, 0 skipped");
        assert!(!outcomes[4].outcome.left_outstanding());
        assert!(outcomes[5].outcome.left_outstanding());
    }

    #[test]
    fn guard_matching_follows_merge_patch_semantics() {
        let current = json!({"spec": {"selector": {"app": "web", "hijack": "sh-1"}}});
        assert_eq!(
            first_mismatch(&json!({"spec": {"selector": {"hijack": "sh-1"}}}), &current, ""),
            None
        );
        let miss = first_mismatch(&json!({"spec": {"selector": {"hijack": "sh-2"}}}), &current, "")
            .unwrap();
        assert!(miss.contains("/spec/selector/hijack"), "{miss}");
        // null = must be absent
        assert!(
            first_mismatch(&json!({"spec": {"selector": {"hijack": null}}}), &current, "")
                .is_some()
        );
        assert_eq!(
            first_mismatch(&json!({"spec": {"unschedulable": null}}), &json!({"spec": {}}), ""),
            None
        );
        assert_eq!(first_mismatch(&json!({"spec": {"x": {"y": null}}}), &json!({}), ""), None);
    }
}
