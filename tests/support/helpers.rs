//! The node side of chaosdeck's helper pods, for both targets.
//!
//! The sandbox models the helper itself. On the test bed kwok runs no container, so
//! [`HelperNodes`] stands in for the kubelet of helper pods: for each helper pod that runs it
//! creates the pod's kwok `Exec` (so `chaosdeck helper status|remove` reach the real binary
//! through `scripts/exec-standin`) and starts the pod's command — the real `chaosdeck helper
//! filter` — as a process with the files backend under the exec root; a helper pod deleted
//! gets SIGTERM, as the kubelet sends, and one whose program ended is reported Succeeded or
//! Failed. [`rules`] reads what is in force on either target.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaosdeck_testbed::cluster::TestCluster;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use serde_json::json;

pub const HELPER_SELECTOR: &str = "app.kubernetes.io/name=chaosdeck-helper";

/// The helper processes of the test bed, stopped (SIGTERM) when dropped.
pub struct HelperNodes {
    stop: tokio_util::sync::CancellationToken,
    children: Arc<Mutex<HashMap<String, Child>>>,
}

impl Drop for HelperNodes {
    fn drop(&mut self) {
        self.stop.cancel();
        let mut children = self.children.lock().unwrap();
        for child in children.values_mut() {
            // SAFETY: kill(2) on our own child's pid, not yet waited for.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

fn state_dir(cluster: &TestCluster) -> Option<PathBuf> {
    cluster.exec_root().map(|root| root.join("helpers"))
}

impl HelperNodes {
    /// Starts watching helper pods on the test bed; nothing on the sandbox (it models them).
    pub fn start(cluster: &TestCluster) -> Option<HelperNodes> {
        let root = cluster.exec_root()?;
        let state = state_dir(cluster)?;
        std::fs::create_dir_all(&state).unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let children: Arc<Mutex<HashMap<String, Child>>> = Arc::default();
        let client = cluster.client();
        let (halt, procs) = (stop.clone(), children.clone());
        tokio::spawn(async move {
            let pods: Api<Pod> = Api::all(client.clone());
            let mut seen = std::collections::HashSet::new();
            let mut reported = std::collections::HashSet::new();
            while !halt.is_cancelled() {
                let list = match pods.list(&ListParams::default().labels(HELPER_SELECTOR)).await {
                    Ok(list) => list.items,
                    Err(_) => Vec::new(),
                };
                let mut alive = std::collections::HashSet::new();
                for pod in &list {
                    let uid = pod.metadata.uid.clone().unwrap_or_default();
                    let deleting = pod.metadata.deletion_timestamp.is_some();
                    if !deleting {
                        alive.insert(uid.clone());
                    }
                    let running =
                        pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                    if deleting || !running || !seen.insert(uid.clone()) {
                        continue;
                    }
                    let ns = pod.metadata.namespace.clone().unwrap_or_default();
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    let command: Vec<String> = pod
                        .spec
                        .iter()
                        .flat_map(|s| s.containers.first())
                        .flat_map(|c| c.command.clone().unwrap_or_default())
                        .collect();
                    // `chaosdeck helper <fault> …` only: the same words, with the files
                    // backend (a second --backend or --state-dir in them makes clap refuse).
                    let words: Vec<&str> = command.iter().map(String::as_str).collect();
                    let faults = ["filter", "netem", "link-down", "throttle", "lift"];
                    if !matches!(words.as_slice(), ["chaosdeck", "helper", f, ..] if faults.contains(f))
                    {
                        continue;
                    }
                    exec_object(&client, &root, &ns, &name).await;
                    let child = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
                        .args(&command[1..])
                        .args(["--backend", "files", "--state-dir"])
                        .arg(&state)
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap();
                    procs.lock().unwrap().insert(uid, child);
                }
                // The kubelet stops a deleted pod's container (SIGTERM) and reports one whose
                // program ended (Succeeded or Failed, by its exit code).
                let mut ended = Vec::new();
                for (uid, child) in procs.lock().unwrap().iter_mut() {
                    match child.try_wait() {
                        Ok(None) if !alive.contains(uid) => {
                            // SAFETY: as in Drop; not yet reaped (try_wait said so).
                            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
                        }
                        Ok(Some(status)) if alive.contains(uid) => {
                            ended.push((uid.clone(), status.code().unwrap_or(1)));
                        }
                        _ => {}
                    }
                }
                for (uid, code) in ended {
                    let Some(pod) = list.iter().find(|p| p.metadata.uid.as_deref() == Some(&uid))
                    else {
                        continue;
                    };
                    if reported.insert(uid.clone()) {
                        finished(&client, pod, code).await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Some(HelperNodes { stop, children })
    }
}

/// Reports helper pod `pod`'s container ended with `code`, as the kubelet would.
async fn finished(client: &kube::Client, pod: &Pod, code: i32) {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let now = jiff::Timestamp::now().to_string();
    let status = json!({"status": {
        "phase": if code == 0 { "Succeeded" } else { "Failed" },
        "containerStatuses": [{
            "name": "helper", "ready": false, "restartCount": 0,
            "image": "chaosdeck", "imageID": "",
            "state": {"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }, "finishedAt": now}},
        }],
    }});
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let _ = pods
        .patch_status(&name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&status))
        .await;
}

/// The helper pod's kwok `Exec`: `chaosdeck` runs the real binary through the stand-in.
async fn exec_object(client: &kube::Client, root: &std::path::Path, ns: &str, name: &str) {
    let pod_dir = root.join("pods").join(ns).join(name);
    std::fs::create_dir_all(&pod_dir).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("chaosdeck");
    let exec = json!({
        "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Exec",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"execs": [{"containers": ["helper"], "local": {
            "workDir": pod_dir,
            "envs": [
                {"name": "CHAOSDECK_EXEC_ROOT", "value": root},
                {"name": "CHAOSDECK_POD_ROOT", "value": pod_dir},
                {"name": "CHAOSDECK_BIN", "value": bin},
            ],
        }}]},
    });
    let gvk = GroupVersionKind::gvk("kwok.x-k8s.io", "v1alpha1", "Exec");
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk(&gvk));
    let _ = api.create(&PostParams::default(), &serde_json::from_value(exec).unwrap()).await;
}

/// The helper faults in force — `iptables -S` lines tagged `chaosdeck-…`, netem qdiscs, links
/// down, `io.max` limits — on either target.
pub fn rules(cluster: &TestCluster) -> Vec<String> {
    if let Some(sandbox) = cluster.sandbox() {
        return sandbox.helper_rules();
    }
    let Some(dir) = state_dir(cluster) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = || std::fs::read_to_string(entry.path()).unwrap_or_default();
        if name.starts_with("netns-") && name.ends_with(".iptables") {
            out.extend(text().lines().filter(|l| l.contains("chaosdeck-")).map(str::to_string));
        }
        if name.starts_with("netns-") && name.ends_with(".qdisc") {
            out.extend(text().lines().filter(|l| l.contains(" netem ")).map(str::to_string));
        }
        if name.starts_with("netns-") && name.ends_with(".io.max") {
            out.extend(text().lines().map(|l| format!("io.max {l}")));
        }
        if name.starts_with("netns-") && name.ends_with(".links") {
            let down = text();
            out.extend(
                down.lines()
                    .filter_map(|l| l.strip_suffix(" down"))
                    .map(|d| format!("dev {d}: down")),
            );
        }
    }
    out
}
