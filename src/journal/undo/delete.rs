//! The undo of a create: delete exactly the object chaosdeck created — by its uid when known,
//! otherwise only while it carries the labels the entry requires; a same-named stranger is
//! left alone.

use std::collections::BTreeMap;

use super::written_by::Author;
use crate::cluster::{ClusterOps, DeleteOutcome};
use crate::journal::shell::resource_arg;
use crate::refs::ObjectRef;

/// The label every object chaosdeck creates carries: the id of its entry.
pub const ENTRY_LABEL: &str = "chaosdeck.io/entry";

pub(super) fn summary(target: &ObjectRef) -> String {
    format!("delete {}", target.display())
}

pub(super) fn left_as_is(target: &ObjectRef) -> String {
    format!("the {} stays in the cluster", target.display())
}

/// A delete chaosdeck wrote must name the object exactly (uid or entry label); Krkn's files
/// name objects only, and are judged by kind and namespace alone.
pub(super) fn admit(
    target: &ObjectRef,
    uid: &Option<String>,
    require_labels: &BTreeMap<String, String>,
    author: Author,
) -> Result<(), String> {
    let pinned = uid.as_deref().is_some_and(|u| !u.is_empty())
        || require_labels.get(ENTRY_LABEL).is_some_and(|v| !v.is_empty());
    if !pinned && author == Author::Chaosdeck {
        return Err(format!(
            "the delete of {} names neither the uid of the object chaos created nor its \
             {ENTRY_LABEL} label, so it could delete someone else's object",
            target.display()
        ));
    }
    Ok(())
}

pub(super) async fn apply(
    ops: &ClusterOps,
    target: &ObjectRef,
    uid: &Option<String>,
    require_labels: &BTreeMap<String, String>,
) -> Result<Option<String>, String> {
    // The uid names exactly the object chaosdeck created, so one DELETE carrying it as a
    // precondition is the whole undo: the API server answers 404 (already gone) or 409
    // (another object holds the name now). `require_labels` only stands in for the uid when
    // it was never recorded (a crash between the write-ahead entry and the create).
    if let Some(uid) = uid.as_deref().filter(|u| !u.is_empty()) {
        return exact(ops, target, uid).await;
    }
    // Nothing to check (a Krkn file names the object and nothing else): one DELETE by name,
    // what Krkn itself sends; a GET first would only double the round trips.
    if require_labels.is_empty() {
        return match ops.delete_named(target).await.map_err(|e| e.to_string())? {
            DeleteOutcome::NotFound => Ok(Some(format!("{} already gone", target.display()))),
            DeleteOutcome::Deleted | DeleteOutcome::NotOurs(_) => Ok(None),
        };
    }
    // Without a uid the labels must be read first. A deletecollection filtered by the labels
    // and the name would be one request, but the API server lists and then deletes by name
    // without a uid precondition, so a same-named stranger created in between could go.
    let Some(current) = ops.get(target).await.map_err(|e| e.to_string())? else {
        return Ok(Some(format!("{} already gone", target.display())));
    };
    let labels = current.metadata.labels.clone().unwrap_or_default();
    if let Some((k, v)) = require_labels.iter().find(|(k, v)| labels.get(*k) != Some(*v)) {
        return Ok(Some(format!(
            "{} does not carry {k}={v}, so it is not the object chaosdeck created; left alone",
            target.display()
        )));
    }
    exact(ops, target, &current.metadata.uid.clone().unwrap_or_default()).await
}

async fn exact(ops: &ClusterOps, target: &ObjectRef, uid: &str) -> Result<Option<String>, String> {
    match ops.delete_exact(target, uid).await.map_err(|e| e.to_string())? {
        DeleteOutcome::Deleted => Ok(None),
        DeleteOutcome::NotFound => Ok(Some(format!("{} already gone", target.display()))),
        DeleteOutcome::NotOurs(why) => Ok(Some(format!("{why}; left alone"))),
    }
}

pub(super) fn kubectl(
    target: &ObjectRef,
    uid: &Option<String>,
    require_labels: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(uid) = uid {
        lines.push(format!(
            "kubectl get {} -o jsonpath='{{.metadata.uid}}'   # must print {uid}",
            resource_arg(target)
        ));
    } else if !require_labels.is_empty() {
        let labels: Vec<String> = require_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        lines.push(format!(
            "kubectl get {} --show-labels   # must carry {}",
            resource_arg(target),
            labels.join(",")
        ));
    }
    lines.push(format!("kubectl delete {}", resource_arg(target)));
    lines
}
