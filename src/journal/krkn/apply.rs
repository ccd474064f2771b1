//! Resolving a Krkn plan into generic actions, plus what service hijacking's file leaves out
//! (the selector value Krkn set, the ConfigMap it leaked), looked up in the cluster first.
//!
//! A hijack counts as undone only when its plan ConfigMap is gone too: deleted through the pod
//! that mounts it, or, when the pod no longer tells, none unclaimed is left in the namespace.

use serde_json::{Value, json};

use super::plan::{HIJACK_CONFIGMAP_PREFIX, HIJACK_SELECTOR_KEY, Hijack, Plan, restore_patch};
use crate::cluster::ClusterOps;
use crate::journal::entry::{ObjectRef, UndoAction};
use crate::journal::kubectl::shell_word;
use crate::journal::patch_guard::first_mismatch;

/// The actions to run now, with what the look-ups found.
#[derive(Debug, Default)]
pub struct Resolved {
    pub actions: Vec<UndoAction>,
    pub notes: Vec<String>,
    pub errors: Vec<String>,
}

/// Resolves an executable plan into the generic actions the executor applies (it owns the
/// one loop that applies undo actions), with what the look-ups found. A not-executable plan is
/// an error: callers skip those before getting here.
pub async fn resolve(ops: &ClusterOps, plan: &Plan) -> Resolved {
    match plan {
        Plan::NotExecutable { what, .. } => Resolved {
            errors: vec![format!("not executable by chaosdeck: {what}")],
            ..Default::default()
        },
        Plan::Executable { actions, hijack: None, .. } => {
            Resolved { actions: actions.clone(), ..Default::default() }
        }
        Plan::Executable { actions, hijack: Some(hijack), .. } => {
            resolve_hijack(ops, actions, hijack).await
        }
    }
}

async fn resolve_hijack(ops: &ClusterOps, actions: &[UndoAction], hijack: &Hijack) -> Resolved {
    let mut out = Resolved::default();
    let pod = match get_json(ops, &hijack.pod).await {
        Ok(pod) => pod,
        Err(e) => {
            out.errors.push(e);
            None
        }
    };
    let from_pod = pod
        .as_ref()
        .and_then(|p| p.pointer(&format!("/metadata/labels/{HIJACK_SELECTOR_KEY}")))
        .and_then(Value::as_str)
        .map(str::to_string);
    let ns = hijack.pod.namespace.as_deref().unwrap_or_default();
    let mounted = pod.as_ref().map(hijack_configmaps).unwrap_or_default();
    let configmap = match mounted.as_slice() {
        [one] => Some(one.clone()),
        // The pod does not say which plan is its own (gone, or mounting none or several):
        // Krkn's rollback would leak it. Done only if no unclaimed plan is left in the
        // namespace; otherwise the entry fails, naming them, instead of reading as restored.
        _ => {
            let why = match (&pod, mounted.len()) {
                (None, _) => format!(
                    "{} is already gone, so its ConfigMap cannot be identified from it",
                    hijack.pod.display()
                ),
                (Some(_), 0) => {
                    format!(
                        "{} mounts no {HIJACK_CONFIGMAP_PREFIX}* ConfigMap",
                        hijack.pod.display()
                    )
                }
                (Some(_), _) => format!(
                    "{} mounts several {HIJACK_CONFIGMAP_PREFIX}* ConfigMaps ({})",
                    hijack.pod.display(),
                    mounted.join(", ")
                ),
            };
            match unclaimed_plans(ops, ns).await {
                Ok(left) if left.is_empty() => out.notes.push(format!(
                    "{why}; no unclaimed {HIJACK_CONFIGMAP_PREFIX}* ConfigMap is left in {ns}"
                )),
                Ok(left) => out.errors.push(format!(
                    "{why}, and {ns} still has {HIJACK_CONFIGMAP_PREFIX}* ConfigMaps no pod mounts \
                     ({}): one may be this hijack's plan, so the undo is not complete — delete \
                     the one that is (kubectl delete configmap -n {} NAME), then run \
                     execute-rollback again or mark the entry executed",
                    left.join(", "),
                    shell_word(ns)
                )),
                Err(e) => out.errors.push(format!("{why}, and looking for its plan failed: {e}")),
            }
            None
        }
    };
    let guard = match from_pod {
        Some(value) => Some(value),
        None => match service_guard(ops, hijack).await {
            Ok(guard) => guard,
            Err(e) => {
                out.errors.push(e);
                None
            }
        },
    };
    for action in actions {
        match action {
            // Without a value there is nothing to guard on: the Service is gone, already
            // restored, or was changed by someone else (service_guard said which).
            UndoAction::Patch { target, restore, .. } if *target == hijack.service => {
                if let Some(value) = &guard {
                    out.actions.push(UndoAction::Patch {
                        target: target.clone(),
                        restore: restore.clone(),
                        guard: json!({"spec": {"selector": {HIJACK_SELECTOR_KEY: value}}}),
                    });
                }
            }
            other => out.actions.push(other.clone()),
        }
    }
    if let Some(name) = configmap {
        out.actions.push(UndoAction::Delete {
            target: ObjectRef::new("v1", "ConfigMap", hijack.pod.namespace.as_deref(), &name),
            uid: None,
            require_labels: Default::default(),
        });
    }
    if guard.is_none() && out.errors.is_empty() {
        out.notes.push(format!(
            "{} is gone or already has its original selector",
            hijack.service.display()
        ));
    }
    out
}

