//! The embedded Kubernetes API emulator ("the sandbox").
//!
//! Owns: an in-process HTTP server that speaks enough of the Kubernetes API for kube-rs and
//! kubectl (discovery, CRUD, watch, selectors, Status errors, scale/eviction/status/log
//! subresources, a synthetic service proxy), an in-memory object store, mini-controllers
//! that make it behave like a cluster, the seeds it starts from, and the kubeconfig that
//! points at it.
//!
//! Security: it listens on 127.0.0.1 only, over plain HTTP, with **no authentication or
//! authorization**. Anything on the machine can talk to it; that is fine for a throwaway demo
//! and test cluster and would not be anywhere else. A bearer token names the user it stands
//! for ([`identity`]), so what depends on who asks — `SelfSubjectReview` and the dead man's
//! switch policies of deploy/watchdog.yaml, built in ([`switch_policy`]) — answers as a real
//! API server does for that identity; nothing else is refused to anyone.
//!
//! Using it: `chaosdeck sandbox` writes a kubeconfig whose cluster, user and context are all
//! [`SANDBOX_CONTEXT`]; point chaosdeck's config (or `kubectl --kubeconfig`) at that file.
//! In-process, [`Sandbox::start`] then [`Sandbox::client`] (over a loopback socket) or
//! `kube::Client::new(sandbox.router(), "default")` (no socket at all).
//!
//! Differences from a real API server worth knowing. `tests/conformance` runs the same
//! interactions against the sandbox and a real kube-apiserver (`scripts/realcluster`) and pins
//! each of these by name (`KNOWN_DIFFERENCES`); everything else it covers answers alike:
//! - OpenAPI is minimal: `/openapi/v3` lists each group-version's PATCH operations with the
//!   `fieldValidation` parameter, which is what `kubectl apply|create -f` (validation on by
//!   default) looks for before leaving validation to the server; there are no schemas and no
//!   `/openapi/v2`, so `kubectl explain` does not work, and unknown fields are not refused
//!   (`fieldValidation=Strict` is ignored; `kubectl_apply_unknown_field`).
//! - Validation covers names, labels, Pod containers (name, image, duplicates) and
//!   restartPolicy, NetworkPolicy policyTypes, ports and CIDRs, Deployment/ReplicaSet selectors
//!   and replicas; not every rule of the API server, and only the first error is reported.
//! - Responses are always JSON. Protobuf request bodies (kubectl's typed `create` commands,
//!   `run`, `drain`) are decoded for the fields those commands set; see [`protobuf`].
//! - Foreground and orphan deletion complete in the same step: the answer is the object
//!   without a `deletionTimestamp` or `foregroundDeletion`/`orphan` finalizer, and dependents
//!   are gone (or released) at once (`cascade_foreground`, `cascade_orphan`).
//! - The garbage collector only follows deletions: an object created with an ownerReference to
//!   an owner that does not exist stays (`owner_reference_to_missing_owner_is_collected`).
//! - Server-side apply is a JSON merge patch without field ownership: fields a manager stops
//!   applying stay, and two managers never conflict (`apply_updates_and_removes_owned_fields`,
//!   `apply_conflict_between_managers_is_409`).
//! - A failed uid precondition on delete says `Precondition failed: UID in precondition: A,
//!   UID in object meta: B` (chaosdeck's journal executor reads the uid found from it); a real
//!   server says `the UID in the precondition (A) does not match the UID in record (B)...`
//!   (`delete_uid_precondition_mismatch_is_409`).
//! - No `kube-root-ca.crt` ConfigMap (nor `default` ServiceAccount) appears in new namespaces
//!   (`namespace_gets_kube_root_ca`).
//! - Paged lists (`limit`/`continue`) are not one snapshot: each page reads the store as it is
//!   then, from the key after the last one returned (objects created ahead of the walk show
//!   up, ones behind it do not, none repeats). Continue tokens never expire, a malformed one
//!   is refused with other words (`list_bad_continue_is_400`), and `remainingItemCount` is
//!   only set on lists without selectors, as on a real server.
//! - Lists are always of the current state: `resourceVersionMatch=Exact` with an older
//!   resourceVersion answers the objects as they are now
//!   (`list_exact_old_resource_version_is_410`).
//! - Watches replay from an in-memory history (the last 50,000 changes; [`Store::compact`]
//!   forgets it, as an etcd compaction would). A watch from before it gets an ERROR event with
//!   a 410 Expired Status, while a real server's watch cache keeps serving its recent window
//!   after an etcd compaction and, for very old versions, replays the state it started from
//!   (`watch_after_compaction_is_410`, `watch_after_compaction_from_the_start_is_410`,
//!   `watch_after_compaction_with_kube_rs`).
//! - Tables (`kubectl get`) have the API server's columns for the served kinds, with simpler
//!   cell logic (a pod's STATUS is its phase or reason, RESTARTS has no "(5m ago)"), and the
//!   column descriptions only for the pod columns, Name and Age.
//! - `kubectl get pods -A` over a big cluster is slow against any server, this one included:
//!   kubectl pages by 500 through a client-side rate limiter of 5 requests a second (after a
//!   burst of 10), so 150,000 pods (300 pages) take about a minute whatever each page costs
//!   (measured alike against kube-apiserver v1.36).
//! - `pods/log` is a synthetic line; attach and port-forward are not served.
//! - StatefulSets and DaemonSets are stored and served (create, read, update, delete, watch,
//!   status); no controller creates their pods, so their status stays as written.
//! - `pods/exec` is served over WebSocket only (`v5`/`v4.channel.k8s.io`; kubectl falls back
//!   to SPDY only when that upgrade is refused) and runs a handful of programs against a model
//!   of the container's files: one filesystem per root, emptyDir and claim, sized like the real
//!   thing, so `df` tells the truth and a fill shows; a signal to PID 1 restarts the container
//!   through the kubelet's transitions ([`exec`], [`controllers::restarts`]).
//! - PersistentVolumeClaims are bound at once to a volume named `pvc-<uid>` of the requested
//!   size (as a dynamic provisioner in Immediate mode would), and PersistentVolumes are not
//!   served; the test bed's control plane has no provisioner, so a claim stays Pending there
//!   (`persistent_volume_claims_apply_and_bind_with_their_requested_size`). Creating one, and
//!   its two required-field errors, answer as a real server does (`pvc_*` in the conformance
//!   suite).
//! - The service proxy (`/api/v1/namespaces/{ns}/services/[scheme:]{name}[:{port}]/proxy/…`,
//!   any method) is a **simulation for health checks**, not Kubernetes semantics: no process
//!   answers, so the sandbox answers from the simulated state — `200` with a line of text
//!   while the Service has a Ready pod its selector picks that is not selected by a NetworkPolicy
//!   with `Ingress` isolation and no ingress rule (what an application outage creates; real
//!   policies are additive and the API server's own traffic may be allowed), and that does not
//!   carry the `service-hijacking` label; a `503` `ServiceUnavailable` Status otherwise, also
//!   for a port the Service does not have; `404` for a Service that does not exist. A real
//!   API server forwards to a pod; against kwok nothing answers there, so this behaviour is
//!   sandbox-only (`tests/sandbox_proxy.rs`).
//! - kube-rs retries 429 by default (`Config::default_retry`), so an eviction a PDB refuses is
//!   retried by the client until it succeeds or the retries run out.
//!
//! Must not touch: the journal, the engine, the user's own kubeconfig, or any real cluster.

