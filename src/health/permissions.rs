//! What the health checks read, as permissions the run's preflight asks for: a check that is
//! refused (403) mid-game-day would look exactly like an outage and, with `exit_on_failure`,
//! stop the run, so a missing read is reported before anything changes.
//!
//! Owns: mapping checks and readiness targets to the GETs and LISTs [`super::readiness`] and
//! [`super::http`] send. Must stay in step with them (tests/rbac_manifest.rs checks the
//! `chaosdeck-health` role in deploy/rbac.yaml against this list).

use crate::cluster::access::Permission;
use crate::config::{CheckUrl, HealthChecks};

use super::readiness::Target;

/// Every read the health task of a run with `checks` and `targets` makes. URL checks outside
/// the service proxy (an absolute URL, or a cluster path such as `/readyz`) need no resource
/// permission and add nothing.
pub fn permissions(checks: &HealthChecks, targets: &[Target]) -> Vec<Permission> {
    let mut out = Vec::new();
    for target in targets {
        match target {
            Target::Pods { namespace, .. } => {
                let ns = literal_namespace(namespace);
                // readiness::deployments_behind: every namespace matched against the pattern,
                // then the pods, their ReplicaSets and those ReplicaSets' Deployments.
                out.push(Permission::on("list", "v1", "Namespace", None));
                out.push(Permission::on("list", "v1", "Pod", ns));
                out.push(Permission::on("list", "apps/v1", "ReplicaSet", ns));
                out.push(Permission::on("get", "apps/v1", "Deployment", ns));
            }
            Target::Service { namespace, .. } => {
                out.push(Permission::on("get", "v1", "Service", Some(namespace)));
                out.push(Permission::on("list", "v1", "Pod", Some(namespace)));
            }
        }
    }
    for check in &checks.checks {
        if let CheckUrl::Cluster(path) = &check.url
            && let Some(ns) = proxied_namespace(path)
        {
            out.push(Permission::on("get", "v1", "Service", Some(ns)).on_subresource("proxy"));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `shop` of `^shop$` (what [`Target::pods_in`] builds); `None` for a real pattern, which may
/// match any namespace.
fn literal_namespace(pattern: &str) -> Option<&str> {
    let inner = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let plain = !inner.is_empty()
        && inner.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    plain.then_some(inner)
}

/// The namespace of `/api/v1/namespaces/{ns}/services/{svc}/proxy...`.
fn proxied_namespace(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (ns, rest) = rest.split_once("/services/")?;
    let (_, tail) = rest.split_once('/')?;
    tail.starts_with("proxy").then_some(ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HttpCheck;

    fn check(url: CheckUrl) -> HttpCheck {
        HttpCheck { url, bearer_token: None, auth: None, exit_on_failure: false, line: 1 }
    }

    fn lines(perms: &[Permission]) -> Vec<String> {
        perms.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_exact_namespace_is_asked_there_and_a_pattern_everywhere() {
        let targets = vec![
            Target::pods_in("shop", vec![("app".into(), "cart".into())]),
            Target::Pods { namespace: "^shop-.*$".into(), name: None, labels: vec![] },
        ];
        let got = lines(&permissions(&HealthChecks::default(), &targets));
        assert!(got.contains(&"list pods in namespace shop".to_string()), "{got:?}");
        assert!(got.contains(&"list pods (all namespaces / cluster)".to_string()), "{got:?}");
        assert!(got.contains(&"get deployments.apps in namespace shop".to_string()), "{got:?}");
        assert!(got.contains(&"list namespaces (all namespaces / cluster)".to_string()));
        // Two targets ask for the namespace list once.
        assert_eq!(got.iter().filter(|l| l.starts_with("list namespaces")).count(), 1);
    }

    #[test]
    fn a_service_proxy_check_asks_for_the_proxy_subresource_and_a_url_for_nothing() {
        let checks = HealthChecks {
            checks: vec![
                check(CheckUrl::Cluster(
                    "/api/v1/namespaces/shop/services/frontend:80/proxy/".into(),
                )),
                check(CheckUrl::Cluster("/readyz".into())),
                check(CheckUrl::Absolute("https://shop.example.com/health".into())),
            ],
            ..Default::default()
        };
        let got = lines(&permissions(&checks, &[]));
        assert_eq!(got, vec!["get services/proxy in namespace shop".to_string()]);
    }
}
