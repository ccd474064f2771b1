//! An optional record of every request the sandbox served (method, path, query), so tests and
//! benches can count what a client really sent — e.g. that a dry run sent no mutating request.
//!
//! Off unless [`super::SandboxOptions::record_requests`] is set: a scale seed serves millions of
//! requests, and keeping them would be a leak.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// One request as it reached the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
}

impl RecordedRequest {
    /// A request that may change state: anything but GET, HEAD and OPTIONS, and a command in
    /// a container (exec, attach, port-forward), which opens with a GET.
    pub fn is_mutating(&self) -> bool {
        let last = self.path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
            || (self.path.contains("/pods/") && matches!(last, "exec" | "attach" | "portforward"))
    }

    /// Whether the request asked for a server-side dry run (`dryRun=All`).
    pub fn is_server_dry_run(&self) -> bool {
        self.query.split('&').any(|kv| kv == "dryRun=All")
    }
}

impl std::fmt::Display for RecordedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.query.is_empty() {
            write!(f, "{} {}", self.method, self.path)
        } else {
            write!(f, "{} {}?{}", self.method, self.path, self.query)
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<RecordedRequest>>>);

impl RequestLog {
    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        self.0.lock().map(|log| log.clone()).unwrap_or_default()
    }

    fn push(&self, request: RecordedRequest) {
        if let Ok(mut log) = self.0.lock() {
            log.push(request);
        }
    }
}

/// axum middleware: records the request, then serves it.
pub async fn record(State(log): State<RequestLog>, request: Request, next: Next) -> Response {
    let uri = request.uri();
    log.push(RecordedRequest {
        method: request.method().as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
    });
    next.run(request).await
}
