//! Kube `Client`s that cannot change the cluster: the client a dry run gets, and the client a
//! run gets under the dead man's switch, which stops changing anything once its fence drops.
//!
//! The scenario context already turns every change into a log line in a dry run; this is the
//! second wall. Whatever code holds this client — a scenario, the executor, the TUI — a request
//! that could change state is refused before it leaves the process, unless it asks the server
//! for a dry run itself (`dryRun=All`).

use std::sync::{Arc, OnceLock};

use http::{Method, Request};
use kube::Client;
use kube::client::Body;
use tower::BoxError;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
#[error("dry run: refused to send {method} {path} (a dry run makes no change)")]
pub struct DryRunRefused {
    pub method: String,
    pub path: String,
}

/// Whether a request may be sent by a dry run: reads, and server-side dry runs. A command in a
/// container (`exec`, `attach`, `portforward`) is never a read, although it opens with a GET.
pub fn allowed_in_dry_run(method: &Method, path: &str, query: Option<&str>) -> bool {
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if path.contains("/pods/") && matches!(last, "exec" | "attach" | "portforward") {
        return false;
    }
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || query.is_some_and(|q| q.split('&').any(|kv| kv == "dryRun=All"))
}

/// Wraps `client` so that it sends only reads (and server-side dry runs).
pub fn read_only(client: Client) -> Client {
    let namespace = client.default_namespace().to_string();
    let service = tower::service_fn(move |request: Request<Body>| {
        let client = client.clone();
        async move {
            if !allowed_in_dry_run(request.method(), request.uri().path(), request.uri().query()) {
                return Err(BoxError::from(DryRunRefused {
                    method: request.method().to_string(),
                    path: request.uri().path().to_string(),
                }));
            }
            client.send(request).await.map_err(BoxError::from)
        }
    });
    Client::new(service, namespace)
}

/// Once dropped, stays dropped: the run lost its Lease, so the watchdog owns its undos and this
/// process must not race it. Shared by the lease keeper (which drops it) and the fenced client.
#[derive(Debug, Clone, Default)]
pub struct Fence {
    dropped: Arc<OnceLock<String>>,
}

impl Fence {
    pub fn new() -> Fence {
        Fence::default()
    }

    /// Drops the fence with `reason`; the first reason is kept.
    pub fn drop_with(&self, reason: impl Into<String>) {
        let _ = self.dropped.set(reason.into());
    }

    /// Why the fence is down, if it is.
    pub fn dropped(&self) -> Option<&str> {
        self.dropped.get().map(String::as_str)
    }
}

/// Why a fenced request was refused.
#[derive(Debug, thiserror::Error)]
#[error("read-only: refused to send {method} {path}: {reason}")]
pub struct FenceDown {
    pub method: String,
    pub path: String,
    pub reason: String,
}

/// Wraps `client` so that, once `fence` is dropped, it sends only reads.
pub fn fenced(client: Client, fence: Fence) -> Client {
    let namespace = client.default_namespace().to_string();
    let service = tower::service_fn(move |request: Request<Body>| {
        let client = client.clone();
        let fence = fence.clone();
        async move {
            if let Some(reason) = fence.dropped()
                && !allowed_in_dry_run(
                    request.method(),
                    request.uri().path(),
                    request.uri().query(),
                )
            {
                return Err(BoxError::from(FenceDown {
                    method: request.method().to_string(),
                    path: request.uri().path().to_string(),
                    reason: reason.to_string(),
                }));
            }
            client.send(request).await.map_err(BoxError::from)
        }
    });
    Client::new(service, namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_keeps_its_first_reason() {
        let fence = Fence::new();
        assert_eq!(fence.dropped(), None);
        fence.clone().drop_with("lease lost");
        fence.drop_with("later");
        assert_eq!(fence.dropped(), Some("lease lost"));
    }

    #[test]
    fn only_reads_and_server_dry_runs_pass() {
        let pods = "/api/v1/namespaces/a/pods";
        assert!(allowed_in_dry_run(&Method::GET, pods, None));
        assert!(allowed_in_dry_run(&Method::GET, pods, Some("labelSelector=a%3Db")));
        assert!(!allowed_in_dry_run(&Method::POST, pods, None));
        assert!(!allowed_in_dry_run(&Method::DELETE, pods, Some("gracePeriodSeconds=0")));
        assert!(!allowed_in_dry_run(&Method::PATCH, pods, Some("dryRun=None")));
        assert!(allowed_in_dry_run(&Method::PATCH, pods, Some("fieldManager=x&dryRun=All")));
        assert!(allowed_in_dry_run(&Method::GET, "/api/v1/namespaces/a/pods/p/log", None));
        for sub in ["exec", "attach", "portforward"] {
            let path = format!("{pods}/p/{sub}");
            assert!(!allowed_in_dry_run(&Method::GET, &path, Some("command=ls&dryRun=All")));
        }
    }
}
