//! Comparing what an object holds with what an undo expects: the guard of a `patch` undo
//! ("only while the object still holds the values chaosdeck set") and the "already restored"
//! check. Pure functions, no cluster access.

use serde_json::Value;

/// The path of the first place where `current` does not hold what the merge-patch-shaped
/// `expected` says (a `null` in `expected` means "absent"). Only the path: what the object
/// holds there is a live value that whoever reads the message (a mirror's outcome, an Event, a
/// log) may not be allowed to read.
pub fn first_mismatch(expected: &Value, current: &Value, at: &str) -> Option<String> {
    match expected {
        Value::Object(fields) => fields.iter().find_map(|(key, want)| {
            let path = format!("{at}/{key}");
            let have = current.get(key).unwrap_or(&Value::Null);
            match want {
                Value::Object(_) if have.is_object() => first_mismatch(want, have, &path),
                Value::Object(_) if have.is_null() && want.as_object().is_some_and(all_null) => {
                    None
                }
                _ if want == have => None,
                _ => Some(if path.is_empty() { "/".to_string() } else { path }),
            }
        }),
        _ if expected == current => None,
        _ => Some(if at.is_empty() { "/".to_string() } else { at.to_string() }),
    }
}

fn all_null(map: &serde_json::Map<String, Value>) -> bool {
    map.values().all(|v| v.is_null() || v.as_object().is_some_and(all_null))
}

/// What kind of value `v` is (never the value itself: see [`first_mismatch`]).
pub(super) fn shape(v: &Value) -> &'static str {
    match v {
        Value::Null => "absent",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The guarded restore as one RFC 6902 JSON Patch: a `test` for every value the guard expects,
/// then the operations that make the object what the merge-patch-shaped `restore` makes it.
/// The API server applies it atomically, so when it succeeds the guard held and the object is
/// restored in one round trip; when it fails (422) nothing was changed and the caller reads the
/// object to tell "already restored" from "changed by a human".
///
/// `None` when the pair cannot be expressed exactly; the caller then reads the object and
/// merge-patches as before (two round trips):
/// - a guard value `null` ("must be absent"): no RFC 6902 operation fails when a path exists.
///   (`test` with `null` fails on a missing path in RFC 6902, while the API server's library
///   lets it pass; neither is "absent".)
/// - an empty object, in the guard or the restore: merge semantics depend on whether the field
///   is there and is an object, which a patch cannot ask;
/// - a key that reads as an array index (`0`, `-`): in a pointer it would address a list item
///   where the merge patch means a map key;
/// - a guard or restore that is not an object.
///
/// Operations that can be expressed but find the object in another shape than chaosdeck left
/// it (e.g. `add` below a parent someone removed) make the patch fail, which leads to the same
/// read-and-merge fallback, so a restore of a nested field whose parent was removed still works.
pub fn guarded_json_patch(restore: &Value, guard: &Value) -> Option<Vec<Value>> {
    let (Value::Object(guard), Value::Object(restore)) = (guard, restore) else {
        return None;
    };
    let mut ops = Vec::new();
    let mut tested = Vec::new();
    tests(guard, "", &mut ops, &mut tested)?;
    restores(restore, "", &tested, &mut ops)?;
    Some(ops)
}

/// RFC 6901: `~` then `/` (label keys such as `app.kubernetes.io/name`).
pub fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn index_like(key: &str) -> bool {
    key == "-" || (!key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()))
}

fn tests(
    fields: &serde_json::Map<String, Value>,
    at: &str,
    ops: &mut Vec<Value>,
    tested: &mut Vec<String>,
) -> Option<()> {
    for (key, want) in fields {
        if index_like(key) {
            return None;
        }
        let path = format!("{at}/{}", pointer_token(key));
        match want {
            Value::Null => return None,
            Value::Object(inner) if inner.is_empty() => return None,
            // A guard object is a subset to match key by key (as in `first_mismatch`), not a
            // whole value to compare.
            Value::Object(inner) => tests(inner, &path, ops, tested)?,
            _ => {
                ops.push(serde_json::json!({"op": "test", "path": path, "value": want}));
                tested.push(path);
            }
        }
    }
    Some(())
}

