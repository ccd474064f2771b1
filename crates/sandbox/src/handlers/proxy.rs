//! The `services/{name}[:{port}]/proxy/{path}` subresource, answered synthetically: no
//! container runs in the sandbox, so the answer follows the simulated state instead.
//!
//! 200 while the Service has a Ready endpoint — a Ready pod its selector picks that no deny-all
//! NetworkPolicy isolates, whose traffic on the target port no helper's filter drops, and that
//! is not a service-hijacking pod — and 503 otherwise. A helper's netem on the answering pod
//! (or its node) delays the answer and loses it at its loss rate (503); a pod on a node whose
//! interfaces a helper set down is no endpoint. This
//! is a simulation for health checks (see the crate docs), not Kubernetes semantics.
//!
//! Owns: reading the store to decide the answer. Must not change anything.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::request::AppState;
use crate::meta;
use crate::resources as r;
use crate::response::json_response;
use crate::selectors::LabelSelector;

/// The label Krkn's service-hijacking pod carries (and chaosdeck's, to be found the same way).
pub const HIJACK_LABEL: &str = "service-hijacking";

/// `(namespace, service, port, path)` when `path` is a service proxy URL.
pub fn parse(path: &str) -> Option<(&str, &str, Option<&str>, String)> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (ns, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("services/")?;
    let (name_port, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let tail = match rest {
        "proxy" => "",
        _ => rest.strip_prefix("proxy/")?,
    };
    // `[scheme:]name[:port]`, as the API server reads it.
    let parts: Vec<&str> = name_port.split(':').collect();
    let (name, port) = match parts.as_slice() {
        [name] => (*name, None),
        ["http" | "https", name, port] => (*name, Some(*port)),
        [name, port] => (*name, Some(*port)),
        _ => return None,
    };
    if ns.is_empty() || name.is_empty() {
        return None;
    }
    Some((ns, name, port.filter(|p| !p.is_empty()), format!("/{tail}")))
}

pub async fn answer(
    state: &AppState,
    ns: &str,
    name: &str,
    port: Option<&str>,
    path: &str,
) -> Response {
    let svc = match state.store.get(r::SERVICES, ns, name) {
        Ok(svc) => svc,
        Err(e) => return e.into_response(),
    };
    if let Some(port) = port
        && !has_port(&svc, port)
    {
        return unavailable(name, &format!("no port {port:?} on service {ns}/{name}"));
    }
    let endpoints = ready_endpoints(state, ns, &svc, target_port(&svc, port));
    match endpoints.len() {
        0 => unavailable(name, &format!("no endpoints available for service \"{name}\"")),
        n => {
            // One endpoint answers, as kube-proxy picks one; its netem (delay, loss) applies.
            let (uid, node) = &endpoints[rand::random_range(0..n)];
            let hurt = state.netfilter.impairment(&state.store, uid, node);
            tokio::time::sleep(hurt.delay).await;
            if hurt.loss > 0.0 && rand::random::<f64>() < hurt.loss {
                return unavailable(name, "error trying to reach service: the answer was lost");
            }
            let text = format!(
                "chaosdeck sandbox: service {ns}/{name} answers {path} ({n} ready endpoint{})\n",
                if n == 1 { "" } else { "s" }
            );
            let mut resp = Response::new(Body::from(text));
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            resp
        }
    }
}

fn has_port(svc: &Value, port: &str) -> bool {
    meta::at(svc, &["spec", "ports"]).and_then(Value::as_array).into_iter().flatten().any(|p| {
        p.get("name").and_then(Value::as_str) == Some(port)
            || p.get("port").and_then(Value::as_i64).map(|n| n.to_string()).as_deref() == Some(port)
    })
}

/// The container port a request through `port` (a name or number, else the first port) reaches:
/// the numeric targetPort, else the port itself; None for a named targetPort.
fn target_port(svc: &Value, port: Option<&str>) -> Option<u16> {
    let ports = meta::at(svc, &["spec", "ports"]).and_then(Value::as_array)?;
    let chosen = match port {
        Some(port) => ports.iter().find(|p| {
            p.get("name").and_then(Value::as_str) == Some(port)
                || p.get("port").and_then(Value::as_i64).map(|n| n.to_string()).as_deref()
                    == Some(port)
        })?,
        None => ports.first()?,
    };
    let number = match chosen.get("targetPort") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(_)) => None,
        _ => chosen.get("port").and_then(Value::as_i64),
    };
    number.and_then(|n| u16::try_from(n).ok())
}

