//! The undo of an appended list item (a node's taint): remove exactly that item with a
//! test-guarded JSON patch, leaving every other item alone — including ones others added later.

use serde_json::Value;

use super::display::compact;
use crate::cluster::ClusterOps;
use crate::journal::patch_guard::shape;
use crate::journal::shell::{resource_arg, shell_quote};
use crate::refs::ObjectRef;

pub(super) fn summary(target: &ObjectRef, path: &str, item: &Value) -> String {
    format!("remove {} from {path} of {}", compact(item), target.display())
}

pub(super) fn left_as_is(target: &ObjectRef, path: &str, item: &Value) -> String {
    format!("{} stays in {path} of {}", compact(item), target.display())
}

/// Only from a list chaos adds to.
pub(super) fn admit(target: &ObjectRef, path: &str, fields: &[&str]) -> Result<(), String> {
    if !fields.contains(&path) {
        return Err(format!(
            "an undo may not remove items from {path} of {}; chaos only adds to {}",
            target.display(),
            fields.join(", ")
        ));
    }
    Ok(())
}

pub(super) async fn apply(
    ops: &ClusterOps,
    target: &ObjectRef,
    path: &str,
    item: &Value,
) -> Result<Option<String>, String> {
    let Some(current) = ops.get(target).await.map_err(|e| e.to_string())? else {
        return Ok(Some(format!("{} is gone; nothing to remove", target.display())));
    };
    let current = serde_json::to_value(&current).map_err(|e| e.to_string())?;
    let list = match list_at(&current, path) {
        ListAt::List(list) => list,
        ListAt::FieldAbsent => {
            return Ok(Some(format!(
                "{} has no {path} any more, so not that item either",
                target.display()
            )));
        }
        ListAt::WrongShape(why) => {
            return Err(format!(
                "{}: {why}; the object does not have the shape this entry was written for, so \
                 it is not marked undone — check it by hand",
                target.display()
            ));
        }
    };
    let Some(index) = list.iter().position(|v| v == item) else {
        return Ok(Some(format!("{} no longer has that item in {path}", target.display())));
    };
    // `test` makes the removal conditional: if the list moved meanwhile, nothing else is
    // removed by mistake and the undo fails, to be retried.
    // Removing the only item removes the field, so the object reads as it did before.
    let only = list.len() == 1;
    let remove_path = if only { path.to_string() } else { format!("{path}/{index}") };
    let ops_json = serde_json::json!([
        {"op": "test", "path": format!("{path}/{index}"), "value": item},
        {"op": "remove", "path": remove_path},
    ]);
    let patch: json_patch::Patch = serde_json::from_value(ops_json).map_err(|e| e.to_string())?;
    ops.json_patch(target, patch).await.map_err(|e| e.to_string())?;
    Ok(None)
}

/// What a JSON pointer finds where an entry expects a list.
enum ListAt<'v> {
    List(&'v Vec<Value>),
    /// The parent object is there without the field: Kubernetes drops an empty list (a node's
    /// `spec.taints` once its last taint is removed), so the item is gone.
    FieldAbsent,
    /// Anything else (the parent is missing or not an object, the field is not a list): the
    /// path does not fit this object, and "gone" would be a guess. Not counted as done.
    WrongShape(String),
}

fn list_at<'v>(object: &'v Value, path: &str) -> ListAt<'v> {
    match object.pointer(path) {
        Some(Value::Array(list)) => return ListAt::List(list),
        Some(other) => {
            return ListAt::WrongShape(format!(
                "{path} is {} where a list was expected",
                shape(other)
            ));
        }
        None => {}
    }
    let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    match object.pointer(parent) {
        Some(Value::Object(_)) => ListAt::FieldAbsent,
        Some(other) => ListAt::WrongShape(format!(
            "{} is {} where an object holding {path} was expected",
            if parent.is_empty() { "the object" } else { parent },
            shape(other)
        )),
        None => ListAt::WrongShape(format!("{parent} does not exist, so {path} cannot be checked")),
    }
}

pub(super) fn kubectl(target: &ObjectRef, path: &str, item: &Value) -> Vec<String> {
    vec![
        format!(
            "kubectl get {} -o json   # find the position <i> of {} in {path}",
            resource_arg(target),
            compact(item)
        ),
        format!(
            "kubectl patch {} --type json -p {}",
            resource_arg(target),
            shell_quote(&format!(
                r#"[{{"op":"test","path":"{path}/<i>","value":{}}},{{"op":"remove","path":"{path}/<i>"}}]"#,
                compact(item)
            ))
        ),
    ]
}
