//! Text every undo kind shares when it shows itself: compact JSON and the before/after heading.

use serde_json::Value;

/// How each action's before/after part starts; the Inspector colours the `-`/`+` lines that
/// follow.
pub const BEFORE_AFTER: &str = "before/after ";

/// One-line JSON for summaries and hints.
pub fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
