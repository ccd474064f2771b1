//! The three patch formats: JSON merge (RFC 7386), JSON patch (RFC 6902) and the strategic
//! merge patch kubectl sends for built-in kinds.
//!
//! Owns: turning (current object, patch body, content type) into the new object. Strategic
//! merge covers what kubectl label/annotate/cordon/scale/apply/set image produce: map merges,
//! `null` deletes, lists merged by their patch merge key, and the `$patch`, `$retainKeys`,
//! `$setElementOrder` and `$deleteFromPrimitiveList` directives. Must not touch the store.

use serde_json::{Map, Value};

use super::status::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Result<Self, ApiError> {
        let base = ct.split(';').next().unwrap_or("").trim();
        match base {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(Self::Apply),
            _ => Err(ApiError::unsupported_media(ct)),
        }
    }
}

pub fn parse_body(kind: PatchKind, body: &[u8]) -> Result<Value, ApiError> {
    let parsed = if kind == PatchKind::Apply {
        // Server-side apply bodies are YAML (JSON is YAML too).
        serde_json::from_slice(body).or_else(|_| {
            let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
            serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string())
        })
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
}

pub fn apply(kind: PatchKind, current: &Value, patch: &Value) -> Result<Value, ApiError> {
    let mut doc = current.clone();
    match kind {
        PatchKind::Merge | PatchKind::Apply => json_patch::merge(&mut doc, patch),
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            // The API server answers 422 Invalid when a well-formed patch cannot be applied
            // (a failed `test`, a `remove` of a missing path); clients tell that apart from a
            // malformed body (400) to learn that a conditional patch's condition did not hold.
            // The API server's own words: it does not say which operation failed.
            json_patch::patch(&mut doc, &ops).map_err(|_| ApiError {
                code: 422,
                reason: "Invalid",
                message: "the server rejected our request due to an error in our request".into(),
                details: None,
            })?;
        }
        PatchKind::Strategic => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("a strategic merge patch must be an object"));
            }
            strategic(&mut doc, patch, &mut Vec::new());
        }
    }
    Ok(doc)
}

/// The patch merge key of a list field, as the Kubernetes Go types declare it.
fn merge_key(path: &[String], field: &str) -> Option<&'static str> {
    let parent = path.last().map(String::as_str).unwrap_or("");
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => Some("name"),
        "ports" if parent == "containers" || parent == "initContainers" => Some("containerPort"),
        "ports" => Some("port"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "ownerReferences" => Some("uid"),
        "conditions" => Some("type"),
        "topologySpreadConstraints" => Some("topologyKey"),
        _ => None,
    }
}

fn strip_directives(map: &Map<String, Value>) -> Value {
    Value::Object(
        map.iter()
            .filter(|(k, _)| !k.starts_with('$'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

fn directive(v: &Value) -> Option<&str> {
    v.get("$patch").and_then(Value::as_str)
}

fn strategic(orig: &mut Value, patch: &Value, path: &mut Vec<String>) {
    let Some(pmap) = patch.as_object() else {
        *orig = patch.clone();
        return;
    };
    if directive(patch) == Some("replace") {
        *orig = strip_directives(pmap);
        return;
    }
    if !orig.is_object() {
        *orig = Value::Object(Map::new());
    }
    let Some(omap) = orig.as_object_mut() else { return };
    if let Some(keep) = pmap.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        omap.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, pv) in pmap {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(list), Some(gone)) =
                (omap.get_mut(field).and_then(Value::as_array_mut), pv.as_array())
            {
                list.retain(|v| !gone.contains(v));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        match pv {
            Value::Null => {
                omap.remove(key);
            }
            Value::Object(_) if directive(pv) == Some("delete") => {
                omap.remove(key);
            }
            Value::Object(_) => {
                let slot = omap.entry(key.clone()).or_insert(Value::Null);
                path.push(key.clone());
                strategic(slot, pv, path);
                path.pop();
            }
            Value::Array(items) => {
                let merged = merge_list(omap.get(key), items, merge_key(path, key), key, path);
                omap.insert(key.clone(), merged);
            }
            _ => {
                omap.insert(key.clone(), pv.clone());
            }
        }
    }
}

fn merge_list(
    orig: Option<&Value>,
    items: &[Value],
    key: Option<&str>,
    field: &str,
    path: &mut Vec<String>,
) -> Value {
    if items.iter().any(|i| directive(i) == Some("replace")) {
        return Value::Array(
            items.iter().filter(|i| directive(i) != Some("replace")).cloned().collect(),
        );
    }
    let orig_list = orig.and_then(Value::as_array);
    if field == "finalizers" {
        // Finalizers merge as a set of strings.
        let mut out: Vec<Value> = orig_list.cloned().unwrap_or_default();
        for i in items {
            if !out.contains(i) {
                out.push(i.clone());
            }
        }
        return Value::Array(out);
    }
    let (Some(key), Some(orig_list)) = (key, orig_list) else {
        return Value::Array(
            items.iter().filter(|i| directive(i) != Some("delete")).cloned().collect(),
        );
    };
    let mut out = orig_list.clone();
    for item in items {
        let id = item.get(key);
        let pos = id.and_then(|id| out.iter().position(|o| o.get(key) == Some(id)));
        match (directive(item), pos) {
            (Some("delete"), Some(p)) => {
                out.remove(p);
            }
            (Some("delete"), None) => {}
            (_, Some(p)) => {
                path.push(field.to_string());
                strategic(&mut out[p], item, path);
                path.pop();
            }
            (_, None) => {
                let clean = item.as_object().map(strip_directives).unwrap_or_else(|| item.clone());
                out.push(clean);
            }
        }
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merges_containers_by_name_and_deletes_nulls() {
        let cur = json!({"metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"containers": [{"name": "c", "image": "x:1"}, {"name": "d", "image": "y"}]}});
        let patch = json!({"metadata": {"labels": {"a": null, "c": "3"}},
            "spec": {"containers": [{"name": "c", "image": "x:2"}, {"name": "d", "$patch": "delete"}]}});
        let out = apply(PatchKind::Strategic, &cur, &patch).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        assert_eq!(out["spec"]["containers"], json!([{"name": "c", "image": "x:2"}]));
    }

    #[test]
    fn json_patch_and_merge() {
        let cur = json!({"spec": {"replicas": 1, "x": [1, 2]}});
        let jp = json!([{"op": "replace", "path": "/spec/replicas", "value": 5}]);
        assert_eq!(apply(PatchKind::Json, &cur, &jp).unwrap()["spec"]["replicas"], 5);
        let mp = json!({"spec": {"x": [3]}});
        assert_eq!(apply(PatchKind::Merge, &cur, &mp).unwrap()["spec"]["x"], json!([3]));
        let bad = json!([{"op": "test", "path": "/spec/replicas", "value": 9}]);
        assert_eq!(apply(PatchKind::Json, &cur, &bad).map_err(|e| e.code), Err(422));
        let missing = json!([{"op": "remove", "path": "/spec/nothing"}]);
        assert_eq!(apply(PatchKind::Json, &cur, &missing).map_err(|e| e.code), Err(422));
        let malformed = json!([{"op": "frobnicate", "path": "/spec"}]);
        assert_eq!(apply(PatchKind::Json, &cur, &malformed).map_err(|e| e.code), Err(400));
    }
}
