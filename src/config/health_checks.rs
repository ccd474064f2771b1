//! Krkn's `health_checks:` section: `interval` and a list of HTTP checks
//! (`{url, bearer_token, auth, exit_on_failure}`), validated with `file:line:column` errors.
//!
//! Owns: the shape of the section and what a check's URL may be. Must not send a request: the
//! checks themselves run in [`crate::health`].
//!
//! A `url` is either absolute (`http://` or `https://`, requested directly, with the check's
//! own `bearer_token`/`auth`) or a path starting with `/`, which is a path on the cluster's API
//! server, requested through the run's kube client with the kubeconfig's credentials. The
//! second form is how a Service is checked through the API server's service proxy
//! (`/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`) without exposing it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;

use super::error::ConfigError;
use super::unknown_keys::{KRKN_HEALTH_CHECK_KEYS, Section};

/// Krkn's default interval.
pub const DEFAULT_INTERVAL_SECS: u64 = 2;

/// One hour: a check rarer than that sees nothing of a game day.
pub const MAX_INTERVAL_SECS: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChecks {
    pub interval: Duration,
    pub checks: Vec<HttpCheck>,
}

impl Default for HealthChecks {
    fn default() -> Self {
        HealthChecks { interval: Duration::from_secs(DEFAULT_INTERVAL_SECS), checks: Vec::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    pub url: CheckUrl,
    pub bearer_token: Option<String>,
    /// Basic credentials (user, password).
    pub auth: Option<(String, String)>,
    /// A failed answer stops the run and rolls back like a failed scenario.
    pub exit_on_failure: bool,
    pub line: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckUrl {
    /// `http(s)://…`, requested directly.
    Absolute(String),
    /// `/…`, a path on the cluster's API server, requested with the kubeconfig's credentials.
    Cluster(String),
}

impl CheckUrl {
    /// The URL as requested (credentials and all): only for the request itself.
    pub fn as_str(&self) -> &str {
        match self {
            CheckUrl::Absolute(s) | CheckUrl::Cluster(s) => s,
        }
    }

    /// The URL as shown anywhere (logs, the TUI, `/metrics`, reports): [`redacted`].
    pub fn shown(&self) -> String {
        redacted(self.as_str())
    }
}

/// `url` without what could be a secret: the user-info part (`user:password@`) and every query
/// value (`?token=…`) become `***`; the scheme, host, path and query keys stay, so the check is
/// still recognisable.
pub fn redacted(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{path}"),
                None => head.to_string(),
            }
        }
        None => head.to_string(),
    };
    match query {
        None => head,
        Some(query) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) => format!("{key}=***"),
                    None => pair.to_string(),
                })
                .collect();
            format!("{head}?{}", pairs.join("&"))
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RawHealthChecks {
    #[serde(default)]
    interval: Option<Spanned<Option<i64>>>,
    #[serde(default)]
    config: Option<Vec<RawCheck>>,
    #[serde(flatten)]
    rest: BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
struct RawCheck {
    /// Krkn's shipped config has an item with every key empty: that checks nothing.
    #[serde(default)]
    url: Option<Spanned<Option<String>>>,
    bearer_token: Option<String>,
    auth: Option<Spanned<String>>,
    exit_on_failure: Option<bool>,
    #[serde(flatten)]
    rest: BTreeMap<String, IgnoredAny>,
}

impl RawHealthChecks {
    pub(super) fn validate(
        self,
        path: &Path,
        text: &str,
        ignored: &mut Vec<String>,
    ) -> Result<HealthChecks, ConfigError> {
        let section = Section { name: "health_checks", used: &["interval", "config"], krkn: &[] };
        section.check(path, text, self.rest.keys(), ignored)?;
        let item = Section {
            name: "health_checks",
            used: &["url", "bearer_token", "auth", "exit_on_failure"],
            krkn: KRKN_HEALTH_CHECK_KEYS,
        };
        for check in self.config.iter().flatten() {
            item.check(path, text, check.rest.keys(), ignored)?;
        }
        let interval = match self.interval.and_then(|i| i.value.map(|v| (v, i.referenced))) {
            None => DEFAULT_INTERVAL_SECS,
            Some((value, at)) => u64::try_from(value)
                .ok()
                .filter(|v| (1..=MAX_INTERVAL_SECS).contains(v))
                .ok_or_else(|| {
                    ConfigError::at(
                        path,
                        at,
                        format!(
                            "health_checks.interval {value} is out of range: 1 to {MAX_INTERVAL_SECS} seconds"
                        ),
                    )
                })?,
        };
        let mut checks = Vec::new();
        for raw in self.config.unwrap_or_default() {
            let Some(url) = raw.url else { continue };
            let Some(text) = url.value.as_deref().filter(|t| !t.trim().is_empty()) else {
                continue;
            };
            let parsed = parse_url(text).map_err(|m| ConfigError::at(path, url.referenced, m))?;
            let auth = match raw.auth {
                Some(a) if !a.value.trim().is_empty() => {
                    Some(parse_auth(&a.value).map_err(|m| ConfigError::at(path, a.referenced, m))?)
                }
                _ => None,
            };
            checks.push(HttpCheck {
                url: parsed,
                bearer_token: raw.bearer_token.filter(|t| !t.trim().is_empty()),
                auth,
                exit_on_failure: raw.exit_on_failure.unwrap_or(false),
                line: url.referenced.line(),
            });
        }
        Ok(HealthChecks { interval: Duration::from_secs(interval), checks })
    }
}

fn parse_url(text: &str) -> Result<CheckUrl, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("health_checks url is empty".into());
    }
    if text.starts_with('/') {
        // Checked as a URI path so that a typo (a space, say) fails here, not mid-run.
        return text
            .parse::<http::uri::PathAndQuery>()
            .map(|_| CheckUrl::Cluster(text.to_string()))
            .map_err(|e| {
                format!("health_checks url {:?} is not a valid path: {e}", redacted(text))
            });
    }
    let uri: http::Uri = text
        .parse()
        .map_err(|e| format!("health_checks url {:?} is not a URL: {e}", redacted(text)))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => {
            Ok(CheckUrl::Absolute(text.to_string()))
        }
        _ => Err(format!(
            "health_checks url {:?} must start with http://, https:// or / (a path on the \
             cluster's API server)",
            redacted(text)
        )),
    }
}

