//! The link from an entry to its mirror in the cluster (the dead man's switch): whoever retires
//! or executes a mirrored entry removes the mirror too, so the watchdog never acts on a change
//! that is already undone.
//!
//! Owns: removing a mirror by the reference its entry carries, the author annotations, and
//! whether a mirror's "undone" can be believed (only where the API server enforces that only
//! the watchdog writes it). The mirror's format, and the watchdog that reads it, live in
//! `deadman`.

use crate::cluster::{ClusterOps, DeleteOutcome};

use super::entry::{MirrorRef, ObjectRef, UndoneBy};

/// Label every mirror carries (value [`MIRROR_LABEL_VALUE`]); nothing without it is removed.
pub const MIRROR_LABEL: &str = "chaosdeck.io/mirror";
pub const MIRROR_LABEL_VALUE: &str = "entry";
/// `pending`, `executed` or `failed`.
pub const STATE_LABEL: &str = "chaosdeck.io/state";
pub const UNDONE_BY_ANNOTATION: &str = "chaosdeck.io/undone-by";
pub const UNDONE_AT_ANNOTATION: &str = "chaosdeck.io/undone-at";
/// What the last attempt found (notes, or the error of a failed undo).
pub const OUTCOME_ANNOTATION: &str = "chaosdeck.io/outcome";

pub fn object_ref(mirror: &MirrorRef) -> ObjectRef {
    ObjectRef::new("v1", "ConfigMap", Some(&mirror.namespace), &mirror.name)
}

/// Annotation naming the identity that created a mirror or a run's Lease; the API server
/// checks it equals the creator and keeps it unchanged (deploy/watchdog.yaml's policies).
pub const AUTHOR_ANNOTATION: &str = "chaosdeck.io/author";
/// That identity's groups ([`crate::cluster::Caller::encoded_groups`]).
pub const AUTHOR_GROUPS_ANNOTATION: &str = "chaosdeck.io/author-groups";
/// The admission policies of deploy/watchdog.yaml share this name prefix; their denials say it.
pub const POLICY_NAME: &str = "chaosdeck-dead-man-switch";
/// An author no one is: what the probe claims to be.
const PROBE_AUTHOR: &str = "chaosdeck.io/policy-probe";

/// Whether the API server enforces deploy/watchdog.yaml's mirror policy in a namespace: then
/// only the watchdog can have recorded an outcome on a mirror, and only its creator can have
/// written its entry. Asked once, with a server-side dry run of a ConfigMap that names someone
/// else as its author: an enforcing server refuses it, citing the policy.
pub async fn policy_enforced(ops: &ClusterOps, namespace: &str) -> Result<(), String> {
    let labels = serde_json::json!({MIRROR_LABEL: MIRROR_LABEL_VALUE});
    probe(ops, namespace, ("v1", "ConfigMap", "mirror", "mirrors"), labels).await
}

/// Whether the API server enforces both of deploy/watchdog.yaml's policies in a namespace, the
/// Leases' as well as the mirrors': then the author a run's Lease names is the identity that
/// created it. Probed like [`policy_enforced`], with a Lease that names someone else.
pub async fn lease_and_mirror_policies_enforced(
    ops: &ClusterOps,
    namespace: &str,
) -> Result<(), String> {
    policy_enforced(ops, namespace).await?;
    lease_policy_enforced(ops, namespace).await
}

/// Whether the API server enforces deploy/watchdog.yaml's Lease policy in a namespace. The two
/// policies take effect independently (each a moment after it is applied), so whoever needs
/// both asks [`lease_and_mirror_policies_enforced`].
pub async fn lease_policy_enforced(ops: &ClusterOps, namespace: &str) -> Result<(), String> {
    let lease = ("coordination.k8s.io/v1", "Lease", "Lease", "leases");
    probe(ops, namespace, lease, serde_json::json!({})).await
}

