//! Comparing what an object holds with what an undo expects: the guard of a `patch` undo
//! ("only while the object still holds the values chaosdeck set") and the "already restored"
//! check. Pure functions, no cluster access.

use serde_json::Value;

/// The first place where `current` does not hold what the merge-patch-shaped `expected` says
/// (a `null` in `expected` means "absent").
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
                _ => Some(format!("{path} is {} where {} was expected", short(have), short(want))),
            }
        }),
        _ if expected == current => None,
        _ => Some(format!("{at} is {} where {} was expected", short(current), short(expected))),
    }
}

fn all_null(map: &serde_json::Map<String, Value>) -> bool {
    map.values().all(|v| v.is_null() || v.as_object().is_some_and(all_null))
}

pub(super) fn short(v: &Value) -> String {
    match v {
        Value::Null => "absent".into(),
        other => {
            let s = other.to_string();
            if s.len() > 80 { format!("{}…", &s[..s.floor_char_boundary(80)]) } else { s }
        }
    }
}
