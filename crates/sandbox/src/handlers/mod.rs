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
mod subresources;
pub mod table;
mod watch;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::discovery;
use super::identity::User;
use super::resources::{self as r, RESOURCES};
use super::status::ApiError;
use super::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    /// Ends open watches on shutdown so the server can stop.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Whether the dead man's switch policies are enforced ([`crate::switch_policy`]).
    pub switch_policy: Arc<std::sync::atomic::AtomicBool>,
}

pub fn router(state: AppState) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

pub fn json_response(code: StatusCode, value: &Value) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => raw_json(code, bytes),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode response: {e}"))
            .into_response(),
    }
}

pub fn raw_json(code: StatusCode, bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = code;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    resp
}

/// What a resource URL points at.
#[derive(Debug, Clone)]
pub struct Target {
    pub res: usize,
    /// Set when the URL names a namespace (always for namespaced single objects).
    pub ns: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

impl Target {
    pub fn ns(&self) -> &str {
        self.ns.as_deref().unwrap_or("")
    }
}

/// Request details every verb handler needs.
pub struct Req {
    pub target: Target,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Who asks ([`crate::identity`]).
    pub user: User,
}

impl Req {
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// `Accept: ...;as=PartialObjectMetadata` (or `...List`): only the objects' metadata,
    /// as kube-rs's metadata watches and `kubectl get -o name` ask.
    pub fn wants_metadata(&self) -> bool {
        self.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("as=PartialObjectMetadata"))
    }

    pub fn wants_table(&self) -> bool {
        self.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("as=Table"))
    }

    pub fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The body as JSON (or YAML, which some clients send for create/update).
    pub fn json_body(&self) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::bad_request("the request body is empty"));
        }
        if self.content_type().contains("protobuf") {
            return crate::protobuf::decode_body(&self.body)
                .map_err(|e| ApiError::bad_request(format!("cannot decode protobuf body: {e}")));
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(v) => Ok(v),
            Err(json_err) if self.content_type().contains("yaml") => {
                let text = std::str::from_utf8(&self.body)
                    .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
                serde_saphyr::from_str::<Value>(text).map_err(|e| {
                    ApiError::bad_request(format!(
                        "cannot decode YAML body: {e} (as JSON: {json_err})"
                    ))
                })
            }
            Err(e) => Err(ApiError::bad_request(format!(
                "cannot decode JSON body ({}): {e}",
                self.content_type()
            ))),
        }
    }
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
        return proxy::answer(&state, ns, name, port, &path);
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

fn is_watch(req: &Req) -> bool {
    matches!(req.q("watch"), Some("1" | "true"))
}