/// A dry-run create of an object of `kind` naming [`PROBE_AUTHOR`]: `Ok` when the policy
/// `<POLICY_NAME>-<policy>` refuses it.
async fn probe(
    ops: &ClusterOps,
    namespace: &str,
    (api_version, kind, what, policy): (&str, &str, &str, &str),
    labels: serde_json::Value,
) -> Result<(), String> {
    let probe = serde_json::json!({
        "apiVersion": api_version, "kind": kind,
        "metadata": {"generateName": "chaosdeck-policy-probe-", "namespace": namespace,
            "labels": labels,
            "annotations": {AUTHOR_ANNOTATION: PROBE_AUTHOR, AUTHOR_GROUPS_ANNOTATION: ""}},
    });
    match ops.create_dry_run(&probe).await {
        Ok(()) => Err(format!(
            "the API server accepts a {what} in {namespace} whose author is not its creator: \
             deploy/watchdog.yaml's {POLICY_NAME} policies are not in force"
        )),
        // Not just the name: a user named after the policy could be refused for other reasons.
        Err(e)
            if e.to_string()
                .contains(&format!("ValidatingAdmissionPolicy '{POLICY_NAME}-{policy}'")) =>
        {
            Ok(())
        }
        Err(e) => Err(format!("cannot tell whether {POLICY_NAME} is in force: {e}")),
    }
}

/// Asks [`policy_enforced`] at most once, when first needed (an executor batch, a reconcile).
#[derive(Default)]
pub struct MirrorTrust {
    checked: tokio::sync::OnceCell<Result<(), String>>,
}

impl MirrorTrust {
    pub fn new() -> MirrorTrust {
        MirrorTrust::default()
    }

    /// `Ok` when outcomes on the mirrors in `namespace` can only be the watchdog's.
    pub async fn check(&self, ops: &ClusterOps, namespace: &str) -> Result<(), String> {
        self.checked.get_or_init(|| policy_enforced(ops, namespace)).await.clone()
    }
}

/// What a mirror says about its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorSays {
    /// Nothing to go on: no mirror, not a mirror, not executed, unreadable. The executor
    /// undoes the entry itself, which the guards make safe either way.
    Nothing,
    /// Undone by the watchdog, and only the watchdog can have recorded that.
    Undone(UndoneBy),
    /// It says undone, but the cluster does not enforce who may say so: not believed.
    Unverified { claimed: UndoneBy, why: String },
}

/// What the mirror of an entry says about it; an "undone" is believed only where only the
/// watchdog can have written it ([`MirrorTrust`]).
pub async fn undone_by(ops: &ClusterOps, trust: &MirrorTrust, mirror: &MirrorRef) -> MirrorSays {
    let Ok(Some(current)) = ops.get(&object_ref(mirror)).await else { return MirrorSays::Nothing };
    let labels = current.metadata.labels.clone().unwrap_or_default();
    if labels.get(MIRROR_LABEL).map(String::as_str) != Some(MIRROR_LABEL_VALUE)
        || labels.get(STATE_LABEL).map(String::as_str) != Some("executed")
    {
        return MirrorSays::Nothing;
    }
    let annotations = current.metadata.annotations.clone().unwrap_or_default();
    let (Some(by), Some(at)) =
        (annotations.get(UNDONE_BY_ANNOTATION), annotations.get(UNDONE_AT_ANNOTATION))
    else {
        return MirrorSays::Nothing;
    };
    let claimed = UndoneBy {
        by: printable(by),
        at: printable(at),
        notes: annotations.get(OUTCOME_ANNOTATION).map(|n| printable(n)).unwrap_or_default(),
    };
    match trust.check(ops, &mirror.namespace).await {
        Ok(()) => MirrorSays::Undone(claimed),
        Err(why) => MirrorSays::Unverified { claimed, why },
    }
}

fn printable(s: &str) -> String {
    crate::refs::printable(s).into_owned()
}

/// Removes the mirror of an entry that is done. Gone already is fine; an object of that name
/// without the mirror label is left alone. Best effort by design: a mirror left behind only
/// means the watchdog may replay an undo, which the entry's guards make harmless.
pub async fn retire(ops: &ClusterOps, mirror: &MirrorRef) -> Result<(), String> {
    let target = object_ref(mirror);
    let Some(current) = ops.get(&target).await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let labels = current.metadata.labels.clone().unwrap_or_default();
    if labels.get(MIRROR_LABEL).map(String::as_str) != Some(MIRROR_LABEL_VALUE) {
        return Err(format!(
            "{} does not carry {MIRROR_LABEL}={MIRROR_LABEL_VALUE}; not removed",
            target.display()
        ));
    }
    let uid = current.metadata.uid.clone().unwrap_or_default();
    match ops.delete_exact(&target, &uid).await.map_err(|e| e.to_string())? {
        DeleteOutcome::Deleted | DeleteOutcome::NotFound => Ok(()),
        DeleteOutcome::NotOurs(why) => Err(why),
    }
}
