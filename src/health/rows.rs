//! What the health task reports: its rows, their samples, and log lines. The vocabulary the
//! engine merges into the run's stream; nothing here knows the engine.

use std::time::Duration;

use crate::config::CheckUrl;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// A `health_checks.config` URL.
    Http,
    /// Built in: ready/desired replicas of a Deployment a scenario targets.
    Workload,
    /// Built in: the ready endpoints of a Service a scenario hijacks.
    Service,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Http => "http",
            CheckKind::Workload => "workload",
            CheckKind::Service => "service",
        }
    }
}

/// One row of the health panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInfo {
    pub name: String,
    pub kind: CheckKind,
    pub exit_on_failure: bool,
}

/// One probe of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Position in the `checks` of [`HealthEvent::Started`].
    pub check: usize,
    /// Which round of probes (0 first): samples of one round share a column of the timeline.
    pub tick: u64,
    pub ok: bool,
    /// The HTTP status, for URL checks that got an answer.
    pub code: Option<u16>,
    pub latency: Duration,
    /// `200`, `3/3 ready`, or what went wrong.
    pub detail: String,
}

/// What the health task says, in order: `Started` once (its rows), then samples and log lines.
#[derive(Debug, Clone, PartialEq)]
pub enum HealthEvent {
    Started { checks: Vec<CheckInfo>, interval: Duration },
    Sample(Sample),
    Log(String),
}

/// The row name of a URL check: `svc NS/NAME:PORT` for a service proxy path, else the URL.
pub fn url_name(url: &CheckUrl) -> String {
    // Shown in logs, the TUI, /metrics labels and reports: never with credentials.
    let text = &url.shown();
    if let CheckUrl::Cluster(_) = url
        && let Some(rest) = text.strip_prefix("/api/v1/namespaces/")
        && let Some((ns, rest)) = rest.split_once("/services/")
        && let Some((svc, tail)) = rest.split_once("/proxy")
    {
        let tail = tail.trim_start_matches('/');
        return if tail.is_empty() {
            format!("svc {ns}/{svc}")
        } else {
            format!("svc {ns}/{svc} /{tail}")
        };
    }
    text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")).unwrap_or(text).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_proxy_paths_get_short_names() {
        let u = CheckUrl::Cluster("/api/v1/namespaces/shop/services/frontend:80/proxy/".into());
        assert_eq!(url_name(&u), "svc shop/frontend:80");
        let u = CheckUrl::Cluster("/api/v1/namespaces/shop/services/web/proxy/healthz".into());
        assert_eq!(url_name(&u), "svc shop/web /healthz");
        assert_eq!(url_name(&CheckUrl::Cluster("/readyz".into())), "/readyz");
        assert_eq!(url_name(&CheckUrl::Absolute("https://a.example/h".into())), "a.example/h");
        let secret = CheckUrl::Absolute("https://u:pw@a.example/h?token=t".into());
        assert_eq!(url_name(&secret), "***@a.example/h?token=***");
        let proxied =
            CheckUrl::Cluster("/api/v1/namespaces/shop/services/web/proxy/h?key=k".into());
        assert_eq!(url_name(&proxied), "svc shop/web /h?key=***");
    }
}
