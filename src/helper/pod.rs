//! The pod every helper runs in: chaosdeck's image, pinned to the target's node, the
//! capabilities and host namespaces its fault needs and nothing else, no service-account token,
//! a read-only root with its state on an emptyDir, and a deadline the kubelet enforces even if
//! the helper's own clock is wrong. Built here, beside the program it runs, for the scenarios
//! (which start faults) and the undo (which lifts a throttle Krkn left).

use std::time::Duration;

use serde_json::{Value, json};

use super::args::DEFAULT_STATE_DIR;

/// The container of every helper pod.
pub const HELPER_CONTAINER: &str = "helper";

/// How long after the chaos window a helper removes its fault by itself: long enough for the
/// run's own undo to come first, short enough that a dead run leaves the fault for seconds.
pub const HELPER_GRACE: Duration = Duration::from_secs(10);

/// What differs between helper faults.
pub struct HelperPod<'a> {
    pub node: &'a str,
    pub command: Vec<String>,
    /// How long the helper holds its fault (its `--for`).
    pub seconds: u64,
    pub capabilities: &'a [&'a str],
    /// The node's processes (to enter a pod's namespaces or read its mounts).
    pub host_pid: bool,
    /// The node's own network namespace.
    pub host_network: bool,
    /// The node's cgroup v2 tree, writable (an I/O throttle).
    pub cgroups: bool,
    pub tolerations: Vec<Value>,
    pub service_account: Option<&'a str>,
}

/// Names the helper image as the cluster pulls it (a registry's name for it), for helper pods
/// this process starts; `chaosdeck job` passes it on to the Job.
pub const HELPER_IMAGE_ENV: &str = "CHAOSDECK_HELPER_IMAGE";

/// The image the helper runs: [`HELPER_IMAGE_ENV`] when set, else chaosdeck's helper image at
/// this version as `scripts/image build` tags it — the same binary with the programs its
/// kernel backend runs, which chaosdeck's own image leaves out.
pub fn helper_image() -> String {
    std::env::var(HELPER_IMAGE_ENV)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("chaosdeck-helper:{}", env!("CARGO_PKG_VERSION")))
}

pub fn helper_pod(h: HelperPod<'_>) -> Value {
    let mut volumes = vec![json!({"name": "state", "emptyDir": {"medium": "Memory"}})];
    let mut mounts = vec![json!({"name": "state", "mountPath": DEFAULT_STATE_DIR})];
    if h.cgroups {
        volumes.push(
            json!({"name": "cgroup", "hostPath": {"path": "/sys/fs/cgroup", "type": "Directory"}}),
        );
        mounts.push(json!({"name": "cgroup", "mountPath": "/sys/fs/cgroup"}));
    }
    let mut security = json!({
        "capabilities": {"drop": ["ALL"], "add": h.capabilities},
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
    });
    if h.cgroups || !h.capabilities.is_empty() {
        // cgroup files are root's to write, and Kubernetes gives added capabilities effect
        // only to uid 0 (it sets no ambient capabilities).
        security["runAsUser"] = json!(0);
    }
    let mut spec = json!({
        "nodeName": h.node,
        "restartPolicy": "Never",
        "activeDeadlineSeconds": h.seconds + 30,
        "automountServiceAccountToken": false,
        "tolerations": h.tolerations,
        "volumes": volumes,
        "containers": [{
            "name": HELPER_CONTAINER,
            "image": helper_image(),
            "command": h.command,
            "volumeMounts": mounts,
            "securityContext": security,
        }],
    });
    if h.host_pid {
        spec["hostPID"] = json!(true);
    }
    if h.host_network {
        spec["hostNetwork"] = json!(true);
    }
    if let Some(sa) = h.service_account.filter(|s| !s.is_empty()) {
        spec["serviceAccountName"] = json!(sa);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"labels": {"app.kubernetes.io/name": "chaosdeck-helper"}},
        "spec": spec,
    })
}
