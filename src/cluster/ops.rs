//! Generic object operations by apiVersion + kind, resolved through discovery once per kind.
//!
//! Errors say what went wrong where: a kind the cluster does not serve (discovery answered 404
//! or has no such kind) is not the same as a cluster that cannot be reached or refuses our
//! credentials; the latter name the server and the cause, and are counted so a caller working
//! through many objects can stop instead of waiting out one timeout per object.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{self, Scope};
use serde_json::Value;

use crate::refs::{ClusterIdentity, ObjectRef, ProtectedNamespaces, object_ref_of};

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{target}: the cluster does not serve {api_version} {kind}: {source}")]
    Discovery { target: String, api_version: String, kind: String, source: kube::Error },
    /// Transport (connection refused, DNS, TLS, timeout) or a server error answer.
    #[error("{target}: cannot reach the API server at {server}: {cause}")]
    Unreachable { target: String, server: String, cause: String },
    /// 401 or 403: the server is there but does not accept these credentials for this.
    #[error("{target}: not authorised by the API server at {server} (HTTP {code}): {cause}")]
    Unauthorized { target: String, server: String, code: u16, cause: String },
    #[error("{target}: {verb} failed: {message}")]
    Api { target: String, verb: &'static str, code: Option<u16>, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl OpError {
    pub fn code(&self) -> Option<u16> {
        match self {
            OpError::Api { code, .. } => *code,
            OpError::Unauthorized { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The cluster as a whole is out of reach for us (transport failure or 401): every other
    /// request would fail the same way.
    pub fn is_connection_failure(&self) -> bool {
        matches!(self, OpError::Unreachable { .. } | OpError::Unauthorized { code: 401, .. })
    }
}

/// What a guarded delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// Nothing was there (already deleted): the undo is done.
    NotFound,
    /// Something else now holds that name; it was left alone.
    NotOurs(String),
}

/// Generic cluster operations with a per-kind discovery cache, bound to one named cluster.
pub struct ClusterOps {
    client: Client,
    /// The API server URL, for error messages (the client does not expose it).
    server: String,
    resources: Mutex<HashMap<(String, String), (ApiResource, bool)>>,
    connection_failures: AtomicU64,
    identity: Option<ClusterIdentity>,
    /// The operator named this cluster as the target for entries made elsewhere.
    foreign_ok: bool,
    /// What undos through these operations stay out of (the journal's executor checks every
    /// action against it before sending anything).
    protected: ProtectedNamespaces,
}

impl ClusterOps {
    /// Operations on an unidentified cluster: admits every entry. For in-process callers that
    /// built the client themselves (tests, benches); the CLI, the TUI and the engine use
    /// [`ClusterOps::identified`].
    pub fn new(client: Client) -> Self {
        ClusterOps {
            client,
            server: "the configured server".into(),
            resources: Mutex::new(HashMap::new()),
            connection_failures: AtomicU64::new(0),
            identity: None,
            foreign_ok: false,
            protected: ProtectedNamespaces::default(),
        }
    }

    /// The protected namespaces of a config (`Config::protected`); the default is the
    /// built-in ones and the dead man's switch's namespace.
    pub fn with_protected(mut self, protected: ProtectedNamespaces) -> Self {
        self.protected = protected;
        self
    }

    pub fn protected(&self) -> &ProtectedNamespaces {
        &self.protected
    }

    /// Names the API server in errors (`ClusterTarget::server`).
    pub fn with_server(mut self, server: impl Into<String>) -> Self {
        self.server = server.into();
        self
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// How many requests so far failed because the cluster could not be reached (or refused
    /// our credentials); compare before and after a unit of work.
    pub fn connection_failures(&self) -> u64 {
        self.connection_failures.load(Ordering::Relaxed)
    }

    /// Classifies a kube error and counts connection failures (for the exec path).
    pub(super) fn op_error(
        &self,
        target: &ObjectRef,
        verb: &'static str,
        e: kube::Error,
    ) -> OpError {
        self.error(target, verb, e)
    }

    /// Classifies a kube error and counts connection failures.
    fn error(&self, target: &ObjectRef, verb: &'static str, e: kube::Error) -> OpError {
        let err = classify(&self.server, target, verb, e);
        if err.is_connection_failure() {
            self.connection_failures.fetch_add(1, Ordering::Relaxed);
        }
        err
    }

    /// Operations on the cluster `identity` describes (its server named in errors). Entries
    /// made on another cluster (or on an unrecorded one) are refused unless `foreign_ok`: the
    /// operator named this cluster.
    pub fn identified(client: Client, identity: ClusterIdentity, foreign_ok: bool) -> Self {
        let server = identity.server.clone();
        ClusterOps { identity: Some(identity), foreign_ok, ..ClusterOps::new(client) }
            .with_server(server)
    }

    pub fn identity(&self) -> Option<&ClusterIdentity> {
        self.identity.as_ref()
    }

    /// Whether an entry made on `made_on` may be executed here; the error names both clusters.
    pub fn admits(&self, made_on: Option<&ClusterIdentity>) -> Result<(), String> {
        let Some(here) = &self.identity else { return Ok(()) };
        if self.foreign_ok {
            return Ok(());
        }
        match made_on {
            Some(there) if there.same_cluster(here) => Ok(()),
            Some(there) => Err(format!(
                "made on another cluster ({}); this is {}. Not executed: pass \
                 --cluster-mismatch-ok {} to execute it here anyway",
                there.describe(),
                here.describe(),
                here.context
            )),
            None => Err(format!(
                "the entry does not record its cluster (Krkn's entries never do); name this one \
                 ({}) with --cluster-mismatch-ok {} to execute it here",
                here.describe(),
                here.context
            )),
        }
    }

    /// For the scenario context's typed reads only; changes go through the verbs below.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    async fn api(&self, target: &ObjectRef) -> Result<Api<DynamicObject>, OpError> {
        let key = (target.api_version.clone(), target.kind.clone());
        let cached = self.resources.lock().ok().and_then(|m| m.get(&key).cloned());
        let (resource, namespaced) = match cached {
            Some(found) => found,
            None => {
                let gvk = gvk_of(&target.api_version, &target.kind);
                let (resource, caps) = match discovery::pinned_kind(&self.client, &gvk).await {
                    Ok(found) => found,
                    // 404 for the group/version, or the version served without this kind.
                    Err(source @ (kube::Error::Discovery(_) | kube::Error::Api(_)))
                        if not_served(&source) =>
                    {
                        return Err(OpError::Discovery {
                            target: target.display(),
                            api_version: target.api_version.clone(),
                            kind: target.kind.clone(),
                            source,
                        });
                    }
                    Err(e) => return Err(self.error(target, "discover", e)),
                };
                let namespaced = caps.scope == Scope::Namespaced;
                if let Ok(mut m) = self.resources.lock() {
                    m.insert(key, (resource.clone(), namespaced));
                }
                (resource, namespaced)
            }
        };
        match (&target.namespace, namespaced) {
            (Some(ns), true) => Ok(Api::namespaced_with(self.client.clone(), ns, &resource)),
            (None, false) => Ok(Api::all_with(self.client.clone(), &resource)),
            (None, true) => Err(OpError::Invalid(format!(
                "{}: {} is namespaced but no namespace is given",
                target.display(),
                target.kind
            ))),
            (Some(_), false) => Err(OpError::Invalid(format!(
                "{}: {} is cluster-scoped but a namespace is given",
                target.display(),
                target.kind
            ))),
        }
    }

    pub async fn get(&self, target: &ObjectRef) -> Result<Option<DynamicObject>, OpError> {
        let api = self.api(target).await?;
        api.get_opt(&target.name).await.map_err(|e| self.error(target, "get", e))
    }

    /// Every object of a kind in `namespace` (or cluster-wide for cluster-scoped kinds).
    pub async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<DynamicObject>, OpError> {
        let target = ObjectRef::new(api_version, kind, namespace, "");
        let api = self.api(&target).await?;
        api.list(&kube::api::ListParams::default())
            .await
            .map(|list| list.items)
            .map_err(|e| self.error(&target, "list", e))
    }

    /// Deletes exactly the object with `uid`; NotFound and a uid mismatch are reported, not errors.
    pub async fn delete_exact(
        &self,
        target: &ObjectRef,
        uid: &str,
    ) -> Result<DeleteOutcome, OpError> {
        self.delete_with_grace(target, uid, None).await
    }

    /// Deletes whatever object holds `target`'s name: for undos that carry no identity to
    /// check (Krkn's files name the object only).
    pub async fn delete_named(&self, target: &ObjectRef) -> Result<DeleteOutcome, OpError> {
        let api = self.api(target).await?;
        match api.delete(&target.name, &DeleteParams::default()).await {
            Ok(_) => Ok(DeleteOutcome::Deleted),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(DeleteOutcome::NotFound),
            Err(e) => Err(self.error(target, "delete", e)),
        }
    }

    /// Deletes exactly the object with `uid`, with an optional grace period.
    pub async fn delete_with_grace(
        &self,
        target: &ObjectRef,
        uid: &str,
        grace: Option<i64>,
    ) -> Result<DeleteOutcome, OpError> {
        let api = self.api(target).await?;
        let params = DeleteParams {
            grace_period_seconds: grace.and_then(|g| u32::try_from(g).ok()),
            preconditions: Some(Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&target.name, &params).await {
            Ok(_) => Ok(DeleteOutcome::Deleted),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(DeleteOutcome::NotFound),
            Err(kube::Error::Api(status)) if status.is_conflict() => {
                Ok(DeleteOutcome::NotOurs(not_ours(target, uid)))
            }
            Err(e) => Err(self.error(target, "delete", e)),
        }
    }

    /// Applies an RFC 6902 JSON patch (its `test` operations make it conditional server-side).
    pub async fn json_patch(
        &self,
        target: &ObjectRef,
        patch: json_patch::Patch,
    ) -> Result<DynamicObject, OpError> {
        let api = self.api(target).await?;
        api.patch(&target.name, &PatchParams::default(), &Patch::<()>::Json(patch))
            .await
            .map_err(|e| self.error(target, "patch", e))
    }

    pub async fn merge_patch(
        &self,
        target: &ObjectRef,
        patch: &Value,
    ) -> Result<DynamicObject, OpError> {
        let api = self.api(target).await?;
        api.patch(&target.name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(|e| self.error(target, "patch", e))
    }

    /// Asks the API server to create `object` without storing it (`dryRun=All`): admission
    /// runs as for a real create, so its answer says what admission would do.
    pub async fn create_dry_run(&self, object: &Value) -> Result<(), OpError> {
        let target = object_ref_of(object);
        let api = self.api(&target).await?;
        let dynamic: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| OpError::Invalid(format!("{}: not an object: {e}", target.display())))?;
        let params = PostParams { dry_run: true, ..PostParams::default() };
        api.create(&params, &dynamic)
            .await
            .map(|_| ())
            .map_err(|e| self.error(&target, "create", e))
    }

    /// Creates `object`; `Ok(None)` when an object of that name already exists.
    pub async fn create(&self, object: &Value) -> Result<Option<DynamicObject>, OpError> {
        let target = object_ref_of(object);
        let api = self.api(&target).await?;
        let dynamic: DynamicObject = serde_json::from_value(object.clone()).map_err(|e| {
            OpError::Invalid(format!(
                "{}: the snapshot is not a Kubernetes object: {e}",
                target.display()
            ))
        })?;
        match api.create(&PostParams::default(), &dynamic).await {
            Ok(created) => Ok(Some(created)),
            Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(None),
            Err(e) => Err(self.error(&target, "create", e)),
        }
    }
}

/// Why a uid-guarded delete left the object alone. The uid the server found is not repeated:
/// it names an object whoever reads the message may not be allowed to read.
fn not_ours(target: &ObjectRef, ours: &str) -> String {
    format!("{} is another object now (not uid {ours})", target.display())
}

fn gvk_of(api_version: &str, kind: &str) -> GroupVersionKind {
    match api_version.split_once('/') {
        Some((group, version)) => GroupVersionKind::gvk(group, version, kind),
        None => GroupVersionKind::gvk("", api_version, kind),
    }
}

/// Discovery's own verdict that the kind is not there (as opposed to not getting an answer).
fn not_served(e: &kube::Error) -> bool {
    match e {
        kube::Error::Discovery(_) => true,
        kube::Error::Api(status) => status.code == 404,
        _ => false,
    }
}

/// API answers stay API errors (with their code); transport failures, 5xx and 401/403 say
/// which server and why.
fn classify(server: &str, target: &ObjectRef, verb: &'static str, e: kube::Error) -> OpError {
    // The server's words (and what a request echoed back) reach terminals, logs and files.
    let e = match e {
        kube::Error::Api(mut status) => {
            status.message = crate::refs::printable(&status.message).into_owned();
            kube::Error::Api(status)
        }
        other => other,
    };
    match &e {
        kube::Error::Api(status) if status.code == 401 || status.code == 403 => {
            OpError::Unauthorized {
                target: target.display(),
                server: server.into(),
                code: status.code,
                cause: format!("{} ({})", status.message, status.reason),
            }
        }
        kube::Error::Api(status) if status.code >= 500 => OpError::Unreachable {
            target: target.display(),
            server: server.into(),
            cause: format!(
                "HTTP {} to {verb}: {} ({})",
                status.code, status.message, status.reason
            ),
        },
        kube::Error::Api(status) => OpError::Api {
            target: target.display(),
            verb,
            code: Some(status.code),
            message: format!("{} ({})", status.message, status.reason),
        },
        // Deserializing a 2xx answer, building a request: the server is there.
        kube::Error::SerdeError(_) | kube::Error::BuildRequest(_) | kube::Error::FromUtf8(_) => {
            OpError::Api { target: target.display(), verb, code: None, message: e.to_string() }
        }
        // Refused inside this process (dry run, read-only after the lease was lost): never
        // sent, and the cluster is not unreachable.
        _ if refused_locally(&e).is_some() => OpError::Invalid(format!(
            "{}: {}",
            target.display(),
            refused_locally(&e).unwrap_or_default()
        )),
        _ => OpError::Unreachable {
            target: target.display(),
            server: server.into(),
            cause: cause_chain(&e),
        },
    }
}

/// The message of a guard that refused the request before it left the process.
fn refused_locally(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(fence) = err.downcast_ref::<super::write_fence::FenceDown>() {
            return Some(fence.to_string());
        }
        if let Some(dry) = err.downcast_ref::<super::write_fence::DryRunRefused>() {
            return Some(dry.to_string());
        }
        current = err.source();
    }
    None
}

/// Every cause in the chain, once each, led by the plain reason when it is a refused
/// connection (the one an operator acts on: the API server is not listening there).
fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut refused = false;
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    let chain = parts.join(": ");
    if refused { format!("connection refused ({chain})") } else { chain }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uid_mismatch_names_our_uid_only() {
        let cm = ObjectRef::new("v1", "ConfigMap", Some("default"), "a");
        assert_eq!(
            not_ours(&cm, "u-ours"),
            "ConfigMap default/a is another object now (not uid u-ours)"
        );
    }
}