/// Krkn writes credentials as a Python tuple, `("admin","secret")`; `admin:secret` is accepted
/// too.
fn parse_auth(text: &str) -> Result<(String, String), String> {
    let t = text.trim();
    let inner = t.strip_prefix('(').and_then(|r| r.strip_suffix(')'));
    let pair = match inner {
        Some(inner) => inner.split_once(',').map(|(u, p)| (unquote(u), unquote(p))),
        None => t.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())),
    };
    match pair {
        Some((u, p)) if !u.is_empty() => Ok((u, p)),
        _ => Err(format!(
            "health_checks auth {t:?}: expected (\"user\",\"password\") or user:password"
        )),
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix(['"', '\'']).and_then(|r| r.strip_suffix(['"', '\''])).unwrap_or(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/chaos/config.yaml"), text)
    }

    #[test]
    fn krkn_section_loads_with_both_url_forms() {
        let c = parse(
            "kraken: {}\nhealth_checks:\n  interval: 5\n  config:\n    - url: \"https://example.com/health\"\n      bearer_token: \"tok\"\n      auth:\n      exit_on_failure: True\n    - url: /api/v1/namespaces/shop/services/frontend:80/proxy/\n      bearer_token:\n      auth: (\"admin\",\"secret\")\n      exit_on_failure:\n",
        )
        .unwrap();
        let h = &c.health_checks;
        assert_eq!(h.interval, Duration::from_secs(5));
        assert_eq!(h.checks.len(), 2);
        assert_eq!(h.checks[0].url, CheckUrl::Absolute("https://example.com/health".into()));
        assert_eq!(h.checks[0].bearer_token.as_deref(), Some("tok"));
        assert!(h.checks[0].exit_on_failure);
        assert_eq!(
            h.checks[1].url,
            CheckUrl::Cluster("/api/v1/namespaces/shop/services/frontend:80/proxy/".into())
        );
        assert_eq!(h.checks[1].auth, Some(("admin".into(), "secret".into())));
        assert!(!h.checks[1].exit_on_failure);
        assert!(!c.ignored.iter().any(|i| i == "health_checks"), "{:?}", c.ignored);
    }

    #[test]
    fn krkn_empty_template_checks_nothing() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/krkn/config.yaml");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.health_checks, HealthChecks::default());
    }

    #[test]
    fn missing_section_means_no_checks_at_the_default_interval() {
        let c = parse("kraken: {}\n").unwrap();
        assert_eq!(c.health_checks, HealthChecks::default());
    }

    #[test]
    fn bad_interval_names_file_and_line() {
        let err = parse("kraken: {}\nhealth_checks:\n  interval: 0\n").unwrap_err().to_string();
        assert!(err.starts_with("/etc/chaos/config.yaml:3:"), "{err}");
        assert!(err.contains("interval 0 is out of range"), "{err}");
        let err = parse("kraken: {}\nhealth_checks:\n  interval: often\n").unwrap_err().to_string();
        assert!(err.starts_with("/etc/chaos/config.yaml:3:"), "{err}");
    }

    #[test]
    fn credentials_in_a_url_are_never_shown() {
        assert_eq!(
            redacted("https://admin:s3cret@app.example:8443/health?token=t0k&v=1"),
            "https://***@app.example:8443/health?token=***&v=***"
        );
        assert_eq!(redacted("https://app.example/h"), "https://app.example/h");
        assert_eq!(
            redacted("/api/v1/namespaces/a/services/b/proxy/?key=k"),
            "/api/v1/namespaces/a/services/b/proxy/?key=***"
        );
        let err =
            parse("kraken: {}\nhealth_checks:\n  config:\n    - url: ftp://u:pw@x/?t=sekret\n")
                .unwrap_err()
                .to_string();
        assert!(!err.contains("pw") && !err.contains("sekret"), "{err}");
    }

    #[test]
    fn bad_url_and_auth_name_file_and_line() {
        let err = parse(
            "kraken: {}\nhealth_checks:\n  config:\n    - url: https://ok.example/\n    - url: ftp://example.com/x\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("/etc/chaos/config.yaml:5:"), "{err}");
        assert!(err.contains("must start with http://"), "{err}");
        let err = parse("kraken: {}\nhealth_checks:\n  config:\n    - url: /a b\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/etc/chaos/config.yaml:4:"), "{err}");
        let err = parse(
            "kraken: {}\nhealth_checks:\n  config:\n    - url: /healthz\n      auth: nocolon\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("/etc/chaos/config.yaml:5:"), "{err}");
    }
}
