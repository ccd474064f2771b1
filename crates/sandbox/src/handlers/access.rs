//! `authorization.k8s.io/v1 selfsubjectaccessreviews` (create only): the sandbox has no
//! authorization, so every review is allowed, and says why.
//!
//! Owns: answering a review. Must not touch the store: a review is a question, not an object.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Req, json_response};
use crate::status::ApiError;

/// The path clients post reviews to.
pub const PATH: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

/// The review echoed back with `status.allowed: true`.
pub fn review(req: &Req) -> Result<Response, ApiError> {
    let mut body = req.json_body()?;
    let spec = body.get("spec").cloned().unwrap_or(Value::Null);
    if spec.get("resourceAttributes").is_none() && spec.get("nonResourceAttributes").is_none() {
        return Err(ApiError::bad_request(
            "spec.resourceAttributes or spec.nonResourceAttributes is required",
        ));
    }
    if let Some(map) = body.as_object_mut() {
        map.insert("apiVersion".into(), json!("authorization.k8s.io/v1"));
        map.insert("kind".into(), json!("SelfSubjectAccessReview"));
        map.insert(
            "status".into(),
            json!({"allowed": true, "reason": "sandbox: no authorization"}),
        );
    }
    Ok(json_response(StatusCode::CREATED, &body))
}
