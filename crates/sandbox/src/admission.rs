//! Validation and defaulting of objects on their way into the store.
//!
//! Owns: per-kind defaults a real API server applies (pod phase, service clusterIP, deployment
//! replicas, ...) and the checks that produce 422 Invalid. Runs for clients and controllers
//! alike, so controllers get the same objects users would. Must not touch other objects.

use serde_json::{Value, json};

use super::meta;
use super::resources::{self as r, ResourceDef};
use super::status::ApiError;
pub use crate::dns_names::{is_dns_label, is_dns_subdomain};

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

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
        // A valid subdomain that is not a valid label can only have dots in it.
        let msg = if is_dns_subdomain(name) { "must not contain dots" } else { LABEL_MSG };
        (is_dns_label(name), msg)
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
        for (key, value) in labels.as_object().into_iter().flatten() {
            let value = value.as_str().unwrap_or_default();
            let why = label_key_error(key)
                .map(|e| (key.as_str(), e))
                .or_else(|| label_value_error(value).map(|e| (value, e)));
            if let Some((bad, why)) = why {
                let detail = format!("Invalid value: {}: {why}", quote(bad));
                return Err(ApiError::invalid(def, name, "metadata.labels", &detail));
            }
        }
    }
    match res {
        r::PODS => validate_pod(def, name, obj)?,
        r::PVCS => validate_pvc(def, name, obj)?,
        r::NETWORKPOLICIES => validate_network_policy(def, name, obj)?,
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
                let shown = serde_json::to_string(&labels).unwrap_or_default();
                return Err(ApiError::invalid(
                    def,
                    name,
                    "spec.template.metadata.labels",
                    &format!("Invalid value: {shown}: `selector` does not match template `labels`"),
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

/// The two checks a claim meets before anything else, worded as the API server words them.
fn validate_pvc(def: &ResourceDef, name: &str, obj: &Value) -> Result<(), ApiError> {
    let modes = meta::at(obj, &["spec", "accessModes"]).and_then(Value::as_array);
    if modes.is_none_or(|m| m.is_empty()) {
        return Err(ApiError::invalid(
            def,
            name,
            "spec.accessModes",
            "Required value: at least 1 access mode is required",
        ));
    }
    if meta::at(obj, &["spec", "resources", "requests", "storage"]).is_none() {
        return Err(ApiError::invalid(def, name, "spec.resources[storage]", "Required value"));
    }
    Ok(())
}

/// A Go-quoted string, as field errors show values.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn unsupported(value: &str, supported: &[&str]) -> String {
    let list: Vec<String> = supported.iter().map(|s| quote(s)).collect();
    format!("Unsupported value: {}: supported values: {}", quote(value), list.join(", "))
}

const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// The first reason a label key is invalid (Kubernetes' IsQualifiedName), if any.
pub fn label_key_error(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                return Some("prefix part must be non-empty".into());
            }
            if !is_dns_subdomain(prefix) {
                return Some(format!("prefix part {SUBDOMAIN_MSG}"));
            }
            *name
        }
        _ => {
            return Some(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                NAME_PART_MSG.trim_start_matches("name part ")
            ));
        }
    };
    if name.is_empty() {
        Some("name part must be non-empty".into())
    } else if name.len() > 63 {
        Some("name part must be no more than 63 bytes".into())
    } else if !is_name_part(name) {
        Some(NAME_PART_MSG.into())
    } else {
        None
    }
}

/// The first reason a label value is invalid, if any.
pub fn label_value_error(value: &str) -> Option<String> {
    if value.len() > 63 {
        Some("must be no more than 63 bytes".into())
    } else if !value.is_empty() && !is_name_part(value) {
        Some(LABEL_VALUE_MSG.into())
    } else {
        None
    }
}

