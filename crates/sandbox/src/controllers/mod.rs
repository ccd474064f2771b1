//! Mini-controllers that make the store behave like a cluster.
//!
//! Owns: reconciling desired state (deployments → replicasets → pods, jobs, PDB status) and
//! the pod lifecycle (scheduling, Pending → Running/Ready, graceful termination, job pods
//! completing, NotReady on a NotReady node, eviction by NoExecute taints). One task watches the store's change feed, marks the namespaces touched as
//! dirty, and reconciles those; timed steps run as small tasks of their own. Controllers act
//! only through the store's public API, as a client would, so a conflict just means "try
//! again on the next pass". Must not touch HTTP.

mod conditions;
mod ctx;
pub mod disruption;
mod events;
mod kubelet;
mod nodelifecycle;
pub mod restarts;
mod scheduler;
mod volumes;
mod workloads;

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast::error::TryRecvError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::SandboxOptions;
use super::meta;
use super::resources as r;
use super::store::Store;
use ctx::{Ctx, Nodes};

/// Collects bursts of changes into one reconcile pass.
const DEBOUNCE: Duration = Duration::from_millis(5);
/// Safety net: reconcile everything now and then even without changes (a full pass over
/// scale:5000:150000 costs about half a CPU second, so not too often).
const RESYNC: Duration = Duration::from_secs(30);
/// A namespace whose pass failed (a conflict, an invalid template) waits this long.
const RETRY: Duration = Duration::from_millis(200);

/// Starts every controller; they stop when `stop` is cancelled.
pub fn spawn(
    store: Arc<Store>,
    opts: &SandboxOptions,
    stop: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let ctx = Arc::new(Ctx {
        store,
        ready_delay: opts.pod_ready_delay,
        stop,
        timers: Mutex::new(HashSet::new()),
        ip_counter: Mutex::new(1),
    });
    vec![tokio::spawn(run(ctx))]
}

fn all_namespaces(store: &Store) -> BTreeSet<String> {
    store.list(r::NAMESPACES, None).0.iter().map(|n| meta::name(n).to_string()).collect()
}

/// One reconcile pass that cannot stop the controllers: every controller runs on this one
/// task, and the objects they read are anyone's writes. A pass that panics anyway (a bug) is
/// logged and its namespaces wait for the next change or resync (30 s), not the quick retry of
/// a failed pass: a panic that repeats would otherwise be reported five times a second. The
/// store's lock survives a panic (see `Store::lock`).
fn guarded_pass(ctx: &Arc<Ctx>, namespaces: BTreeSet<String>) -> BTreeSet<String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reconcile(ctx, namespaces))) {
        Ok(failed) => failed,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(
                "a controller pass panicked ({what}); its namespaces wait for a resync"
            );
            BTreeSet::new()
        }
    }
}

async fn run(ctx: Arc<Ctx>) {
    // Subscribe before the first pass so no change between them is missed.
    let mut rx = match ctx.store.subscribe(None) {
        Ok(sub) => sub.rx,
        Err(e) => {
            tracing::error!("controllers cannot watch the store: {e}");
            return;
        }
    };
    let mut dirty = all_namespaces(&ctx.store);
    let mut retry = BTreeSet::new();
    let mut retry_at = tokio::time::Instant::now();
    let mut resync = tokio::time::interval(RESYNC);
    resync.tick().await;
    loop {
        if !dirty.is_empty() {
            let failed = guarded_pass(&ctx, std::mem::take(&mut dirty));
            if !failed.is_empty() && retry.is_empty() {
                retry_at = tokio::time::Instant::now() + RETRY;
            }
            retry.extend(failed);
        }
        tokio::select! {
            _ = ctx.stop.cancelled() => return,
            _ = resync.tick() => dirty = all_namespaces(&ctx.store),
            _ = tokio::time::sleep_until(retry_at), if !retry.is_empty() => {
                dirty.extend(std::mem::take(&mut retry));
            }
            msg = rx.recv() => match msg {
                Ok(change) => note(&ctx.store, &mut dirty, change.res, meta::namespace(&change.obj)),
                Err(_) => dirty = all_namespaces(&ctx.store),
            },
        }
        // Let a burst of writes land, then take all of it in one pass.
        tokio::time::sleep(DEBOUNCE).await;
        loop {
            match rx.try_recv() {
                Ok(change) => {
                    note(&ctx.store, &mut dirty, change.res, meta::namespace(&change.obj))
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Lagged(_)) => dirty = all_namespaces(&ctx.store),
                Err(TryRecvError::Closed) => return,
            }
        }
    }
}

fn note(store: &Store, dirty: &mut BTreeSet<String>, res: usize, ns: &str) {
    match res {
        // A node that changes may make pending pods schedulable anywhere.
        r::NODES => dirty.extend(all_namespaces(store)),
        r::PODS | r::DEPLOYMENTS | r::REPLICASETS | r::JOBS | r::PDBS | r::PVCS => {
            dirty.insert(ns.to_string());
        }
        _ => {}
    }
}

/// One pass over the given namespaces; returns those that need another pass.
fn reconcile(ctx: &Arc<Ctx>, namespaces: BTreeSet<String>) -> BTreeSet<String> {
    let mut again = BTreeSet::new();
    // One node snapshot per pass: at scale there are thousands of nodes and many namespaces.
    let node_list = ctx.store.list(r::NODES, None).0;
    let nodes: Nodes<'_> = node_list.iter().map(|n| (meta::name(n), n)).collect();
    for ns in namespaces {
        let steps = [
            workloads::deployments(ctx, &ns),
            workloads::replicasets(ctx, &ns),
            workloads::jobs(ctx, &ns),
            scheduler::schedule(ctx, &ns),
            kubelet::pods(ctx, &ns, &nodes),
            nodelifecycle::pods(ctx, &ns, &nodes),
            disruption::reconcile(&ctx.store, &ns),
            volumes::bind(&ctx.store, &ns),
        ];
        for result in steps {
            if let Err(e) = result {
                // Conflicts and races with clients are normal; retry on the next pass.
                tracing::debug!("reconcile of namespace {ns}: {e}");
                again.insert(ns.clone());
            }
        }
    }
    again
}