/// Whether the passed tests prove `path` exists: it or something below it was tested.
fn proven(tested: &[String], path: &str) -> bool {
    tested
        .iter()
        .any(|t| t.strip_prefix(path).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

fn restores(
    fields: &serde_json::Map<String, Value>,
    at: &str,
    tested: &[String],
    ops: &mut Vec<Value>,
) -> Option<()> {
    for (key, value) in fields {
        if index_like(key) {
            return None;
        }
        let path = format!("{at}/{}", pointer_token(key));
        match value {
            Value::Null => {
                // `remove` fails on a missing path where the merge patch's `null` is content
                // with absence: `add` first (creates or replaces) unless a test proved it there.
                if !proven(tested, &path) {
                    ops.push(serde_json::json!({"op": "add", "path": path, "value": null}));
                }
                ops.push(serde_json::json!({"op": "remove", "path": path}));
            }
            Value::Object(inner) if inner.is_empty() => return None,
            // Merged key by key into the object that is there; when it is not (removed since),
            // the `add`s below fail and the caller falls back to the merge patch, which creates it.
            Value::Object(inner) => restores(inner, &path, tested, ops)?,
            _ => ops.push(serde_json::json!({"op": "add", "path": path, "value": value})),
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What the API server would make of `doc` with the guarded patch, next to what the
    /// read-then-merge path makes of it.
    fn both(doc: &Value, restore: &Value, guard: &Value) -> (Result<Value, String>, Value) {
        let ops = guarded_json_patch(restore, guard).expect("expressible");
        let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops)).expect("patch");
        let mut patched = doc.clone();
        let fast =
            json_patch::patch(&mut patched, &patch).map(|()| patched).map_err(|e| e.to_string());
        let mut merged = doc.clone();
        json_patch::merge(&mut merged, restore);
        (fast, merged)
    }

    #[test]
    fn a_held_guard_restores_exactly_what_the_merge_patch_would() {
        let guard = json!({"spec": {"selector": {"hijack": "sh-1"}},
            "metadata": {"labels": {"chaos.io/x": "on", "a~b": "1"}}});
        let restore = json!({"spec": {"selector": {"app": "web", "hijack": null}},
            "metadata": {"labels": {"chaos.io/x": null, "a~b": null, "app.kubernetes.io/name": "web"},
                         "annotations": {"never-there": null}}});
        let doc = json!({"metadata": {"labels": {"chaos.io/x": "on", "a~b": "1", "keep": "k"},
                                      "annotations": {"other": "o"}},
            "spec": {"selector": {"hijack": "sh-1"}, "ports": [{"port": 80}]}});
        let (fast, merged) = both(&doc, &restore, &guard);
        assert_eq!(fast.unwrap(), merged);
        let ops = guarded_json_patch(&restore, &guard).unwrap();
        let paths: Vec<&str> = ops.iter().filter_map(|o| o["path"].as_str()).collect();
        assert!(paths.contains(&"/metadata/labels/chaos.io~1x"), "{paths:?}");
        assert!(paths.contains(&"/metadata/labels/a~0b"), "{paths:?}");
    }

    #[test]
    fn a_broken_guard_or_a_missing_parent_fails_the_patch_instead_of_guessing() {
        let guard = json!({"spec": {"selector": {"hijack": "sh-1"}}});
        let restore = json!({"spec": {"selector": {"app": "web", "hijack": null}}});
        let human = json!({"spec": {"selector": {"hijack": "human"}}});
        assert!(both(&human, &restore, &guard).0.is_err());
        // The parent of a restored field is gone: the merge patch would create it; the JSON
        // patch cannot without clobbering, so it fails and the caller merges.
        let guard = json!({"spec": {"unschedulable": true}});
        let restore = json!({"spec": {"unschedulable": null},
            "metadata": {"annotations": {"was": "here"}}});
        let doc = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        let (fast, merged) = both(&doc, &restore, &guard);
        assert!(fast.is_err(), "{fast:?} vs {merged}");
    }

    #[test]
    fn what_a_json_patch_cannot_say_is_left_to_the_merge_path() {
        let restore = json!({"metadata": {"labels": {"x": "old"}}});
        assert_eq!(
            guarded_json_patch(&restore, &json!({"metadata": {"labels": {"x": null}}})),
            None
        );
        assert_eq!(guarded_json_patch(&restore, &json!({"spec": {}})), None);
        assert_eq!(guarded_json_patch(&json!({"spec": {"0": 1}}), &json!({})), None);
        assert_eq!(guarded_json_patch(&restore, &Value::Null), None);
        assert!(guarded_json_patch(&restore, &json!({})).is_some());
    }

    #[test]
    fn guard_matching_follows_merge_patch_semantics() {
        let current = json!({"spec": {"selector": {"app": "web", "hijack": "sh-1"}}});
        assert_eq!(
            first_mismatch(&json!({"spec": {"selector": {"hijack": "sh-1"}}}), &current, ""),
            None
        );
        let miss = first_mismatch(&json!({"spec": {"selector": {"hijack": "sh-2"}}}), &current, "")
            .unwrap();
        assert!(miss.contains("/spec/selector/hijack"), "{miss}");
        // null = must be absent
        assert!(
            first_mismatch(&json!({"spec": {"selector": {"hijack": null}}}), &current, "")
                .is_some()
        );
        assert_eq!(
            first_mismatch(&json!({"spec": {"unschedulable": null}}), &json!({"spec": {}}), ""),
            None
        );
        assert_eq!(first_mismatch(&json!({"spec": {"x": {"y": null}}}), &json!({}), ""), None);
    }
}
