//! How one object is held in a table: parsed, or as its serialized JSON.
//!
//! Owns: the choice between the two forms and the conversions. A `serde_json::Value` costs
//! far more than its JSON text: every object in it is a `BTreeMap` whose nodes have room for
//! eleven entries, and every key is its own allocation, so a 750-byte pod takes about 9 KB.
//! Kinds that come by the hundred thousand (pods, see [`compact`]) are therefore kept as JSON
//! bytes, a tenth of that, and parsed again on every read; the others stay parsed, because
//! controllers read them on every pass (all nodes, for one). Must not know HTTP.

use std::sync::Arc;

use serde_json::Value;

use crate::resources as r;

/// An object as the store holds it: shared, never copied on read.
pub type Obj = Arc<Value>;

/// Whether objects of this resource are kept as JSON bytes.
pub fn compact(res: usize) -> bool {
    res == r::PODS
}

/// serde_json refuses to parse JSON nested deeper than 128; an object that deep (a JSON Patch
/// can build one a level at a time) stays parsed so that reading it back cannot fail.
const MAX_COMPACT_DEPTH: usize = 100;

fn depth_within(v: &Value, budget: usize) -> bool {
    if budget == 0 {
        return false;
    }
    match v {
        Value::Array(items) => items.iter().all(|i| depth_within(i, budget - 1)),
        Value::Object(map) => map.values().all(|i| depth_within(i, budget - 1)),
        _ => true,
    }
}

/// One stored object. Cloning is cheap in both forms (a reference count).
#[derive(Debug, Clone)]
pub enum Stored {
    Parsed(Obj),
    /// The object's JSON, as `serde_json::to_vec` wrote it.
    Json(Arc<[u8]>),
}

impl Stored {
    /// The form `res` keeps its objects in.
    pub fn new(res: usize, obj: Obj) -> Stored {
        if compact(res) && depth_within(&obj, MAX_COMPACT_DEPTH) {
            // Serialising a Value into a Vec cannot fail.
            if let Ok(bytes) = serde_json::to_vec(&*obj) {
                return Stored::Json(bytes.into());
            }
        }
        Stored::Parsed(obj)
    }

    /// The object, parsed (a fresh copy for the JSON form).
    pub fn obj(&self) -> Obj {
        match self {
            Stored::Parsed(obj) => obj.clone(),
            Stored::Json(bytes) => Arc::new(parse(bytes)),
        }
    }

    /// Appends the object's JSON to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            // Serialising a Value into a Vec cannot fail.
            Stored::Parsed(obj) => {
                let _ = serde_json::to_writer(&mut *out, &**obj);
            }
            Stored::Json(bytes) => out.extend_from_slice(bytes),
        }
    }

    /// Whether the object may contain `needle` as a JSON string: false means it certainly
    /// does not, so a scan for one uid can skip parsing nearly every object.
    pub fn may_contain_str(&self, needle: &str) -> bool {
        match self {
            Stored::Parsed(_) => true,
            Stored::Json(bytes) => memchr::memmem::find(bytes, needle.as_bytes()).is_some(),
        }
    }

    /// The object's JSON when it is kept as JSON; `None` for a parsed one.
    pub fn json(&self) -> Option<&[u8]> {
        match self {
            Stored::Parsed(_) => None,
            Stored::Json(bytes) => Some(bytes),
        }
    }
}

/// The values of every `"key":"…"` in a compact JSON text (serde_json's output), in order;
/// `None` for a value with an escape in it. Quotes inside strings are escaped, so a match is
/// always a real key, though possibly one of a nested object (a label named like the field).
pub fn string_fields<'a>(json: &'a [u8], key: &str) -> impl Iterator<Item = Option<&'a str>> + 'a {
    let needle = format!("\"{key}\":\"").into_bytes();
    let starts: Vec<usize> =
        memchr::memmem::find_iter(json, &needle).map(|at| at + needle.len()).collect();
    starts.into_iter().map(move |start| {
        let rest = &json[start..];
        let end = memchr::memchr(b'"', rest)?;
        std::str::from_utf8(&rest[..end]).ok().filter(|v| !v.contains('\\'))
    })
}

fn parse(bytes: &[u8]) -> Value {
    // The bytes are serde_json's own output of a Value no deeper than MAX_COMPACT_DEPTH, so
    // this cannot fail; if it ever did, an empty object is a better answer than a panic.
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        tracing::error!("a stored object does not parse back: {e}");
        Value::Object(serde_json::Map::new())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pods_are_kept_as_json_and_read_back_equal() {
        let pod =
            Arc::new(json!({"metadata": {"name": "a", "uid": "u-1"}, "spec": {"x": [1, 2.5]}}));
        let s = Stored::new(r::PODS, pod.clone());
        assert!(matches!(s, Stored::Json(_)));
        assert_eq!(s.obj(), pod);
        let mut out = Vec::new();
        s.write_json(&mut out);
        assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), *pod);
        assert!(s.may_contain_str("u-1"));
        assert!(!s.may_contain_str("u-2"));
        assert!(matches!(Stored::new(r::NODES, pod), Stored::Parsed(_)));
    }

    #[test]
    fn a_pod_too_deep_to_parse_back_stays_parsed() {
        let mut deep = json!(1);
        for _ in 0..150 {
            deep = json!([deep]);
        }
        let pod = Arc::new(json!({"metadata": {"name": "a"}, "spec": deep}));
        let s = Stored::new(r::PODS, pod.clone());
        assert!(matches!(s, Stored::Parsed(_)));
        assert_eq!(s.obj(), pod);
    }

    #[test]
    fn string_fields_finds_every_real_key_and_refuses_escapes() {
        let pod = json!({
            "metadata": {"labels": {"nodeName": "n1"}, "annotations": {"a": "\"nodeName\":\"n9\""}},
            "spec": {"nodeName": "n\"2"},
            "status": {"nominatedNodeName": "n3"},
        });
        let bytes = serde_json::to_vec(&pod).unwrap_or_default();
        let found: Vec<Option<&str>> = string_fields(&bytes, "nodeName").collect();
        assert_eq!(found, [Some("n1"), None]);
    }
}
