//! The dead man's switch: when the operator's chaosdeck dies, the cluster undoes its changes.
//!
//! A run with `chaosdeck.dead_man_switch.enabled` holds one `coordination.k8s.io/v1` Lease and
//! mirrors every journal entry into a labelled ConfigMap (after the durable local write, before
//! the change). `chaosdeck watchdog`, running in the cluster, executes the mirrored undos of a
//! run whose Lease it has not seen change for `lease_duration`, and records what it did on the
//! mirrors; `reconcile` brings that back into the local journal.
//!
//! Owns: the mirror format ([`mirror`]), reading and writing mirrors, Leases and Events
//! ([`store`], [`lease`]), the watchdog loop ([`watchdog`]) and its metrics, reconciling
//! the local journal with the mirrors ([`reconcile`]), and the local copy `attach` keeps of
//! another process's run ([`attached`]). Must not apply an undo action itself:
//! undos go through `journal::executor` (the same guards as `execute-rollback`), and local
//! entries change only through `journal::transitions`. The local journal stays the operator's source
//! of truth; a mirror is a copy the cluster can act on.

pub mod attached;
pub mod lease;
pub mod metrics;
pub mod mirror;
pub mod progress;
pub mod reconcile;
pub mod store;
pub mod watchdog;

pub use lease::{LeaseKeeper, LeaseNews, lease_name};
pub use mirror::{Mirror, MirrorState};
pub use store::MirrorStore;

use crate::cluster::Fence;

/// What a run under the dead man's switch gives its scenario contexts: where each entry is
/// mirrored before its change, and the fence that makes the run read-only once its Lease is
/// lost.
#[derive(Clone)]
pub struct Armed {
    pub store: MirrorStore,
    pub fence: Fence,
}

impl Armed {
    /// Why the run may not change anything any more, if it may not.
    pub fn read_only(&self) -> Option<&str> {
        self.fence.dropped()
    }
}

/// What a run under the switch must be allowed in its namespace (deploy/watchdog.yaml's
/// chaosdeck-dead-man-switch Role): its Lease, and one mirror per entry.
pub fn run_permissions(
    switch: &crate::config::DeadManSwitch,
) -> Vec<crate::cluster::access::Permission> {
    use crate::cluster::access::Permission;
    let ns = Some(switch.namespace.as_str());
    let lease = |verb| Permission::on(verb, "coordination.k8s.io/v1", "Lease", ns);
    let mirror = |verb| Permission::on(verb, "v1", "ConfigMap", ns);
    let mut all: Vec<Permission> = ["create", "get", "update", "delete"].map(lease).into();
    all.extend(["create", "get", "list", "patch", "delete"].map(mirror));
    all
}

/// A run's dead man's switch, from the engine's side.
pub struct RunSwitch {
    pub armed: Armed,
    pub keeper: LeaseKeeper,
    /// Hears once what happened to the Lease (taken by whoever acts on it: read-only when it
    /// was lost, a rollback by the run when someone else tampered with it).
    pub news: Option<tokio::sync::mpsc::UnboundedReceiver<LeaseNews>>,
    /// On the unfenced client: after the fence dropped, reconcile still removes the mirrors the
    /// watchdog has finished with (no undo, so no race with it).
    pub reconcile_store: MirrorStore,
    pub lease_duration: std::time::Duration,
    /// The run's progress, encoded ([`progress`]): each renewal writes it on the Lease.
    pub progress: tokio::sync::watch::Sender<String>,
}

/// Arms the switch for `run_uuid`: checks that the cluster enforces who writes the switch's
/// objects (deploy/watchdog.yaml's policies; without them anyone could steer the watchdog, so
/// it would not act), learns who this client is, creates the run's Lease in that name (renewed
/// from now on) and returns the fenced client every change of the run must go through.
pub async fn arm(
    client: kube::Client,
    switch: &crate::config::DeadManSwitch,
    run_uuid: &str,
) -> Result<(RunSwitch, kube::Client), String> {
    let ops = crate::cluster::ClusterOps::new(client.clone());
    crate::journal::mirror_link::policy_enforced(&ops, &switch.namespace).await.map_err(|why| {
        format!(
            "dead man's switch: {why}. Apply deploy/watchdog.yaml (its policies make the \
             watchdog act only with the rights of whoever armed a run), or set \
             chaosdeck.dead_man_switch.enabled: false"
        )
    })?;
    let author =
        crate::cluster::whoami(&client).await.map_err(|e| format!("dead man's switch: {e}"))?;
    let fence = Fence::new();
    let (news_tx, news) = tokio::sync::mpsc::unbounded_channel();
    let (progress, progress_rx) = tokio::sync::watch::channel(String::new());
    let keeper = LeaseKeeper::acquire(
        client.clone(),
        switch,
        run_uuid,
        &author,
        fence.clone(),
        news_tx,
        progress_rx,
    )
    .await?;
    let fenced = crate::cluster::fenced(client.clone(), fence.clone());
    let run = RunSwitch {
        armed: Armed {
            store: MirrorStore::for_author(fenced.clone(), &switch.namespace, author),
            fence,
        },
        keeper,
        news: Some(news),
        reconcile_store: MirrorStore::new(client, &switch.namespace),
        lease_duration: std::time::Duration::from_secs(switch.lease_duration_secs),
        progress,
    };
    Ok((run, fenced))
}
