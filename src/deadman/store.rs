//! Reading and writing mirrors, and the Events that say what the watchdog did, in the dead
//! man's switch namespace.

use k8s_openapi::api::core::v1::{ConfigMap, Event, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};

use crate::cluster::Caller;
use crate::journal::WrittenEntry;
use crate::journal::mirror_link::{MIRROR_LABEL, MIRROR_LABEL_VALUE};

use super::mirror::{self, Mirror, MirrorState};

/// The field manager chaosdeck's own bookkeeping writes under.
pub const FIELD_MANAGER: &str = "chaosdeck";

#[derive(Clone)]
pub struct MirrorStore {
    namespace: String,
    configmaps: Api<ConfigMap>,
    events: Api<Event>,
    /// Who writes new mirrors (a run's store; `None` for readers, which write none).
    author: Option<Caller>,
}

/// What recording an outcome on a mirror came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Recorded,
    /// Someone else changed the mirror first (another watchdog recorded it, or the operator
    /// retired it); nothing was written.
    Superseded,
}

impl MirrorStore {
    pub fn new(client: Client, namespace: &str) -> MirrorStore {
        MirrorStore {
            namespace: namespace.to_string(),
            configmaps: Api::namespaced(client.clone(), namespace),
            events: Api::namespaced(client, namespace),
            author: None,
        }
    }

    /// A store that writes mirrors as `author`, the identity the client authenticates as.
    pub fn for_author(client: Client, namespace: &str, author: Caller) -> MirrorStore {
        MirrorStore { author: Some(author), ..MirrorStore::new(client, namespace) }
    }

    fn author(&self) -> Result<&Caller, String> {
        self.author.as_ref().ok_or_else(|| "internal: this mirror store writes no mirrors".into())
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Whether only the watchdog can have recorded an outcome on the mirrors here
    /// ([`crate::journal::mirror_link::policy_enforced`]).
    pub async fn policy_enforced(&self) -> Result<(), String> {
        let ops = crate::cluster::ClusterOps::new(self.configmaps.clone().into_client());
        crate::journal::mirror_link::policy_enforced(&ops, &self.namespace).await
    }

    /// Writes the mirror of a freshly written entry. The caller makes the change only after
    /// this succeeded.
    pub async fn create(&self, written: &WrittenEntry) -> Result<(), String> {
        let cm = mirror::build(written, self.author()?)?;
        self.configmaps.create(&PostParams::default(), &cm).await.map_err(|e| {
            format!(
                "cannot write the mirror configmap/{} in namespace {}: {}",
                cm.metadata.name.as_deref().unwrap_or_default(),
                self.namespace,
                api_error(&e)
            )
        })?;
        Ok(())
    }

    /// Replaces the entry text of a pending mirror (the entry was amended, e.g. with a uid).
    pub async fn update_entry(&self, written: &WrittenEntry) -> Result<(), String> {
        let cm = mirror::build(written, self.author()?)?;
        let name = cm.metadata.name.clone().unwrap_or_default();
        let patch = serde_json::json!({"data": cm.data});
        self.configmaps
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| format!("cannot update the mirror configmap/{name}: {}", api_error(&e)))?;
        Ok(())
    }

    /// Every ConfigMap labelled as a mirror (good or bad: [`mirror::read`] tells).
    pub async fn list(&self) -> Result<Vec<ConfigMap>, String> {
        let params = ListParams::default().labels(&format!("{MIRROR_LABEL}={MIRROR_LABEL_VALUE}"));
        self.configmaps.list(&params).await.map(|l| l.items).map_err(|e| {
            format!("cannot list the mirrors in namespace {}: {}", self.namespace, api_error(&e))
        })
    }

    pub async fn get(&self, name: &str) -> Result<Option<ConfigMap>, String> {
        self.configmaps
            .get_opt(name)
            .await
            .map_err(|e| format!("cannot read the mirror configmap/{name}: {}", api_error(&e)))
    }

    /// Records an attempt's outcome on the version of the mirror that was read: a conflict
    /// means another writer got there first.
    pub async fn record(
        &self,
        read: &ConfigMap,
        state: MirrorState,
        by: &str,
        outcome: &str,
    ) -> Result<Recorded, String> {
        let name = read.metadata.name.clone().unwrap_or_default();
        let at = jiff::Timestamp::now().to_string();
        let updated = mirror::with_outcome(read, state, by, &at, outcome);
        match self.configmaps.replace(&name, &PostParams::default(), &updated).await {
            Ok(_) => Ok(Recorded::Recorded),
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(Recorded::Superseded),
            Err(e) => {
                Err(format!("cannot record on the mirror configmap/{name}: {}", api_error(&e)))
            }
        }
    }

    /// Removes a mirror reconcile has brought home (exact object: uid precondition).
    pub async fn remove(&self, mirror: &Mirror) -> Result<(), String> {
        let params = DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: Some(mirror.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self.configmaps.delete(&mirror.name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(format!(
                "cannot remove the mirror configmap/{}: {}",
                mirror.name,
                api_error(&e)
            )),
        }
    }

    /// A Kubernetes Event about a mirror, so `kubectl get events -n <ns>` shows what the
    /// watchdog did. Best effort: an Event that cannot be written is not worth failing for.
    pub async fn event(&self, about: &ObjectMeta, warning: bool, reason: &str, message: &str) {
        let name = about.name.clone().unwrap_or_default();
        let now = jiff::Timestamp::now();
        let stamp = k8s_openapi::jiff::Timestamp::from_nanosecond(now.as_nanosecond())
            .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{name}.")),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("ConfigMap".into()),
                name: Some(name),
                namespace: Some(self.namespace.clone()),
                uid: about.uid.clone(),
                resource_version: about.resource_version.clone(),
                ..ObjectReference::default()
            },
            reason: Some(reason.to_string()),
            message: Some(crate::refs::printable(message).chars().take(1024).collect()),
            type_: Some(if warning { "Warning" } else { "Normal" }.into()),
            first_timestamp: Some(Time(stamp)),
            last_timestamp: Some(Time(stamp)),
            event_time: Some(MicroTime(stamp)),
            count: Some(1),
            reporting_component: Some("chaosdeck-watchdog".into()),
            reporting_instance: Some(hostname_or_unknown()),
            action: Some(reason.to_string()),
            ..Event::default()
        };
        let _ = self.events.create(&PostParams::default(), &event).await;
    }
}

fn hostname_or_unknown() -> String {
    hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown".into())
}

/// The server's message for an API error, the transport's for the rest.
pub fn api_error(e: &kube::Error) -> String {
    let text = match e {
        kube::Error::Api(s) => format!("HTTP {}: {} ({})", s.code, s.message, s.reason),
        other => other.to_string(),
    };
    crate::refs::printable(&text).into_owned()
}
