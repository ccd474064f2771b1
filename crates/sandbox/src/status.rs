//! Kubernetes `Status` errors.
//!
//! Owns: the error type every handler and store operation returns, and its wire form. The
//! messages copy the API server's wording on purpose: kubectl prints them verbatim
//! (`Error from server (NotFound): pods "x" not found`) and users grep for them.
//! Must not decide *when* an error happens; callers do.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::resources::ResourceDef;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn not_found(def: &ResourceDef, name: &str) -> Self {
        Self::not_found_named(&def.qualified(), def.plural, def.group, name)
    }

    /// For things that are not a served resource row, e.g. a namespace referenced by a URL.
    pub fn not_found_named(qualified: &str, plural: &str, group: &str, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{qualified} \"{name}\" not found"))
            .with_details(json!({"name": name, "group": group, "kind": plural}))
    }

    pub fn namespace_not_found(ns: &str) -> Self {
        Self::not_found_named("namespaces", "namespaces", "", ns)
    }

    pub fn path_not_found() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
    }

    pub fn already_exists(def: &ResourceDef, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", def.qualified()))
            .with_details(json!({"name": name, "group": def.group, "kind": def.plural}))
    }

    pub fn conflict(def: &ResourceDef, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{name}\": {why}", def.qualified()),
        )
        .with_details(json!({"name": name, "group": def.group, "kind": def.plural}))
    }

    /// A failed delete precondition: the API server names the kind here, not the resource.
    pub fn precondition(def: &ResourceDef, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{name}\": {why}", def.kind),
        )
        .with_details(json!({"name": name, "group": def.group, "kind": def.kind}))
    }

    pub fn stale(def: &ResourceDef, name: &str) -> Self {
        Self::conflict(
            def,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 with one cause; `field` is the JSON path kubectl shows (`metadata.name`), `detail`
    /// starts as the API server's field errors do ("Required value", "Invalid value: ...",
    /// "Unsupported value: ...", "Duplicate value: ..."), which also picks the cause's reason.
    pub fn invalid(def: &ResourceDef, name: &str, field: &str, detail: &str) -> Self {
        let kind = if def.group.is_empty() {
            def.kind.to_string()
        } else {
            format!("{}.{}", def.kind, def.group)
        };
        Self::invalid_kind(&kind, def.kind, def.group, name, field, detail)
    }

    /// [`ApiError::invalid`] for what is not a resource row (`PatchOptions.meta.k8s.io`).
    pub fn invalid_kind(
        qualified: &str,
        kind: &str,
        group: &str,
        name: &str,
        field: &str,
        detail: &str,
    ) -> Self {
        let reason = if detail.starts_with("Required value") {
            "FieldValueRequired"
        } else if detail.starts_with("Unsupported value") {
            "FieldValueNotSupported"
        } else if detail.starts_with("Duplicate value") {
            "FieldValueDuplicate"
        } else {
            "FieldValueInvalid"
        };
        Self::new(422, "Invalid", format!("{qualified} \"{name}\" is invalid: {field}: {detail}"))
            .with_details(json!({
                "name": name,
                "group": group,
                "kind": kind,
                "causes": [{"reason": reason, "message": detail, "field": field}],
            }))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"
            ),
        )
    }

    pub fn gone(requested: u64, oldest: u64) -> Self {
        Self::new(410, "Expired", format!("too old resource version: {requested} ({oldest})"))
    }

    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(429, "TooManyRequests", message)
    }

    /// 429 with `Retry-After` (and `details.retryAfterSeconds`), as API Priority and Fairness
    /// answers a request it sheds.
    pub fn too_many_requests_retry(message: impl Into<String>, seconds: u64) -> Self {
        Self::new(429, "TooManyRequests", message)
            .with_details(json!({"retryAfterSeconds": seconds}))
    }

    pub fn forbidden_terminating(def: &ResourceDef, name: &str, ns: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                def.qualified()
            ),
        )
    }

    /// Denied by admission or authorization: the message says by what.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// A credential the sandbox cannot read (it reads bearer tokens only).
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The wire form. Empty `details` strings are left out, as the API server's `omitempty` does.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let (Some(details), Some(map)) = (&self.details, status.as_object_mut()) {
            map.insert("details".into(), omit_empty(details));
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = crate::response::json_response(code, &self.to_status());
        let retry =
            self.details.as_ref().and_then(|d| d.get("retryAfterSeconds")).and_then(Value::as_u64);
        if let Some(secs) = retry {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

fn omit_empty(details: &Value) -> Value {
    match details.as_object() {
        Some(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| v.as_str() != Some(""))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        None => details.clone(),
    }
}

/// The `Status` a successful delete returns when the object is gone immediately.
pub fn success_status(def: &ResourceDef, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": omit_empty(&json!({"name": name, "group": def.group, "kind": def.plural, "uid": uid})),
    })
}
