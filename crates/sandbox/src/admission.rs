//! Validation and defaulting of objects on their way into the store.
//!
//! Owns: per-kind defaults a real API server applies (pod phase, service clusterIP, deployment
//! replicas, ...) and the checks that produce 422 Invalid. Runs for clients and controllers
//! alike, so controllers get the same objects users would. Must not touch other objects.

use serde_json::{Value, json};

use super::meta;
use super::resources::{self as r, ResourceDef};
use super::status::ApiError;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

pub fn validate_name(def: &ResourceDef, name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::invalid(
            def,
            name,
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    }
    let (ok, msg) = if def.label_name {
        (is_dns_label(name), LABEL_MSG)
    } else {
        (is_dns_subdomain(name), SUBDOMAIN_MSG)
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            def,
            name,
            "metadata.name",
            &format!("Invalid value: \"{name}\": {msg}"),
        ))
    }
}

/// Kind-specific checks that real clients trip over; not a full schema validation.
pub fn validate(res: usize, obj: &Value) -> Result<(), ApiError> {
    let def = &r::RESOURCES[res];
    let name = meta::name(obj);
    if let Some(labels) = meta::at(obj, &["metadata", "labels"]) {
        let ok = labels.as_object().is_some_and(|m| m.values().all(Value::is_string));
        if !ok && !labels.is_null() {
            return Err(ApiError::invalid(
                def,
                name,
                "metadata.labels",
                "Invalid value: label values must be strings",
            ));
        }
    }
    match res {
        r::PODS => {
            let containers = meta::at(obj, &["spec", "containers"]).and_then(Value::as_array);
            if containers.is_none_or(|c| c.is_empty()) {
                return Err(ApiError::invalid(def, name, "spec.containers", "Required value"));
            }
        }
        r::DEPLOYMENTS | r::REPLICASETS => {
            let selector = meta::at(obj, &["spec", "selector"]);
            let Some(selector) = selector.filter(|s| !s.is_null()) else {
                return Err(ApiError::invalid(def, name, "spec.selector", "Required value"));
            };
            let labels = meta::at(obj, &["spec", "template", "metadata", "labels"])
                .cloned()
                .unwrap_or(Value::Null);
            let parsed = super::selectors::LabelSelector::from_api(selector)
                .map_err(|e| ApiError::invalid(def, name, "spec.selector", &e))?;
            let holder = json!({"metadata": {"labels": labels}});
            if parsed.is_empty() || !parsed.matches(&holder) {
                return Err(ApiError::invalid(
                    def,
                    name,
                    "spec.template.metadata.labels",
                    "Invalid value: `selector` does not match template `labels`",
                ));
            }
            if let Some(n) = meta::i64_at(obj, &["spec", "replicas"])
                && n < 0
            {
                return Err(ApiError::invalid(
                    def,
                    name,
                    "spec.replicas",
                    &format!("Invalid value: {n}: must be greater than or equal to 0"),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn default_if_missing(obj: &mut Value, path: &[&str], value: Value) {
    let slot = meta::at_mut(obj, path);
    if slot.is_null() {
        *slot = value;
    }
}

/// Defaults applied on create (and re-applied on update where the server would).
pub fn default(res: usize, obj: &mut Value, next_ip: impl FnOnce() -> String) {
    match res {
        r::NAMESPACES => {
            let name = meta::name(obj).to_string();
            meta::set(obj, &["metadata", "labels", "kubernetes.io/metadata.name"], json!(name));
            default_if_missing(obj, &["spec", "finalizers"], json!(["kubernetes"]));
            default_if_missing(obj, &["status", "phase"], json!("Active"));
        }
        r::PODS => {
            default_if_missing(obj, &["spec", "restartPolicy"], json!("Always"));
            default_if_missing(obj, &["spec", "terminationGracePeriodSeconds"], json!(30));
            default_if_missing(obj, &["spec", "dnsPolicy"], json!("ClusterFirst"));
            default_if_missing(obj, &["spec", "schedulerName"], json!("default-scheduler"));
            if let Some(containers) = meta::at_mut(obj, &["spec", "containers"]).as_array_mut() {
                for c in containers {
                    default_if_missing(c, &["imagePullPolicy"], json!("IfNotPresent"));
                }
            }
            default_if_missing(obj, &["status", "phase"], json!("Pending"));
            default_if_missing(obj, &["status", "qosClass"], json!("BestEffort"));
        }
        r::SERVICES => {
            default_if_missing(obj, &["spec", "type"], json!("ClusterIP"));
            default_if_missing(obj, &["spec", "sessionAffinity"], json!("None"));
            if meta::str_at(obj, &["spec", "clusterIP"]).is_none() {
                let ip = next_ip();
                meta::set(obj, &["spec", "clusterIP"], json!(ip));
                meta::set(obj, &["spec", "clusterIPs"], json!([ip]));
            }
            if let Some(ports) = meta::at_mut(obj, &["spec", "ports"]).as_array_mut() {
                for p in ports {
                    default_if_missing(p, &["protocol"], json!("TCP"));
                    if let Some(port) = p.get("port").cloned() {
                        default_if_missing(p, &["targetPort"], port);
                    }
                }
            }
            default_if_missing(obj, &["status", "loadBalancer"], json!({}));
        }
        r::DEPLOYMENTS => {
            default_if_missing(obj, &["spec", "replicas"], json!(1));
            default_if_missing(obj, &["spec", "revisionHistoryLimit"], json!(10));
            default_if_missing(obj, &["spec", "progressDeadlineSeconds"], json!(600));
            default_if_missing(
                obj,
                &["spec", "strategy"],
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
        }
        r::REPLICASETS => {
            default_if_missing(obj, &["spec", "replicas"], json!(1));
        }
        r::JOBS => {
            default_if_missing(obj, &["spec", "completions"], json!(1));
            default_if_missing(obj, &["spec", "parallelism"], json!(1));
            default_if_missing(obj, &["spec", "backoffLimit"], json!(6));
            default_if_missing(obj, &["spec", "template", "spec", "restartPolicy"], json!("Never"));
        }
        _ => {}
    }
}