fn validate_pod(def: &ResourceDef, name: &str, obj: &Value) -> Result<(), ApiError> {
    let containers = meta::at(obj, &["spec", "containers"]).and_then(Value::as_array);
    let Some(containers) = containers.filter(|c| !c.is_empty()) else {
        return Err(ApiError::invalid(def, name, "spec.containers", "Required value"));
    };
    let mut seen = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        let cname = c.get("name").and_then(Value::as_str).unwrap_or_default();
        let field = format!("spec.containers[{i}].name");
        if cname.is_empty() {
            return Err(ApiError::invalid(def, name, &field, "Required value"));
        }
        if !is_dns_label(cname) {
            let detail = format!("Invalid value: {}: {LABEL_MSG}", quote(cname));
            return Err(ApiError::invalid(def, name, &field, &detail));
        }
        if seen.contains(&cname) {
            let detail = format!("Duplicate value: {}", quote(cname));
            return Err(ApiError::invalid(def, name, &field, &detail));
        }
        seen.push(cname);
        if c.get("image").and_then(Value::as_str).is_none_or(|i| i.trim().is_empty()) {
            let field = format!("spec.containers[{i}].image");
            return Err(ApiError::invalid(def, name, &field, "Required value"));
        }
    }
    if let Some(policy) = meta::str_at(obj, &["spec", "restartPolicy"]) {
        let supported = ["Always", "OnFailure", "Never"];
        if !supported.contains(&policy) {
            let detail = unsupported(policy, &supported);
            return Err(ApiError::invalid(def, name, "spec.restartPolicy", &detail));
        }
    }
    Ok(())
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else { return false };
    let Ok(bits) = bits.parse::<u8>() else { return false };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

fn validate_network_policy(def: &ResourceDef, name: &str, obj: &Value) -> Result<(), ApiError> {
    let bad = |field: String, detail: String| Err(ApiError::invalid(def, name, &field, &detail));
    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
        let rules = meta::at(obj, &["spec", dir]).and_then(Value::as_array);
        for (i, rule) in rules.into_iter().flatten().enumerate() {
            let ports = rule.get("ports").and_then(Value::as_array);
            for (j, port) in ports.into_iter().flatten().enumerate() {
                if let Some(proto) = port.get("protocol").and_then(Value::as_str) {
                    let supported = ["TCP", "UDP", "SCTP"];
                    if !supported.contains(&proto) {
                        let field = format!("spec.{dir}[{i}].ports[{j}].protocol");
                        return bad(field, unsupported(proto, &supported));
                    }
                }
            }
            let peer_list = rule.get(peers).and_then(Value::as_array);
            for (j, peer) in peer_list.into_iter().flatten().enumerate() {
                if let Some(cidr) = peer.pointer("/ipBlock/cidr").and_then(Value::as_str)
                    && !is_cidr(cidr)
                {
                    let field = format!("spec.{dir}[{i}].{peers}[{j}].ipBlock.cidr");
                    let detail = format!(
                        "Invalid value: {}: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                        quote(cidr)
                    );
                    return bad(field, detail);
                }
            }
        }
    }
    let types = meta::at(obj, &["spec", "policyTypes"]).and_then(Value::as_array);
    for (i, t) in types.into_iter().flatten().enumerate() {
        let t = t.as_str().unwrap_or_default();
        let supported = ["Ingress", "Egress"];
        if !supported.contains(&t) {
            return bad(format!("spec.policyTypes[{i}]"), unsupported(t, &supported));
        }
    }
    Ok(())
}

/// Drops empty maps the API server would not keep (Go's `omitempty`).
fn omit_empty(obj: &mut Value, path: &[&str]) {
    let Some((last, parent)) = path.split_last() else { return };
    let Some(parent) = meta::at(obj, parent) else { return };
    if parent.get(*last).is_some_and(|v| v.as_object().is_some_and(|m| m.is_empty())) {
        let holder = meta::at_mut(obj, &path[..path.len() - 1]);
        if let Some(m) = holder.as_object_mut() {
            m.remove(*last);
        }
    }
}

fn default_if_missing(obj: &mut Value, path: &[&str], value: Value) {
    let slot = meta::at_mut(obj, path);
    if slot.is_null() {
        *slot = value;
    }
}

/// Defaults applied on create (and re-applied on update where the server would).
pub fn default(res: usize, obj: &mut Value, next_ip: impl FnOnce() -> String) {
    omit_empty(obj, &["metadata", "labels"]);
    omit_empty(obj, &["metadata", "annotations"]);
    match res {
        r::CONFIGMAPS => {
            omit_empty(obj, &["data"]);
            omit_empty(obj, &["binaryData"]);
        }
        r::NETWORKPOLICIES => default_if_missing(obj, &["spec", "podSelector"], json!({})),
        r::PVCS => {
            default_if_missing(obj, &["spec", "volumeMode"], json!("Filesystem"));
            default_if_missing(obj, &["status", "phase"], json!("Pending"));
        }
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
