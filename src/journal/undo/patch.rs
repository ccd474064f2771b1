//! The undo of a merge patch: restore the previous values, but only while the object still
//! holds the values chaosdeck set (the guard), so a human's later edit fails the undo loudly
//! instead of being clobbered. Shown as a per-field before/after diff.

use std::collections::BTreeMap;

use serde_json::Value;

use super::display::{BEFORE_AFTER, compact};
use crate::cluster::ClusterOps;
use crate::journal::patch_guard::{first_mismatch, guarded_json_patch, pointer_token};
use crate::journal::shell::{resource_arg, shell_quote};
use crate::refs::ObjectRef;

pub(super) fn summary(target: &ObjectRef, restore: &Value) -> String {
    format!("patch {} back to {}", target.display(), compact(restore))
}

pub(super) fn left_as_is(target: &ObjectRef) -> String {
    format!("{} keeps the chaos change", target.display())
}

/// A guard that proves something, and both sides within the fields chaos changes.
pub(super) fn admit(
    target: &ObjectRef,
    restore: &Value,
    guard: &Value,
    fields: &[&str],
) -> Result<(), String> {
    if !has_value(guard) {
        return Err(format!(
            "the patch of {} has no guard (the values chaos set), so it would overwrite \
             whatever is there",
            target.display()
        ));
    }
    for (which, value) in [("restore", restore), ("guard", guard)] {
        if let Some(path) = outside(value, fields) {
            return Err(format!(
                "the patch of {} would {which} {path}; chaos only changes {}",
                target.display(),
                fields.join(", ")
            ));
        }
    }
    Ok(())
}

/// A value somewhere below `v` that is not null: a guard of absences only proves nothing.
fn has_value(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Object(map) => map.values().any(has_value),
        _ => true,
    }
}

/// The first leaf path of the merge-patch-shaped `value` that is not at or below one of
/// `fields`.
fn outside(value: &Value, fields: &[&str]) -> Option<String> {
    fn walk(value: &Value, at: &str, fields: &[&str]) -> Option<String> {
        if fields.iter().any(|f| at == *f || at.starts_with(&format!("{f}/"))) {
            return None;
        }
        match value {
            Value::Object(map) if !map.is_empty() => {
                map.iter().find_map(|(k, v)| walk(v, &format!("{at}/{}", pointer_token(k)), fields))
            }
            _ => Some(if at.is_empty() { "/".to_string() } else { at.to_string() }),
        }
    }
    walk(value, "", fields)
}

pub(super) async fn apply(
    ops: &ClusterOps,
    target: &ObjectRef,
    restore: &Value,
    guard: &Value,
) -> Result<Option<String>, String> {
    if let Some(patch) = guarded_json_patch(restore, guard) {
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(patch))
            .map_err(|e| format!("{}: internal: bad JSON patch: {e}", target.display()))?;
        match ops.json_patch(target, patch).await {
            Ok(_) => return Ok(None),
            Err(e) if e.code() == Some(404) => {
                return Ok(Some(format!("{} is gone; nothing to restore", target.display())));
            }
            // 422: a test failed or the object has another shape; nothing was changed. The
            // read below says why, in the same words as without the fast path.
            Err(e) if e.code() == Some(422) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    restore_by_merge(ops, target, restore, guard).await
}

/// Reads the object, then merge-patches it at the version read: the undo of a patch when its
/// guarded JSON Patch cannot be expressed or did not apply. Tells "already restored" (a note)
/// from "changed by a human" (an error naming the path and what it holds).
async fn restore_by_merge(
    ops: &ClusterOps,
    target: &ObjectRef,
    restore: &Value,
    guard: &Value,
) -> Result<Option<String>, String> {
    let Some(current) = ops.get(target).await.map_err(|e| e.to_string())? else {
        return Ok(Some(format!("{} is gone; nothing to restore", target.display())));
    };
    let current = serde_json::to_value(&current).map_err(|e| e.to_string())?;
    if first_mismatch(restore, &current, "").is_none() {
        return Ok(Some(format!("{} already restored", target.display())));
    }
    if let Some(mismatch) = first_mismatch(guard, &current, "") {
        return Err(format!(
            "{} was changed after chaosdeck set it ({mismatch} no longer holds the value \
             chaosdeck set); not overwriting that edit — restore by hand or mark the entry \
             executed",
            target.display()
        ));
    }
    // Optimistic concurrency: the patch applies only to the version just checked.
    let mut patch = restore.clone();
    if let (Some(map), Some(rv)) =
        (patch.as_object_mut(), current.pointer("/metadata/resourceVersion"))
    {
        let meta = map.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("resourceVersion".into(), rv.clone());
        }
    }
    ops.merge_patch(target, &patch).await.map_err(|e| e.to_string())?;
    Ok(None)
}

pub(super) fn kubectl(target: &ObjectRef, restore: &Value, guard: &Value) -> Vec<String> {
    vec![
        format!(
            "kubectl get {} -o json   # must still show {}",
            resource_arg(target),
            compact(guard)
        ),
        format!(
            "kubectl patch {} --type merge -p {}",
            resource_arg(target),
            shell_quote(&compact(restore))
        ),
    ]
}

/// One `-`/`+` pair per field either side names, in field order. A field the guard does not
/// check shows as unchecked; `null` in the restore patch removes the field.
pub(super) fn before_after(target: &ObjectRef, restore: &Value, guard: &Value) -> Vec<String> {
    let mut out = vec![format!(
        "{BEFORE_AFTER}patch {} (- now, as chaosdeck set it; + after the undo):",
        target.display()
    )];
    let (mut now, mut after) = (BTreeMap::new(), BTreeMap::new());
    flatten("", guard, &mut now);
    flatten("", restore, &mut after);
    let mut fields: Vec<&String> = now.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    for field in fields {
        let before = now.get(field).map_or("(not checked)".to_string(), show);
        let restored = match after.get(field) {
            Some(Value::Null) => "(removed)".to_string(),
            Some(v) => show(v),
            None => "(left as it is)".to_string(),
        };
        out.push(format!("  - {field}: {before}"));
        out.push(format!("  + {field}: {restored}"));
    }
    out
}

/// Leaves of a merge patch by dotted path; lists are leaves (a merge patch replaces them).
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&path, v, out);
            }
        }
        _ if prefix.is_empty() => {}
        _ => {
            out.insert(prefix.to_string(), value.clone());
        }
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
