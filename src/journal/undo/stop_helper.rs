//! The undo of a fault applied through chaosdeck's helper pod (a network filter): ask the
//! helper to remove every rule carrying the entry's tag and read the tables again (0 left),
//! then delete exactly that helper pod. A helper that never ran applied nothing, and one that
//! ended with exit code 0 removed its fault itself (its contract, at its deadline or when
//! stopped): its pod is deleted and nothing else is sent. That holds too when it ends while
//! being asked (its deadline falls between the read of its pod and the exec): a failed request
//! is followed by one more read of the pod. One that ended otherwise (a failed removal, a
//! kill) leaves the entry pending, saying so.

use std::time::Duration;

use super::delete::ENTRY_LABEL;
use super::written_by::Author;
use crate::cluster::exec::{ContainerTarget, ExecCommand, HelperVerb, helper_tagged};
use crate::cluster::{ClusterOps, DeleteOutcome};
use crate::journal::shell::{resource_arg, shell_word};
use crate::refs::ObjectRef;
use kube::api::DynamicObject;

pub use crate::helper::pod::HELPER_CONTAINER;

/// How long the helper may take to remove its rules before the undo fails (and stays
/// pending): the helper answers from the node, so a slow answer is a node in trouble.
const HELPER_LIMIT: Duration = Duration::from_secs(30);

/// The name of the helper pod of entry `tag`.
pub fn helper_pod_name(tag: &str) -> String {
    format!("chaosdeck-helper-{tag}")
}

pub(super) fn summary(helper: &ObjectRef, fault: &str) -> String {
    format!("stop {fault} (helper {})", helper.display())
}

pub(super) fn left_as_is(helper: &ObjectRef, fault: &str) -> String {
    format!("{fault} stays until helper {} reaches its deadline", helper.display())
}

/// Only chaosdeck's own helper, named for the entry: a forged entry can at most ask a pod
/// called `chaosdeck-helper-<tag>` to remove the rules tagged `<tag>`, and delete that pod.
pub(super) fn admit(helper: &ObjectRef, tag: &str, _author: Author) -> Result<(), String> {
    ExecCommand::helper(HelperVerb::Remove, tag)
        .map_err(|why| format!("the helper of {}: {why}", helper.display()))?;
    if helper.name != helper_pod_name(tag) {
        return Err(format!(
            "{} is not a chaosdeck helper (they are named chaosdeck-helper-<entry id>)",
            helper.display()
        ));
    }
    Ok(())
}

pub(super) async fn apply(
    ops: &ClusterOps,
    helper: &ObjectRef,
    uid: &Option<String>,
    tag: &str,
) -> Result<Option<String>, String> {
    let gone = || {
        Ok(Some(format!(
            "helper {} already gone (it removes its rules when it stops)",
            helper.display()
        )))
    };
    let Some(pod) = ops.get(helper).await.map_err(|e| e.to_string())? else {
        return gone();
    };
    let current_uid = pod.metadata.uid.clone().unwrap_or_default();
    if let Some(uid) = uid.as_deref().filter(|u| !u.is_empty())
        && uid != current_uid
    {
        return Ok(Some(format!(
            "{} is another pod than the helper chaosdeck created (uid {current_uid}, not \
             {uid}); left alone",
            helper.display()
        )));
    }
    // Without a uid (the run stopped between the entry and the create) only a pod labelled
    // with this entry is the helper: a same-named stranger is left alone.
    let labelled =
        pod.metadata.labels.as_ref().and_then(|l| l.get(ENTRY_LABEL)) == Some(&tag.to_string());
    if uid.as_deref().is_none_or(str::is_empty) && !labelled {
        return Ok(Some(format!(
            "{} does not carry {ENTRY_LABEL}={tag}, so it is not the helper chaosdeck created; \
             left alone",
            helper.display()
        )));
    }
    let note = match helper_state(&pod) {
        HelperState::Exited(code) if code != 0 => return Err(ended_badly(helper, code)),
        HelperState::Exited(_) | HelperState::NotStarted => Some(format!(
            "helper {} is not running (it never started, or it removed its fault and exited 0)",
            helper.display()
        )),
        // A helper being deleted still runs through its grace period: ask it all the same.
        HelperState::Running => match remove_rules(ops, helper, &current_uid, tag).await {
            Ok(()) => None,
            // The helper may have reached its deadline between the read above and the exec
            // (the kubelet reports an ended container a moment later): its pod says.
            Err(why) => match ops.get(helper).await.map_err(|e| e.to_string())? {
                None => return gone(),
                Some(again) => match ended_since(&again, &current_uid) {
                    Some(0) => Some(format!(
                        "helper {} ended with exit code 0 while it was being asked to remove \
                         its rules (it removes them itself at its deadline)",
                        helper.display()
                    )),
                    Some(code) => return Err(ended_badly(helper, code)),
                    None => return Err(why),
                },
            },
        },
    };
    match ops.delete_exact(helper, &current_uid).await.map_err(|e| e.to_string())? {
        DeleteOutcome::Deleted | DeleteOutcome::NotFound => Ok(note),
        DeleteOutcome::NotOurs(why) => Ok(Some(format!("{why}; left alone"))),
    }
}

