//! The before/after view of an undo (TUI Inspector and `chaosdeck show`): for a patch, the
//! values chaosdeck set (the guard: what the object holds now) against the values the undo
//! restores, as a small diff; for a re-create, the object as it will be created, in YAML.

use std::collections::BTreeMap;

use serde_json::Value;

use super::UndoAction;
use super::entry::creatable;

/// How each action's part starts; the Inspector colours the `-`/`+` lines that follow.
pub const HEADING: &str = "before/after ";

/// The before/after lines of `actions`; empty when none of them has a before and an after
/// (a delete removes what chaosdeck made; the summary already says so).
pub fn lines(actions: &[UndoAction]) -> Vec<String> {
    let mut out = Vec::new();
    for action in actions {
        match action {
            UndoAction::Patch { target, restore, guard } => {
                out.push(format!(
                    "{HEADING}patch {} (- now, as chaosdeck set it; + after the undo):",
                    target.display()
                ));
                out.extend(patch_diff(guard, restore));
            }
            UndoAction::Create { object } => {
                out.push(format!("{HEADING}re-create {}:", action.target().display()));
                match serde_saphyr::to_string(&creatable(object)) {
                    Ok(yaml) => out.extend(yaml.lines().map(|l| format!("    {l}"))),
                    Err(e) => out.push(format!("    (cannot show the object as YAML: {e})")),
                }
            }
            UndoAction::Delete { .. }
            | UndoAction::RemoveListItem { .. }
            | UndoAction::RemoveFile { .. } => {}
        }
    }
    out
}

/// One `-`/`+` pair per field either side names, in field order. A field the guard does not
/// check shows as unchecked; `null` in the restore patch removes the field.
fn patch_diff(guard: &Value, restore: &Value) -> Vec<String> {
    let (mut now, mut after) = (BTreeMap::new(), BTreeMap::new());
    flatten("", guard, &mut now);
    flatten("", restore, &mut after);
    let mut fields: Vec<&String> = now.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    let mut out = Vec::new();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::ObjectRef;
    use serde_json::json;

    #[test]
    fn patch_shows_set_against_restored_per_field() {
        let action = UndoAction::Patch {
            target: ObjectRef::new("apps/v1", "Deployment", Some("demo"), "web"),
            guard: json!({"spec": {"replicas": 0}, "metadata": {"labels": {"chaos": "on"}}}),
            restore: json!({"spec": {"replicas": 3, "paused": false},
                            "metadata": {"labels": {"chaos": null}}}),
        };
        let out = lines(&[action]);
        assert_eq!(
            out[0],
            "before/after patch Deployment demo/web (- now, as chaosdeck set it; + after the undo):"
        );
        let body = out[1..].join("\n");
        assert_eq!(
            body,
            "  - metadata.labels.chaos: on\n  + metadata.labels.chaos: (removed)\n\
             \x20 - spec.paused: (not checked)\n  + spec.paused: false\n\
             \x20 - spec.replicas: 0\n  + spec.replicas: 3"
        );
    }

    #[test]
    fn create_shows_the_object_without_server_fields() {
        let object = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "demo", "uid": "u-1", "resourceVersion": "7"},
            "data": {"k": "v"}
        });
        let out = lines(&[UndoAction::Create { object }]).join("\n");
        assert!(out.starts_with("before/after re-create ConfigMap demo/cm:"), "{out}");
        assert!(out.contains("    data:\n      k: v"), "{out}");
        assert!(!out.contains("resourceVersion") && !out.contains("u-1"), "{out}");
    }

    #[test]
    fn delete_has_no_before_after() {
        let action = UndoAction::Delete {
            target: ObjectRef::new("v1", "Pod", Some("demo"), "p"),
            uid: None,
            require_labels: BTreeMap::new(),
        };
        assert!(lines(&[action]).is_empty());
    }
}
