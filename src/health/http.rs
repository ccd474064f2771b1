//! One HTTP probe: a cluster path through the kube client (the kubeconfig's credentials), an
//! absolute URL directly (the check's own bearer token or basic credentials). Healthy means
//! status 200, as in Krkn.
//!
//! Owns: building the request and classifying the answer. Must not retry (a failed round is
//! the result) or send anything but GET.

use std::time::{Duration, Instant};

use base64::Engine as _;
use http::header::{AUTHORIZATION, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::{CheckUrl, HttpCheck};

pub type Direct = Client<hyper_rustls::HttpsConnector<HttpConnector>, String>;

/// The client for absolute URLs; `None` (with the reason) when the system's root certificates
/// cannot be read, in which case those checks report that instead of a status.
pub fn direct_client() -> Result<Direct, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("cannot read the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// (ok, status, latency, detail)
pub async fn probe(
    check: &HttpCheck,
    probe: &kube::Client,
    direct: &Result<Direct, String>,
    timeout: Duration,
) -> (bool, Option<u16>, Duration, String) {
    let started = Instant::now();
    let answer = match &check.url {
        CheckUrl::Cluster(path) => match http::Request::get(path.as_str()).body(Vec::new()) {
            Ok(req) => match tokio::time::timeout(timeout, probe.send(req.map(Into::into))).await {
                Ok(Ok(resp)) => Ok(resp.status().as_u16()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
            },
            Err(e) => Err(format!("bad request: {e}")),
        },
        CheckUrl::Absolute(url) => match direct {
            Ok(client) => match request(check, url) {
                Ok(req) => match tokio::time::timeout(timeout, client.request(req)).await {
                    Ok(Ok(resp)) => Ok(resp.status().as_u16()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
                },
                Err(e) => Err(e),
            },
            Err(reason) => Err(reason.clone()),
        },
    };
    let latency = started.elapsed();
    match answer {
        Ok(code) => (code == 200, Some(code), latency, code.to_string()),
        Err(e) => (false, None, latency, e),
    }
}

fn request(check: &HttpCheck, url: &str) -> Result<http::Request<String>, String> {
    let mut req =
        http::Request::get(url).body(String::new()).map_err(|e| format!("bad request: {e}"))?;
    let credentials = match (&check.bearer_token, &check.auth) {
        (Some(token), _) => Some(format!("Bearer {token}")),
        (None, Some((user, password))) => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )),
        (None, None) => None,
    };
    if let Some(value) = credentials {
        let value = HeaderValue::from_str(&value)
            .map_err(|_| "the credentials cannot be sent in a header".to_string())?;
        req.headers_mut().insert(AUTHORIZATION, value);
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(token: Option<&str>, auth: Option<(&str, &str)>) -> HttpCheck {
        HttpCheck {
            url: CheckUrl::Absolute("http://127.0.0.1:1/".into()),
            bearer_token: token.map(String::from),
            auth: auth.map(|(u, p)| (u.into(), p.into())),
            exit_on_failure: false,
            line: 1,
        }
    }

    #[test]
    fn credentials_become_the_authorization_header() {
        let r = request(&check(Some("t0k"), None), "http://x/").unwrap();
        assert_eq!(r.headers()[AUTHORIZATION], "Bearer t0k");
        let r = request(&check(None, Some(("admin", "secret"))), "http://x/").unwrap();
        assert_eq!(r.headers()[AUTHORIZATION], "Basic YWRtaW46c2VjcmV0");
        let r = request(&check(None, None), "http://x/").unwrap();
        assert!(r.headers().get(AUTHORIZATION).is_none());
    }

    /// A local server that wants `Bearer t0k`: 200 with it, 401 without; then nothing there.
    #[tokio::test]
    async fn absolute_urls_are_requested_directly_with_their_credentials() {
        use axum::http::{HeaderMap, StatusCode};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/h",
            axum::routing::get(|headers: HeaderMap| async move {
                match headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
                    Some("Bearer t0k") => StatusCode::OK,
                    _ => StatusCode::UNAUTHORIZED,
                }
            }),
        );
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let unused =
            kube::Client::try_from(kube::Config::new("http://127.0.0.1:1".parse().unwrap()))
                .unwrap();
        let direct = direct_client();
        let timeout = Duration::from_secs(5);
        let mut with = check(Some("t0k"), None);
        with.url = CheckUrl::Absolute(format!("http://{addr}/h"));
        let (ok, code, _, detail) = probe(&with, &unused, &direct, timeout).await;
        assert_eq!((ok, code, detail.as_str()), (true, Some(200), "200"));
        let mut without = check(None, None);
        without.url = with.url.clone();
        let (ok, code, _, _) = probe(&without, &unused, &direct, timeout).await;
        assert_eq!((ok, code), (false, Some(401)));
        server.abort();
        let _ = server.await;
        let (ok, code, _, detail) = probe(&with, &unused, &direct, timeout).await;
        assert!(!ok && code.is_none() && !detail.is_empty(), "{detail}");
    }
}
