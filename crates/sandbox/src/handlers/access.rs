//! `authorization.k8s.io/v1 selfsubjectaccessreviews` (create only): the sandbox has no
//! authorization, so every review is allowed, and says why. And
//! `authentication.k8s.io/v1 selfsubjectreviews`: who the request is from ([`crate::identity`]).
//!
//! Owns: answering a review. Must not touch the store: a review is a question, not an object.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::request::Req;
use crate::response::json_response;
use crate::status::ApiError;

/// The path clients post reviews to.
pub const PATH: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
/// The path of "who am I" (`kubectl auth whoami`).
pub const WHOAMI_PATH: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

/// A `SelfSubjectReview` naming the requester.
pub fn whoami(req: &Req) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "metadata": {"creationTimestamp": null},
            "status": {"userInfo": {"username": req.user.username, "groups": req.user.groups}},
        }),
    ))
}

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
