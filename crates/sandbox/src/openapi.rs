//! A minimal OpenAPI v3: `/openapi/v3` (the index of group-versions) and
//! `/openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}` (one document each).
//!
//! Owns: just enough for kubectl's `--validate=strict` default (`kubectl apply|create -f`):
//! kubectl looks up the PATCH operation of the object's kind and, finding the
//! `fieldValidation` query parameter there, leaves validation to the server instead of
//! downloading schemas. No schemas are served, so `kubectl explain` still does not work, and
//! unknown fields are not refused (`fieldValidation` is accepted and ignored).
//! Must not read the store.

use serde_json::{Map, Value, json};

use super::resources::{RESOURCES, ResourceDef};

/// `group/version` path segment under `/openapi/v3/`: `api/v1` or `apis/apps/v1`.
fn gv_path(def: &ResourceDef) -> String {
    if def.group.is_empty() {
        format!("api/{}", def.version)
    } else {
        format!("apis/{}/{}", def.group, def.version)
    }
}

pub fn root() -> Value {
    let mut paths = Map::new();
    for def in RESOURCES.iter() {
        let gv = gv_path(def);
        paths.insert(
            gv.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash=sandbox")}),
        );
    }
    json!({"paths": paths})
}

/// The document for `gv` (`api/v1`, `apis/apps/v1`), or None if no resource is served there.
pub fn group_version(gv: &str) -> Option<Value> {
    let mut paths = Map::new();
    for def in RESOURCES.iter().filter(|d| gv_path(d) == gv) {
        let item = if def.namespaced {
            format!("/{gv}/namespaces/{{namespace}}/{}/{{name}}", def.plural)
        } else {
            format!("/{gv}/{}/{{name}}", def.plural)
        };
        let patch = json!({
            "operationId": format!("patch{}", def.kind),
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": def.group, "version": def.version, "kind": def.kind},
            "parameters": [
                {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}},
            ],
            "responses": {"200": {"description": "OK"}},
        });
        paths.insert(item, json!({"patch": patch}));
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "chaosdeck-sandbox"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}