/// The hijack value as the Service shows it, when the pod no longer tells. `Ok(None)` when
/// there is nothing to restore; Err when the selector is neither the original nor Krkn's.
async fn service_guard(ops: &ClusterOps, hijack: &Hijack) -> Result<Option<String>, String> {
    let Some(service) = get_json(ops, &hijack.service).await? else {
        return Ok(None);
    };
    let selector = service.pointer("/spec/selector").cloned().unwrap_or(Value::Null);
    if let Some(value) = selector.get(HIJACK_SELECTOR_KEY).and_then(Value::as_str) {
        return Ok(Some(value.to_string()));
    }
    if first_mismatch(&restore_patch(&hijack.original_selectors), &service, "").is_none() {
        return Ok(None);
    }
    // The live selector is not quoted: whoever reads this may not be allowed to read it.
    Err(format!(
        "{} has a selector that is neither the original {} nor Krkn's \
         {HIJACK_SELECTOR_KEY} selector; someone changed it after Krkn, so it is left alone — \
         restore by hand or mark the entry executed",
        hijack.service.display(),
        serde_json::to_string(&hijack.original_selectors).unwrap_or_default()
    ))
}

/// The `service-hijacking-cm-*` ConfigMaps a pod mounts, sorted, once each.
fn hijack_configmaps(pod: &Value) -> Vec<String> {
    let mut names: Vec<String> = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.pointer("/configMap/name").and_then(Value::as_str))
        .filter(|n| n.starts_with(HIJACK_CONFIGMAP_PREFIX))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Hijack plans in `ns` that no pod mounts (a live hijack's plan is its pod's, not ours).
async fn unclaimed_plans(ops: &ClusterOps, ns: &str) -> Result<Vec<String>, String> {
    let plans = ops.list("v1", "ConfigMap", Some(ns)).await.map_err(|e| e.to_string())?;
    let pods = ops.list("v1", "Pod", Some(ns)).await.map_err(|e| e.to_string())?;
    let mut claimed = std::collections::BTreeSet::new();
    for pod in &pods {
        let value = serde_json::to_value(pod).map_err(|e| e.to_string())?;
        claimed.extend(hijack_configmaps(&value));
    }
    let mut left: Vec<String> = plans
        .iter()
        .filter_map(|cm| cm.metadata.name.clone())
        .filter(|n| n.starts_with(HIJACK_CONFIGMAP_PREFIX) && !claimed.contains(n))
        .collect();
    left.sort();
    Ok(left)
}

async fn get_json(ops: &ClusterOps, target: &ObjectRef) -> Result<Option<Value>, String> {
    let found = ops.get(target).await.map_err(|e| e.to_string())?;
    found.map(|o| serde_json::to_value(&o).map_err(|e| e.to_string())).transpose()
}
