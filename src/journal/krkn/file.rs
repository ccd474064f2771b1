//! One Krkn version file read as text: the `rollback_*` callable's name and the module-level
//! `rollback_content = RollbackContent(...)` assignment, decoded into [`RollbackContent`].
//!
//! Only module-level lines (column 0) count, as only those are what Python would bind; a file
//! with two callables or two assignments is refused because Krkn's loader would pick one by
//! rules (alphabetical member order, last assignment wins) that a reader cannot see.

use super::literal::{PyValue, parse_call};

/// Krkn's `RollbackContent` dataclass, as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RollbackContent {
    pub namespace: Option<String>,
    pub resource_identifier: String,
    pub cloud_type: Option<String>,
    /// `repr(tuple)`: usually strings; Azure writes `(vm_name, resource_group)` pairs.
    pub instance_ids: Option<Vec<PyValue>>,
    pub skip_kubernetes: bool,
}

/// The two things a version file says: which callable, with which content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFile {
    pub callable: String,
    /// The right-hand side of `rollback_content = ...`, verbatim.
    pub content_line: String,
    pub content: RollbackContent,
}

pub fn parse(text: &str) -> Result<VersionFile, String> {
    let callables: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("def "))
        .filter(|rest| rest.starts_with("rollback_"))
        .map(|rest| rest.split('(').next().unwrap_or(rest).trim())
        .collect();
    let callable = match callables.as_slice() {
        [] => return Err("no `def rollback_*(` callable found".into()),
        [one] => one.to_string(),
        many => {
            return Err(format!(
                "{} rollback callables ({}); expected one",
                many.len(),
                many.join(", ")
            ));
        }
    };
    if !callable.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("callable name {callable:?} is not a Python identifier"));
    }
    let assignments: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let rest = l.strip_prefix("rollback_content")?;
            let rest = rest.trim_start();
            rest.strip_prefix('=').filter(|r| !r.starts_with('=')).map(|r| (i + 1, r.trim()))
        })
        .collect();
    let (line_no, content_line) = match assignments.as_slice() {
        [] => return Err("no `rollback_content = RollbackContent(...)` line found".into()),
        [one] => *one,
        many => {
            let lines: Vec<String> = many.iter().map(|(n, _)| n.to_string()).collect();
            return Err(format!(
                "`rollback_content` is assigned on lines {}; expected exactly one",
                lines.join(", ")
            ));
        }
    };
    let content = parse_content(content_line)
        .map_err(|e| format!("line {line_no}: rollback_content: {e}"))?;
    Ok(VersionFile { callable, content_line: content_line.to_string(), content })
}

/// Reads `RollbackContent(namespace=..., resource_identifier=..., ...)`.
pub fn parse_content(line: &str) -> Result<RollbackContent, String> {
    let (name, args) = parse_call(line)?;
    if name != "RollbackContent" {
        return Err(format!("expected RollbackContent(...), found {name}(...)"));
    }
    let mut content = RollbackContent::default();
    let mut has_identifier = false;
    for (key, value) in args {
        let wrong = |want: &str| format!("{key} is {} ({value}); expected {want}", value.kind());
        match key.as_str() {
            "namespace" => {
                content.namespace = optional_str(&value).ok_or_else(|| wrong("a string or None"))?
            }
            "cloud_type" => {
                content.cloud_type =
                    optional_str(&value).ok_or_else(|| wrong("a string or None"))?
            }
            "resource_identifier" => match value {
                PyValue::Str(s) => {
                    content.resource_identifier = s;
                    has_identifier = true;
                }
                _ => return Err(wrong("a string")),
            },
            "instance_ids" => match value {
                PyValue::None => content.instance_ids = None,
                PyValue::Seq(items) => content.instance_ids = Some(items),
                _ => return Err(wrong("a tuple or None")),
            },
            "skip_kubernetes" => match value {
                PyValue::Bool(b) => content.skip_kubernetes = b,
                _ => return Err(wrong("True or False")),
            },
            other => {
                return Err(format!(
                    "unknown field {other} (RollbackContent has namespace, resource_identifier, cloud_type, instance_ids, skip_kubernetes)"
                ));
            }
        }
    }
    // The template's dataclass gives resource_identifier no default: Python would fail too.
    if !has_identifier {
        return Err("resource_identifier is missing".into());
    }
    Ok(content)
}

fn optional_str(value: &PyValue) -> Option<Option<String>> {
    match value {
        PyValue::None => Some(None),
        PyValue::Str(s) => Some(Some(s.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOG: &str = "def rollback_hog_pod(rollback_content: RollbackContent, lib_telemetry: KrknTelemetryOpenshift):\n    try:\n        pass\n\nlib_openshift = None\nrollback_content = RollbackContent(namespace=\"default\", resource_identifier=\"cpu-hog-kqlog\", cloud_type=None, instance_ids=None, skip_kubernetes=False)\n\nif __name__ == '__main__':\n    rollback_hog_pod(\n        rollback_content,\n        lib_telemetry\n    )";

    #[test]
    fn reads_callable_and_content() {
        let file = parse(HOG).unwrap();
        assert_eq!(file.callable, "rollback_hog_pod");
        assert_eq!(file.content.namespace.as_deref(), Some("default"));
        assert_eq!(file.content.resource_identifier, "cpu-hog-kqlog");
        assert!(!file.content.skip_kubernetes);
    }

    #[test]
    fn indented_uses_do_not_count_but_duplicates_do() {
        let twice =
            format!("{HOG}\nrollback_content = RollbackContent(resource_identifier=\"x\")\n");
        assert!(parse(&twice).unwrap_err().contains("assigned on lines"));
        let two_defs = format!("def rollback_other(a, b):\n    pass\n{HOG}");
        assert!(parse(&two_defs).unwrap_err().contains("2 rollback callables"));
    }

    #[test]
    fn wrong_types_and_fields_are_named() {
        for (line, needle) in [
            ("RollbackContent(namespace=1, resource_identifier=\"x\")", "namespace is an integer"),
            ("RollbackContent(resource_identifier=None)", "resource_identifier is None"),
            ("RollbackContent(namespace=\"a\")", "resource_identifier is missing"),
            ("RollbackContent(resource_identifier=\"x\", colour=\"red\")", "unknown field colour"),
            (
                "RollbackContent(resource_identifier=\"x\", skip_kubernetes=\"yes\")",
                "True or False",
            ),
            ("Other(resource_identifier=\"x\")", "found Other"),
        ] {
            let err = parse_content(line).unwrap_err();
            assert!(err.contains(needle), "{line}: {err}");
        }
    }
}
