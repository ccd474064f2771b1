//! HTTP front of the sandbox: URL parsing and dispatch to discovery, CRUD, watch and
//! subresource handlers, and the synthetic service proxy.
//!
//! Owns: mapping Kubernetes REST paths (`/api/v1/namespaces/{ns}/{resource}/{name}/{sub}`,
//! `/apis/{group}/{version}/...`) and verbs onto store operations, and the wire format of
//! responses. Paths are parsed by hand because axum's router cannot tell
//! `/api/v1/namespaces/x/pods` from `/api/v1/namespaces/x/status`. Must not keep state of its
//! own beyond [`AppState`]; loopback-only, no authentication by design.

mod access;
mod crud;
pub mod proxy;
mod request;
mod subresources;
pub mod table;
mod watch;

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::discovery;
use super::identity::User;
use super::resources::{self as r, RESOURCES};
use super::status::ApiError;

pub use crate::response::{json_response, raw_json};
pub use request::{AppState, Req, Target};

pub fn router(state: AppState) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

enum Route {
    Json(Value),
    Resource(Target),
}

fn parse_path(path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Ok(Route::Json(discovery::version())),
        ["api"] => return Ok(Route::Json(discovery::core_versions())),
        ["apis"] => return Ok(Route::Json(discovery::group_list())),
        ["openapi", "v3"] => return Ok(Route::Json(crate::openapi::root())),
        ["openapi", "v3", gv @ ..] => {
            return crate::openapi::group_version(&gv.join("/"))
                .map(Route::Json)
                .ok_or_else(ApiError::path_not_found);
        }
        ["apis", g] => {
            return discovery::group(g).map(Route::Json).ok_or_else(ApiError::path_not_found);
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::path_not_found()),
    };
    if rest.is_empty() {
        return discovery::resource_list(group, version)
            .map(Route::Json)
            .ok_or_else(ApiError::path_not_found);
    }
    let namespaced_path =
        rest.len() >= 3 && rest[0] == "namespaces" && !matches!(rest[2], "status" | "finalize");
    let (ns, rest) = if namespaced_path { (Some(rest[1]), &rest[2..]) } else { (None, rest) };
    let res = r::find(group, version, rest[0]).ok_or_else(ApiError::path_not_found)?;
    let def = &RESOURCES[res];
    if rest.len() > 3 || (ns.is_some() && !def.namespaced) {
        return Err(ApiError::path_not_found());
    }
    let name = rest.get(1).map(|s| s.to_string());
    let sub = rest.get(2).map(|s| s.to_string());
    if let Some(s) = &sub
        && !def.has_sub(s)
    {
        return Err(ApiError::path_not_found());
    }
    // A namespaced object must be addressed through its namespace.
    if def.namespaced && ns.is_none() && name.is_some() {
        return Err(ApiError::path_not_found());
    }
    Ok(Route::Resource(Target { res, ns: ns.map(String::from), name, sub }))
}

async fn dispatch(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    body: Bytes,
) -> Response {
    let user = match User::of(&headers) {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    // Not stored resources: questions about our own permissions and identity (see `access`).
    let path = uri.path().trim_end_matches('/');
    if path == access::PATH || path == access::WHOAMI_PATH {
        if method != Method::POST {
            return ApiError::method_not_allowed("reviews only support create").into_response();
        }
        let target = Target { res: 0, ns: None, name: None, sub: None };
        let req = Req { target, query: HashMap::new(), headers, body, user };
        let answer = if path == access::PATH { access::review(&req) } else { access::whoami(&req) };
        return answer.unwrap_or_else(IntoResponse::into_response);
    }
    // Not stored either: answered from the simulated state of the Service (see `proxy`).
    if let Some((ns, name, port, path)) = proxy::parse(uri.path()) {
        return proxy::answer(&state, ns, name, port, &path).await;
    }
    let route = match parse_path(uri.path()) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let target = match route {
        Route::Json(doc) if method == Method::GET => return json_response(StatusCode::OK, &doc),
        Route::Json(_) => {
            return ApiError::method_not_allowed("discovery is read-only").into_response();
        }
        Route::Resource(t) => t,
    };
    if target.sub.as_deref() == Some("exec") {
        return exec(&state, &target, &method, uri.query().unwrap_or(""), upgrade);
    }
    let query =
        Query::<HashMap<String, String>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default();
    let req = Req { target, query, headers, body, user };
    let result = match (&method, req.target.name.is_some(), req.target.sub.as_deref()) {
        (&Method::GET, false, _) if is_watch(&req) => return watch::watch(&state, &req).await,
        (&Method::GET, false, _) => crud::list(&state, &req),
        (&Method::POST, false, _) => crud::create(&state, &req),
        (&Method::DELETE, false, _) => crud::delete_collection(&state, &req),
        (&Method::GET, true, None) if is_watch(&req) => return watch::watch(&state, &req).await,
        (&Method::GET, true, None) => crud::get(&state, &req),
        (&Method::PUT, true, None) => crud::update(&state, &req),
        (&Method::PATCH, true, None) => crud::patch(&state, &req),
        (&Method::DELETE, true, None) => crud::delete(&state, &req),
        (_, true, Some(sub)) => subresources::handle(&state, &req, &method, sub),
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method})"
        ))),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `pods/{name}/exec`: checked first, so a bad request gets its Status before any upgrade.
fn exec(
    state: &AppState,
    target: &Target,
    method: &Method,
    query: &str,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if method != Method::GET && method != Method::POST {
        return ApiError::method_not_allowed(format!(
            "the server does not allow {method} on the exec subresource"
        ))
        .into_response();
    }
    let name = target.name.as_deref().unwrap_or("");
    let req = match crate::exec::check(&state.store, target.ns(), name, query) {
        Ok(req) => req,
        Err(e) => return e.into_response(),
    };
    let Ok(upgrade) = upgrade else {
        return ApiError::bad_request("Upgrade request required").into_response();
    };
    if let Err(e) = crate::exec::check_running(&state.store, &req) {
        return e.into_response();
    }
    // A node whose interfaces a helper set down cannot be dialled, as kube-apiserver finds.
    if let Ok(pod) = state.store.get(crate::resources::PODS, &req.ns, &req.pod)
        && let Some(node) = crate::meta::str_at(&pod, &["spec", "nodeName"])
        && state.netfilter.cut_off(&state.store, node)
    {
        return ApiError::internal(format!(
            "error dialing backend: dial tcp {node}:10250: i/o timeout (its interfaces are down)"
        ))
        .into_response();
    }
    crate::exec::serve(
        state.store.clone(),
        state.filesystems.clone(),
        state.netfilter.clone(),
        upgrade,
        req,
    )
}

fn is_watch(req: &Req) -> bool {
    matches!(req.q("watch"), Some("1" | "true"))
}