/// Ready pods the Service selects (uid and node), minus isolated and hijacking ones and those
/// whose traffic on `port` a helper's filter drops.
fn ready_endpoints(
    state: &AppState,
    ns: &str,
    svc: &Value,
    port: Option<u16>,
) -> Vec<(String, String)> {
    let Some(selector) = meta::at(svc, &["spec", "selector"])
        .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
    else {
        return Vec::new();
    };
    let Ok(selector) = LabelSelector::from_api(&json!({ "matchLabels": selector })) else {
        return Vec::new();
    };
    let (pods, _) = state.store.list(r::PODS, Some(ns));
    let (policies, _) = state.store.list(r::NETWORKPOLICIES, Some(ns));
    let deny_all: Vec<LabelSelector> = policies
        .iter()
        .filter(|p| denies_all_ingress(p))
        .filter_map(|p| meta::at(p, &["spec", "podSelector"]).map(LabelSelector::from_api))
        .filter_map(Result::ok)
        .collect();
    pods.iter()
        .filter(|p| selector.matches(p) && is_ready(p) && !meta::is_deleting(p))
        .filter(|p| meta::label(p, HIJACK_LABEL).is_none())
        .filter(|p| !deny_all.iter().any(|s| s.matches(p)))
        .filter(|p| {
            port.is_none_or(|port| !state.netfilter.drops_ingress(&state.store, meta::uid(p), port))
        })
        .map(|p| {
            let node = meta::str_at(p, &["spec", "nodeName"]).unwrap_or_default();
            (meta::uid(p).to_string(), node.to_string())
        })
        .filter(|(_, node)| !state.netfilter.cut_off(&state.store, node))
        .collect()
}

/// Ingress isolation with no rule letting anything in: what an application outage creates.
fn denies_all_ingress(policy: &Value) -> bool {
    let types: Vec<&str> = meta::at(policy, &["spec", "policyTypes"])
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_else(|| vec!["Ingress"]);
    let no_rules = meta::at(policy, &["spec", "ingress"])
        .and_then(Value::as_array)
        .is_none_or(|rules| rules.is_empty());
    types.contains(&"Ingress") && no_rules
}

fn is_ready(pod: &Value) -> bool {
    meta::at(pod, &["status", "conditions"]).and_then(Value::as_array).into_iter().flatten().any(
        |c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("status").and_then(Value::as_str) == Some("True")
        },
    )
}

fn unavailable(name: &str, message: &str) -> Response {
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": "ServiceUnavailable",
            "details": {"name": name, "kind": "services"}, "code": 503,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn proxy_paths_parse_with_and_without_port_and_scheme() {
        assert_eq!(
            parse("/api/v1/namespaces/shop/services/frontend:80/proxy/healthz"),
            Some(("shop", "frontend", Some("80"), "/healthz".into()))
        );
        assert_eq!(
            parse("/api/v1/namespaces/shop/services/frontend/proxy"),
            Some(("shop", "frontend", None, "/".into()))
        );
        assert_eq!(
            parse("/api/v1/namespaces/shop/services/http:frontend:http/proxy/"),
            Some(("shop", "frontend", Some("http"), "/".into()))
        );
        assert_eq!(parse("/api/v1/namespaces/shop/services/frontend"), None);
        assert_eq!(parse("/api/v1/namespaces/shop/services/frontend/status"), None);
        assert_eq!(parse("/api/v1/namespaces/shop/pods/x/proxy/"), None);
    }
}
