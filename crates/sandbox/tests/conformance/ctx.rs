//! What an interaction runs with: a namespace of its own, raw HTTP through kube-rs, kubectl,
//! and the normalization that turns answers into comparable observations.

use std::future::Future;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::{Map, Value, json};

use crate::support::{Compactor, Target};

#[derive(Clone)]
pub struct Ctx {
    pub target: Target,
    pub client: kube::Client,
    pub kubeconfig: PathBuf,
    kubectl: Option<PathBuf>,
    kubectl_cache: PathBuf,
    compactor: Compactor,
    /// This interaction's own namespace, made before it runs.
    pub ns: String,
}

/// An HTTP answer: status code and body (JSON, or the text as a JSON string).
#[derive(Debug, Clone)]
pub struct Resp {
    pub code: u16,
    pub body: Value,
}

pub const JSON: &str = "application/json";
pub const MERGE: &str = "application/merge-patch+json";
pub const JSON_PATCH: &str = "application/json-patch+json";
pub const STRATEGIC: &str = "application/strategic-merge-patch+json";
pub const APPLY: &str = "application/apply-patch+yaml";

impl Ctx {
    pub fn new(
        target: Target,
        client: kube::Client,
        kubeconfig: PathBuf,
        kubectl: Option<PathBuf>,
        kubectl_cache: PathBuf,
        compactor: Compactor,
        name: &str,
    ) -> Ctx {
        let mut ns = format!("cf-{}", name.replace('_', "-"));
        ns.truncate(63);
        let ns = ns.trim_end_matches('-').to_string();
        Ctx { target, client, kubeconfig, kubectl, kubectl_cache, compactor, ns }
    }

    pub async fn make_namespace(&self) {
        let made = self
            .post(
                "/api/v1/namespaces",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}}),
            )
            .await;
        assert_eq!(made.code, 201, "namespace {}: {:?}", self.ns, made.body);
        if self.target == Target::Real {
            // Pods are refused until the ServiceAccount controller made `default`.
            let sa = format!("/api/v1/namespaces/{}/serviceaccounts/default", self.ns);
            self.wait_for(|| async { self.get(&sa).await.code == 200 }).await;
        }
    }

    /// `/api/v1/namespaces/{ns}/{rest}` (core) for this interaction's namespace.
    pub fn core(&self, rest: &str) -> String {
        format!("/api/v1/namespaces/{}/{rest}", self.ns)
    }

    /// `/apis/{gv}/namespaces/{ns}/{rest}` for this interaction's namespace.
    pub fn apis(&self, gv: &str, rest: &str) -> String {
        format!("/apis/{gv}/namespaces/{}/{rest}", self.ns)
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut req = http::Request::builder().method(method).uri(path).header("Accept", JSON);
        if body.is_some() {
            req = req.header("Content-Type", content_type);
        }
        let req = req.body(kube::client::Body::from(body.unwrap_or_default())).unwrap();
        let resp = self.client.send(req).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let code = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Resp { code, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send("GET", path, JSON, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send("POST", path, JSON, Some(body.to_string().into_bytes())).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send("PUT", path, JSON, Some(body.to_string().into_bytes())).await
    }

    pub async fn patch(&self, path: &str, content_type: &str, body: Value) -> Resp {
        self.send("PATCH", path, content_type, Some(body.to_string().into_bytes())).await
    }

    pub async fn apply(&self, path: &str, yaml: &str) -> Resp {
        self.send("PATCH", path, APPLY, Some(yaml.as_bytes().to_vec())).await
    }

    pub async fn delete(&self, path: &str, options: Option<Value>) -> Resp {
        self.send("DELETE", path, JSON, options.map(|o| o.to_string().into_bytes())).await
    }

    /// Compacts the server's history up to now (etcd's, or the sandbox's).
    pub async fn compact(&self) {
        let list = self.get(&self.core("configmaps")).await.body;
        let rv = str_at(&list, "/metadata/resourceVersion").parse().unwrap_or(0);
        self.compactor.compact(rv).await;
    }

    /// A ConfigMap in this namespace, created (201 asserted).
    pub async fn configmap(&self, name: &str, labels: Value, data: Value) -> Value {
        let resp = self
            .post(
                &self.core("configmaps"),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": data}),
            )
            .await;
        assert_eq!(resp.code, 201, "{:?}", resp.body);
        resp.body
    }

    /// Polls `cond` every 200 ms for up to 60 s (10 s on the sandbox, whose controllers act
    /// within milliseconds); false if it never held.
    pub async fn wait_for<F, Fut>(&self, cond: F) -> bool
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        let tries = if self.target == Target::Real { 300 } else { 50 };
        for _ in 0..tries {
            if cond().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    /// kubectl in this namespace; (exit code, stdout, stderr), normalized.
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let bin = self.kubectl.clone().expect("a kubectl interaction without kubectl");
        let mut cmd = tokio::process::Command::new(bin);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.kubectl_cache)
            .arg("-n")
            .arg(&self.ns)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl runs");
        if let Some(mut pipe) = child.stdin.take() {
            use tokio::io::AsyncWriteExt;
            if let Some(text) = stdin {
                pipe.write_all(text.as_bytes()).await.unwrap();
            }
        }
        let out = child.wait_with_output().await.unwrap();
        json!({
            "exit": out.status.code(),
            "stdout": norm_text(&String::from_utf8_lossy(&out.stdout)),
            "stderr": norm_text(&String::from_utf8_lossy(&out.stderr)),
        })
    }
}