/// Where the helper container is, as its pod's status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HelperState {
    Running,
    /// Ended, with its exit code: 0 is its word that it removed everything it applied.
    Exited(i64),
    /// Neither (waiting, or no status yet): it has applied nothing.
    NotStarted,
}

fn helper_state(pod: &DynamicObject) -> HelperState {
    let status = pod
        .data
        .pointer("/status/containerStatuses")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .find(|s| s.get("name").and_then(|n| n.as_str()) == Some(HELPER_CONTAINER));
    if status.and_then(|s| s.pointer("/state/running")).is_some() {
        return HelperState::Running;
    }
    // An ended container without a code is one the kubelet lost track of: not a clean end.
    match status.and_then(|s| s.pointer("/state/terminated")) {
        Some(ended) => {
            HelperState::Exited(ended.get("exitCode").and_then(|c| c.as_i64()).unwrap_or(-1))
        }
        None => HelperState::NotStarted,
    }
}

/// The exit code of the helper in `pod`, when `pod` is still the helper with uid `uid` and its
/// container has ended.
fn ended_since(pod: &DynamicObject, uid: &str) -> Option<i64> {
    if pod.metadata.uid.as_deref().unwrap_or_default() != uid {
        return None;
    }
    match helper_state(pod) {
        HelperState::Exited(code) => Some(code),
        HelperState::Running | HelperState::NotStarted => None,
    }
}

fn ended_badly(helper: &ObjectRef, code: i64) -> String {
    format!(
        "helper {} ended with exit code {code}, so its fault may still be in force on its node; \
         check it by hand (the entry's kubectl lines), delete the pod and mark the entry executed",
        helper.display()
    )
}

/// Asks the running helper to remove every rule tagged `tag`, and checks it reads none after.
async fn remove_rules(
    ops: &ClusterOps,
    helper: &ObjectRef,
    uid: &str,
    tag: &str,
) -> Result<(), String> {
    let command = ExecCommand::helper(HelperVerb::Remove, tag)?;
    let container = ContainerTarget {
        namespace: helper.namespace.clone().unwrap_or_default(),
        pod: helper.name.clone(),
        container: HELPER_CONTAINER.to_string(),
        uid: Some(uid.to_string()),
        restarts: None,
    };
    let (_, out) = ops.exec(&container, &command, HELPER_LIMIT).await.map_err(|e| e.to_string())?;
    if out.code != 0 {
        return Err(format!(
            "helper {} could not remove its rules (exit {}): {}",
            helper.display(),
            out.code,
            crate::refs::printable(out.stderr.trim())
        ));
    }
    match helper_tagged(&out.stdout, tag)? {
        0 => Ok(()),
        left => Err(format!(
            "helper {} still reads {left} rules tagged {tag} after removing them",
            helper.display()
        )),
    }
}

pub(super) fn kubectl(helper: &ObjectRef, tag: &str) -> Vec<String> {
    let ns = helper.namespace.as_deref().unwrap_or("default");
    vec![
        format!(
            "kubectl exec -n {} {} -c {HELPER_CONTAINER} -- chaosdeck helper remove --tag {}   \
             # must end: chaosdeck-helper: 0 rules tagged {tag}",
            shell_word(ns),
            shell_word(&helper.name),
            shell_word(tag)
        ),
        format!("kubectl delete {}", resource_arg(helper)),
    ]
}