pub mod admission;
pub mod command;
pub mod controllers;
pub mod discovery;
pub mod dns_names;
pub mod exec;
pub mod handlers;
pub mod identity;
pub mod kubeconfig;
pub mod meta;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod requests;
pub mod resources;
pub mod response;
pub mod seed;
pub mod selectors;
pub mod status;
pub mod store;
pub mod switch_policy;
pub mod throttle;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use store::Store;

/// Name of the kubeconfig cluster, user and context the sandbox writes.
pub const SANDBOX_CONTEXT: &str = "chaosdeck-sandbox";

/// Bounds of a scale seed: ten times the scale the benches use, well inside one machine's
/// memory (pods cost about 1.4 KiB each).
pub const MAX_SEED_NODES: usize = 50_000;
pub const MAX_SEED_PODS: usize = 1_500_000;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "bad seed {0:?}: expected demo, empty or scale:NODES:PODS (1 to {MAX_SEED_NODES} nodes, \
         0 to {MAX_SEED_PODS} pods)"
    )]
    BadSeed(String),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("cannot seed the sandbox: {0}")]
    Seed(status::ApiError),
    #[error("cannot build a kube client for {url}: {reason}")]
    Client { url: String, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    Demo,
    Empty,
    Scale { nodes: usize, pods: usize },
}