static UID: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap()
});
static NUMBER: LazyLock<regex::Regex> = LazyLock::new(|| regex::Regex::new("[0-9]{3,}").unwrap());
static PORT: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"(https?://)?127\.0\.0\.1:[0-9]+").unwrap());

/// Text without uids, resourceVersions (numbers of 3+ digits) or server addresses.
pub fn norm_text(s: &str) -> String {
    let s = UID.replace_all(s, "<uid>");
    let s = PORT.replace_all(&s, "<server>");
    NUMBER.replace_all(&s, "<n>").trim_end().to_string()
}

impl Resp {
    pub fn is_status(&self) -> bool {
        self.body.get("kind").and_then(Value::as_str) == Some("Status")
    }

    /// The code and, for a Status, its status, reason, message and details; for an object,
    /// its kind and the fields at `pointers` (JSON pointers; missing ones are null).
    pub fn obs(&self, pointers: &[&str]) -> Value {
        if self.is_status() || self.code >= 300 {
            return self.status_obs();
        }
        json!({"code": self.code, "kind": self.body.get("kind"), "fields": pick(&self.body, pointers)})
    }

    pub fn status_obs(&self) -> Value {
        let b = &self.body;
        if !b.is_object() {
            return json!({"code": self.code, "text": norm_text(b.as_str().unwrap_or_default())});
        }
        let mut details = Map::new();
        if let Some(d) = b.get("details") {
            for key in ["name", "group", "kind", "retryAfterSeconds"] {
                if let Some(v) = d.get(key) {
                    details.insert(key.into(), v.clone());
                }
            }
            if let Some(causes) = d.get("causes").and_then(Value::as_array) {
                let causes: Vec<Value> = causes
                    .iter()
                    .map(|c| {
                        json!({
                            "reason": c.get("reason"),
                            "field": c.get("field"),
                            "message": c.get("message").and_then(Value::as_str).map(norm_text),
                        })
                    })
                    .collect();
                details.insert("causes".into(), Value::Array(causes));
            }
        }
        json!({
            "code": self.code,
            "status": b.get("status"),
            "reason": b.get("reason"),
            "message": b.get("message").and_then(Value::as_str).map(norm_text),
            "details": details,
        })
    }
}

pub fn pick(obj: &Value, pointers: &[&str]) -> Value {
    let mut out = Map::new();
    for p in pointers {
        out.insert((*p).into(), obj.pointer(p).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

/// Item names of a list answer, in the server's order.
pub fn names(list: &Value) -> Vec<String> {
    list.get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.pointer("/metadata/name").and_then(Value::as_str).map(String::from))
        .collect()
}

pub fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}
