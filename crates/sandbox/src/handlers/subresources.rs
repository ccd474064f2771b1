//! Subresources: `status` (get/update/patch), `scale` (get/update/patch, as autoscaling/v1
//! Scale), `eviction` (create, refused with 429 when a PodDisruptionBudget forbids it) and
//! `finalize` on namespaces.
//!
//! Owns: the translation between a subresource's shape and its parent object. Must not
//! bypass the store's concurrency checks.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::crud::{self, delete_opts};
use super::request::{AppState, Req};
use crate::controllers::disruption;
use crate::meta;
use crate::patch::{self, PatchKind};
use crate::resources::{self as r, RESOURCES};
use crate::response::json_response;
use crate::selectors::LabelSelector;
use crate::status::ApiError;
use crate::store::{DeleteOpts, Part};

pub fn handle(
    state: &AppState,
    req: &Req,
    method: &Method,
    sub: &str,
) -> Result<Response, ApiError> {
    match (sub, method) {
        ("status", &Method::GET) => crud::get(state, req),
        ("status", &Method::PUT) | ("finalize", &Method::PUT) => {
            let body = req.json_body()?;
            let name = req.target.name.as_deref().unwrap_or("");
            let obj =
                state.store.update(req.target.res, req.target.ns(), name, body, Part::Status)?;
            Ok(json_response(StatusCode::OK, &obj))
        }
        ("status", &Method::PATCH) => crud::patch_part(state, req, Part::Status),
        ("scale", &Method::GET) => {
            let name = req.target.name.as_deref().unwrap_or("");
            let obj = state.store.get(req.target.res, req.target.ns(), name)?;
            Ok(json_response(StatusCode::OK, &scale_of(&obj)))
        }
        ("scale", &Method::PUT) | ("scale", &Method::PATCH) => update_scale(state, req, method),
        ("eviction", &Method::POST) => evict(state, req),
        ("log", &Method::GET) => log(state, req),
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow {method} on the {sub} subresource"
        ))),
    }
}

fn scale_of(obj: &Value) -> Value {
    let selector = meta::at(obj, &["spec", "selector"])
        .and_then(|s| LabelSelector::from_api(s).ok())
        .map(|s| s.as_query())
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta::name(obj),
            "namespace": meta::namespace(obj),
            "uid": meta::uid(obj),
            "resourceVersion": meta::resource_version(obj),
            "creationTimestamp": meta::at(obj, &["metadata", "creationTimestamp"]),
        },
        "spec": {"replicas": meta::i64_at(obj, &["spec", "replicas"]).unwrap_or(0)},
        "status": {
            "replicas": meta::i64_at(obj, &["status", "replicas"]).unwrap_or(0),
            "selector": selector,
        },
    })
}

fn update_scale(state: &AppState, req: &Req, method: &Method) -> Result<Response, ApiError> {
    let def = &RESOURCES[req.target.res];
    let name = req.target.name.as_deref().unwrap_or("");
    let (kind, body) = if method == Method::PATCH {
        let kind = PatchKind::from_content_type(req.content_type())?;
        (Some(kind), patch::parse_body(kind, &req.body)?)
    } else {
        (None, req.json_body()?)
    };
    let obj = state.store.modify(req.target.res, req.target.ns(), name, Part::All, |cur| {
        let current_scale = scale_of(cur);
        let wanted = match kind {
            Some(k) => patch::apply(k, &current_scale, &body)?,
            None => body.clone(),
        };
        let given_rv = meta::resource_version(&wanted);
        if !given_rv.is_empty() && given_rv != meta::resource_version(cur) {
            return Err(ApiError::stale(def, name));
        }
        let replicas = meta::at(&wanted, &["spec", "replicas"]).cloned().unwrap_or(json!(0));
        let Some(n) = replicas.as_i64() else {
            return Err(ApiError::bad_request("spec.replicas must be an integer"));
        };
        if n < 0 {
            return Err(ApiError::invalid(
                def,
                name,
                "spec.replicas",
                &format!("Invalid value: {n}: must be greater than or equal to 0"),
            ));
        }
        let mut next = cur.clone();
        meta::set(&mut next, &["spec", "replicas"], json!(n));
        Ok(next)
    })?;
    Ok(json_response(StatusCode::OK, &scale_of(&obj)))
}

fn evict(state: &AppState, req: &Req) -> Result<Response, ApiError> {
    if req.target.res != r::PODS {
        return Err(ApiError::path_not_found());
    }
    let name = req.target.name.as_deref().unwrap_or("");
    let ns = req.target.ns();
    let body = req.json_body()?;
    let body_name = meta::name(&body);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request("name in URL does not match name in Eviction object"));
    }
    let mut opts = match body.get("deleteOptions") {
        Some(d) if !d.is_null() => {
            let inner = Req {
                target: req.target.clone(),
                query: Default::default(),
                headers: Default::default(),
                body: serde_json::to_vec(d).unwrap_or_default().into(),
                user: req.user.clone(),
            };
            delete_opts(&inner)?
        }
        _ => DeleteOpts::default(),
    };
    // The eviction lock makes check-then-delete atomic across concurrent evictions.
    let _guard = disruption::eviction_lock();
    let pod = state.store.get(r::PODS, ns, name)?;
    disruption::check_eviction(&state.store, &pod)?;
    if opts.uid.is_none() {
        opts.uid = Some(meta::uid(&pod).to_string());
    }
    state.store.delete(r::PODS, ns, name, &opts)?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}

/// A synthetic log: there are no containers, but `kubectl logs` should still say something
/// true about the pod rather than fail.
fn log(state: &AppState, req: &Req) -> Result<Response, ApiError> {
    let name = req.target.name.as_deref().unwrap_or("");
    let pod = state.store.get(r::PODS, req.target.ns(), name)?;
    let containers: Vec<String> = meta::at(&pod, &["spec", "containers"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
        .collect();
    let container = match req.q("container") {
        Some(c) if containers.iter().any(|n| n == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    let phase = meta::str_at(&pod, &["status", "phase"]).unwrap_or("Unknown");
    let started = meta::str_at(&pod, &["status", "startTime"]).unwrap_or("-");
    let node = meta::str_at(&pod, &["spec", "nodeName"]).unwrap_or("<none>");
    let text = format!(
        "chaosdeck sandbox: no real container runs here.\n\
         container {container} of pod {}/{name} on node {node}: phase {phase}, started {started}\n",
        req.target.ns()
    );
    let mut resp = Response::new(axum::body::Body::from(text));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain"),
    );
    Ok(resp)
}
