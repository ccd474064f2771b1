//! A kube `Client` that cannot change the cluster: the client a dry run gets.
//!
//! The scenario context already turns every change into a log line in a dry run; this is the
//! second wall. Whatever code holds this client — a scenario, the executor, the TUI — a request
//! that could change state is refused before it leaves the process, unless it asks the server
//! for a dry run itself (`dryRun=All`).

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

/// Whether `method` + `query` may be sent by a dry run.
pub fn allowed_in_dry_run(method: &Method, query: Option<&str>) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || query.is_some_and(|q| q.split('&').any(|kv| kv == "dryRun=All"))
}

/// Wraps `client` so that it sends only reads (and server-side dry runs).
pub fn read_only(client: Client) -> Client {
    let namespace = client.default_namespace().to_string();
    let service = tower::service_fn(move |request: Request<Body>| {
        let client = client.clone();
        async move {
            if !allowed_in_dry_run(request.method(), request.uri().query()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_and_server_dry_runs_pass() {
        assert!(allowed_in_dry_run(&Method::GET, None));
        assert!(allowed_in_dry_run(&Method::GET, Some("labelSelector=a%3Db")));
        assert!(!allowed_in_dry_run(&Method::POST, None));
        assert!(!allowed_in_dry_run(&Method::DELETE, Some("gracePeriodSeconds=0")));
        assert!(!allowed_in_dry_run(&Method::PATCH, Some("dryRun=None")));
        assert!(allowed_in_dry_run(&Method::PATCH, Some("fieldManager=x&dryRun=All")));
    }
}