impl FromStr for Seed {
    type Err = SandboxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SandboxError::BadSeed(s.to_string());
        match s {
            "demo" => Ok(Seed::Demo),
            "empty" => Ok(Seed::Empty),
            _ => {
                let rest = s.strip_prefix("scale:").ok_or_else(bad)?;
                let (nodes, pods) = rest.split_once(':').ok_or_else(bad)?;
                let nodes: usize = nodes.parse().map_err(|_| bad())?;
                let pods: usize = pods.parse().map_err(|_| bad())?;
                if nodes == 0 || nodes > MAX_SEED_NODES || pods > MAX_SEED_PODS {
                    return Err(bad());
                }
                Ok(Seed::Scale { nodes, pods })
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub port: u16,
    pub seed: Seed,
    /// How long a scheduled pod stays Pending before it is Running and Ready.
    pub pod_ready_delay: Duration,
    /// Keep a record of every request served ([`Sandbox::requests`]).
    pub record_requests: bool,
    /// Delay every response, like a cluster far away.
    pub latency: Option<throttle::Latency>,
    /// Answer 429 with `Retry-After` past this many requests in flight (watches not counted).
    pub max_inflight: Option<usize>,
    /// Enforce the dead man's switch policies in `chaosdeck-system`, as a cluster where
    /// deploy/watchdog.yaml was applied does ([`switch_policy`]).
    pub switch_policy: bool,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            port: 0,
            seed: Seed::Demo,
            pod_ready_delay: Duration::from_millis(200),
            record_requests: false,
            latency: None,
            max_inflight: None,
            switch_policy: true,
        }
    }
}

pub struct Sandbox {
    addr: SocketAddr,
    store: Arc<Store>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    requests: Option<requests::RequestLog>,
    throttle: throttle::Throttle,
    switch_policy: Arc<std::sync::atomic::AtomicBool>,
    filesystems: Arc<exec::Filesystems>,
    netfilter: Arc<exec::NetFilter>,
}

