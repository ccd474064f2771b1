//! Running a selection: the schedule that lets unrelated undos overlap while entries on one
//! object keep newest-first order, the context locks, and the durability of a batch.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::super::scan::EntryNode;
use super::super::schedule;
use super::offline::{finish, needs_cluster, offline_outcome, plan};
use super::options::ExecuteOptions;
use super::outcome::{EntryOutcome, Outcome};
use super::protocol::execute_locked;
use crate::cluster::ClusterOps;
use crate::journal::lock::{ContextLock, lock_context};
use crate::journal::mirror_link::MirrorTrust;

/// Executes the selected entries (newest first), up to `options.parallel` at a time, calling
/// `report` as each one finishes. Entries that touch the same object (or an object and its
/// namespace or owner) keep strict newest-first order ([`schedule`](crate::journal::schedule)); the rest overlap,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
