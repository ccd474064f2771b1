//! Generic object operations by apiVersion + kind, resolved through discovery once per kind.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{self, Scope};
use serde_json::Value;

use crate::refs::{ClusterIdentity, ObjectRef, object_ref_of};

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{target}: the cluster does not serve {api_version} {kind}: {source}")]
    Discovery { target: String, api_version: String, kind: String, source: kube::Error },
    #[error("{target}: {verb} failed: {message}")]
    Api { target: String, verb: &'static str, code: Option<u16>, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl OpError {
    pub fn code(&self) -> Option<u16> {
        match self {
            OpError::Api { code, .. } => *code,
            _ => None,
        }
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
    resources: Mutex<HashMap<(String, String), (ApiResource, bool)>>,
    identity: Option<ClusterIdentity>,
    /// The operator named this cluster as the target for entries made elsewhere.
    foreign_ok: bool,
}

impl ClusterOps {
    /// Operations on an unidentified cluster: admits every entry. For in-process callers that
    /// built the client themselves (tests, benches); the CLI, the TUI and the engine use
    /// [`ClusterOps::identified`].
    pub fn new(client: Client) -> Self {
        ClusterOps {
            client,
            resources: Mutex::new(HashMap::new()),
            identity: None,
            foreign_ok: false,
        }
    }

    /// Operations on the cluster `identity` describes. Entries made on another cluster (or on
    /// an unrecorded one) are refused unless `foreign_ok`: the operator named this cluster.
    pub fn identified(client: Client, identity: ClusterIdentity, foreign_ok: bool) -> Self {
        ClusterOps { identity: Some(identity), foreign_ok, ..ClusterOps::new(client) }
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
                let (resource, caps) =
                    discovery::pinned_kind(&self.client, &gvk).await.map_err(|source| {
                        OpError::Discovery {
                            target: target.display(),
                            api_version: target.api_version.clone(),
                            kind: target.kind.clone(),
                            source,
                        }
                    })?;
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
        api.get_opt(&target.name).await.map_err(|e| api_error(target, "get", e))
    }

    /// Deletes exactly the object with `uid`; NotFound and a uid mismatch are reported, not errors.
    pub async fn delete_exact(
        &self,
        target: &ObjectRef,
        uid: &str,
    ) -> Result<DeleteOutcome, OpError> {
        self.delete_with_grace(target, uid, None).await
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
            Err(kube::Error::Api(status)) if status.is_conflict() => Ok(DeleteOutcome::NotOurs(
                format!("{} now has another uid than {uid}", target.display()),
            )),
            Err(e) => Err(api_error(target, "delete", e)),
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
            .map_err(|e| api_error(target, "patch", e))
    }

    pub async fn merge_patch(
        &self,
        target: &ObjectRef,
        patch: &Value,
    ) -> Result<DynamicObject, OpError> {
        let api = self.api(target).await?;
        api.patch(&target.name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(|e| api_error(target, "patch", e))
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
            Err(e) => Err(api_error(&target, "create", e)),
        }
    }
}

fn gvk_of(api_version: &str, kind: &str) -> GroupVersionKind {
    match api_version.split_once('/') {
        Some((group, version)) => GroupVersionKind::gvk(group, version, kind),
        None => GroupVersionKind::gvk("", api_version, kind),
    }
}

fn api_error(target: &ObjectRef, verb: &'static str, e: kube::Error) -> OpError {
    let (code, message) = match &e {
        kube::Error::Api(status) => {
            (Some(status.code), format!("{} ({})", status.message, status.reason))
        }
        other => (None, other.to_string()),
    };
    OpError::Api { target: target.display(), verb, code, message }
}