impl Sandbox {
    /// Seeds the store, binds 127.0.0.1:`port`, and spawns the server and controllers on the
    /// current tokio runtime.
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, opts.port))
            .await
            .map_err(|source| SandboxError::Bind { port: opts.port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { port: opts.port, source })?;
        let store = Arc::new(Store::new());
        seed::apply(&store, opts.seed).map_err(SandboxError::Seed)?;
        let shutdown = CancellationToken::new();
        let switch_policy = Arc::new(std::sync::atomic::AtomicBool::new(opts.switch_policy));
        let filesystems = Arc::new(exec::Filesystems::default());
        let netfilter = Arc::new(exec::NetFilter::default());
        let state = handlers::AppState {
            store: store.clone(),
            shutdown: shutdown.clone(),
            switch_policy: switch_policy.clone(),
            filesystems: filesystems.clone(),
            netfilter: netfilter.clone(),
        };
        let requests = opts.record_requests.then(requests::RequestLog::default);
        let mut app = handlers::router(state);
        let throttle = throttle::Throttle::new(opts.latency, opts.max_inflight);
        if throttle.is_active() {
            app = app
                .layer(axum::middleware::from_fn_with_state(throttle.clone(), throttle::throttle));
        }
        // Outermost, so that shed requests are recorded too.
        if let Some(log) = &requests {
            app = app.layer(axum::middleware::from_fn_with_state(log.clone(), requests::record));
        }
        let stop = shutdown.clone();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!("sandbox server stopped: {e}");
            }
        });
        let mut tasks = vec![server];
        tasks.extend(controllers::spawn(store.clone(), &opts, shutdown.clone()));
        Ok(Sandbox {
            addr,
            store,
            shutdown,
            tasks,
            requests,
            throttle,
            switch_policy,
            filesystems,
            netfilter,
        })
    }

    /// Waits (at most `limit`) until every Deployment reports as many ready replicas as it
    /// wants: a fresh demo cluster is then what a game day expects to start from (health
    /// checks green before the first chaos). Returns whether it settled.
    pub async fn wait_settled(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let (deployments, _) = self.store.list(resources::DEPLOYMENTS, None);
            let settled = deployments.iter().all(|d| {
                let want = meta::i64_at(d, &["spec", "replicas"]).unwrap_or(1);
                meta::i64_at(d, &["status", "readyReplicas"]).unwrap_or(0) >= want
            });
            if settled {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many requests `max_inflight` has answered 429 so far.
    pub fn shed_requests(&self) -> u64 {
        self.throttle.shed()
    }

    /// Every request served so far, oldest first; empty unless `record_requests` was set.
    pub fn requests(&self) -> Vec<requests::RecordedRequest> {
        self.requests.as_ref().map(requests::RequestLog::snapshot).unwrap_or_default()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The object store, for tests and in-process callers that want to look behind the API.
    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// The HTTP router, to serve in-process without a socket (`kube::Client::new(router, ns)`).
    pub fn router(&self) -> axum::Router {
        handlers::router(handlers::AppState {
            store: self.store.clone(),
            shutdown: self.shutdown.clone(),
            switch_policy: self.switch_policy.clone(),
            filesystems: self.filesystems.clone(),
            netfilter: self.netfilter.clone(),
        })
    }

    /// The helper pods' faults in force now, as `iptables -S` and `tc qdisc show` print them
    /// (for tests that check nothing is left behind).
    pub fn helper_rules(&self) -> Vec<String> {
        self.netfilter.in_force(&self.store).iter().flat_map(|h| h.lines()).collect()
    }

    /// Turns the built-in dead man's switch policies on or off from now on (as an admin
    /// applying or deleting deploy/watchdog.yaml's policy bindings would).
    pub fn enforce_switch_policy(&self, on: bool) {
        self.switch_policy.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig::yaml(&self.url())
    }

    /// Writes the kubeconfig with mode 0600, creating parent directories.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        kubeconfig::write(path, &self.kubeconfig_yaml())
    }

    /// [`Sandbox::write_kubeconfig`] for `user` ([`identity`]: its token names it).
    pub fn write_kubeconfig_as(&self, path: &Path, user: &str) -> std::io::Result<()> {
        kubeconfig::write(path, &kubeconfig::yaml_for(&self.url(), Some(user)))
    }

    /// A kube client for this sandbox (default namespace "default"). Like any kube client it
    /// must be built inside a tokio runtime. Note that kube-rs retries 429s on its own
    /// (`Config::default_retry`), including evictions a PDB refuses.
    pub fn client(&self) -> Result<kube::Client, SandboxError> {
        self.client_with(None)
    }

    /// [`Sandbox::client`] as `user` (its bearer token names it; see [`identity`]).
    pub fn client_as(&self, user: &str) -> Result<kube::Client, SandboxError> {
        self.client_with(Some(user))
    }

    fn client_with(&self, user: Option<&str>) -> Result<kube::Client, SandboxError> {
        let url = self.url();
        let uri = url
            .parse::<axum::http::Uri>()
            .map_err(|e| SandboxError::Client { url: url.clone(), reason: e.to_string() })?;
        let mut config = kube::Config::new(uri);
        if let Some(user) = user {
            config.auth_info.token = Some(user.to_string().into());
        }
        kube::Client::try_from(config)
            .map_err(|e| SandboxError::Client { url, reason: e.to_string() })
    }

    /// Stops controllers, ends open watches and waits for the server to finish.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Dropping without `shutdown()` (a failing test) must still stop the background tasks.
        self.shutdown.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_seeds_are_bounded_with_the_bounds_in_the_error() {
        assert!(matches!("scale:3:10".parse::<Seed>(), Ok(Seed::Scale { nodes: 3, pods: 10 })));
        for bad in ["scale:0:1", "scale:18446744073709551615:1", "scale:1:1500001", "scale:50001:0"]
        {
            let err = bad.parse::<Seed>().expect_err(bad).to_string();
            assert!(err.contains("1 to 50000 nodes, 0 to 1500000 pods"), "{bad}: {err}");
        }
    }
}
