//! What every verb handler is given: the server's state and the parsed request.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::identity::User;
use crate::status::ApiError;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    /// Ends open watches on shutdown so the server can stop.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Whether the dead man's switch policies are enforced ([`crate::switch_policy`]).
    pub switch_policy: Arc<std::sync::atomic::AtomicBool>,
    /// What containers hold, for exec ([`crate::exec`]).
    pub filesystems: Arc<crate::exec::Filesystems>,
    /// The rules chaosdeck's helper pods hold ([`crate::exec::netfilter`]).
    pub netfilter: Arc<crate::exec::NetFilter>,
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
