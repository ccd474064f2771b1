//! The before/after view of an undo (TUI Inspector and `chaosdeck show`): for a patch, the
//! values chaosdeck set (the guard: what the object holds now) against the values the undo
//! restores, as a small diff; for a re-create, the object as it will be created, in YAML.

use super::UndoAction;
pub use super::undo::BEFORE_AFTER as HEADING;

/// The before/after lines of `actions`; empty when none of them has a before and an after
/// (a delete removes what chaosdeck made; the summary already says so).
pub fn lines(actions: &[UndoAction]) -> Vec<String> {
    actions.iter().flat_map(UndoAction::before_after).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
