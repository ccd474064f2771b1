//! The undo of Krkn's storage throttle (`rollback_throttle`), which Krkn's own copy cannot run
//! (`NameError: base64`): start chaosdeck's helper on the node of Krkn's privileged pod to write
//! the device's limits back to `max` in the recorded cgroup, wait for it to say so (exit 0),
//! then delete it and Krkn's pod. Krkn records no node: without its pod the entry stays
//! pending with the by-hand steps.

use std::time::{Duration, Instant};

use serde_json::json;

use super::written_by::Author;
use crate::cluster::ClusterOps;
use crate::helper::LIFT_CGROUP_GONE as CGROUP_GONE;
use crate::helper::pod::{HelperPod, helper_pod};
use crate::journal::shell::{resource_arg, shell_quote};
use crate::refs::ObjectRef;

/// How long the lift may take (one write on the node) before the undo fails, to be retried.
const LIFT_LIMIT: Duration = Duration::from_secs(60);

pub(super) fn summary(pod: &ObjectRef, device: &str, cgroup: &str) -> String {
    format!("lift the I/O limits of {device} in cgroup {cgroup} (Krkn's {})", pod.display())
}

pub(super) fn left_as_is(pod: &ObjectRef, device: &str) -> String {
    format!("the I/O limits on {device} stay, and so does Krkn's {}", pod.display())
}

/// Only Krkn's files carry it (chaosdeck throttles through its own helper), and only for a
/// device number and a pod's cgroup.
pub(super) fn admit(
    device: &str,
    cgroup: &str,
    version: &str,
    author: Author,
) -> Result<(), String> {
    if author == Author::Chaosdeck {
        return Err("chaosdeck's entries never lift a Krkn throttle".into());
    }
    crate::helper::check_device(device)?;
    crate::helper::check_cgroup_path(cgroup)?;
    if !matches!(version, "v1" | "v2") {
        return Err(format!("cgroup version {version:?} is not v1 or v2"));
    }
    Ok(())
}

fn by_hand(device: &str, cgroup: &str) -> String {
    format!(
        "write \"{device} rbps=max wbps=max riops=max wiops=max\" to /sys/fs/cgroup{cgroup}/io.max on that node"
    )
}

pub(super) async fn apply(
    ops: &ClusterOps,
    pod: &ObjectRef,
    device: &str,
    cgroup: &str,
    version: &str,
) -> Result<Option<String>, String> {
    let Some(krkn_pod) = ops.get(pod).await.map_err(|e| e.to_string())? else {
        return Err(format!(
            "Krkn's {} is gone, and with it the only record of its node: {} by hand, then mark \
             the file executed",
            pod.display(),
            by_hand(device, cgroup)
        ));
    };
    let node = krkn_pod.data.pointer("/spec/nodeName").and_then(|n| n.as_str()).unwrap_or("");
    if node.is_empty() {
        return Err(format!("Krkn's {} names no node", pod.display()));
    }
    let mut name = format!("chaosdeck-lift-{}", pod.name);
    name.truncate(63);
    let name = name.trim_end_matches('-').to_string();
    let lift = ObjectRef::new("v1", "Pod", pod.namespace.as_deref(), &name);
    let found = ops.get(&lift).await.map_err(|e| e.to_string())?;
    // A pod of that name that is not a lift helper (someone else's) is neither read nor
    // deleted.
    let ours = |o: &kube::api::DynamicObject| {
        o.metadata.labels.as_ref().and_then(|l| l.get("app.kubernetes.io/name")).map(String::as_str)
            == Some("chaosdeck-helper")
            && o.data.pointer("/spec/containers/0/command/2").and_then(|v| v.as_str())
                == Some("lift")
    };
    if found.as_ref().is_some_and(|o| !ours(o)) {
        return Err(format!(
            "{} exists and is not chaosdeck's lift helper; delete or rename it, then run the \
             rollback again",
            lift.display()
        ));
    }
    if found.is_none() {
        let command: Vec<String> = [
            crate::cluster::exec::HELPER_PROGRAM,
            "helper",
            "lift",
            "--node",
            node,
            "--device",
            device,
            "--cgroup-path",
            cgroup,
            "--cgroup-version",
            version,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut object = helper_pod(HelperPod {
            node,
            command,
            seconds: 0,
            capabilities: &[],
            host_pid: false,
            host_network: false,
            cgroups: true,
            tolerations: vec![json!({"operator": "Exists"})],
            service_account: None,
        });
        object["metadata"]["name"] = json!(name);
        object["metadata"]["namespace"] = json!(pod.namespace);
        ops.create(&object).await.map_err(|e| e.to_string())?;
    }
    let deadline = Instant::now() + LIFT_LIMIT;
    let code = loop {
        let Some(now) = ops.get(&lift).await.map_err(|e| e.to_string())? else {
            return Err(format!(
                "the lift helper {} disappeared before it finished",
                lift.display()
            ));
        };
        let status = now.data.pointer("/status/containerStatuses/0/state/terminated/exitCode");
        if let Some(code) = status.and_then(|c| c.as_i64()) {
            break code;
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the lift helper {} did not finish within {} s; run the rollback again",
                lift.display(),
                LIFT_LIMIT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Deleted either way: a failed lift is retried with a fresh helper.
    ops.delete_named(&lift).await.map_err(|e| e.to_string())?;
    if code == i64::from(CGROUP_GONE) {
        ops.delete_named(pod).await.map_err(|e| e.to_string())?;
        return Ok(Some(format!(
            "cgroup {cgroup} is gone on node {node}: its container ended, and the limit of \
             {device} with it; deleted Krkn's {}",
            pod.display()
        )));
    }
    if code != 0 {
        return Err(format!(
            "the lift helper on node {node} exited {code}: the limit may still be in force; {} by \
             hand",
            by_hand(device, cgroup)
        ));
    }
    ops.delete_named(pod).await.map_err(|e| e.to_string())?;
    Ok(Some(format!(
        "lifted the I/O limits of {device} in cgroup {cgroup} on node {node}; deleted Krkn's {}",
        pod.display()
    )))
}

pub(super) fn kubectl(pod: &ObjectRef, device: &str, cgroup: &str) -> Vec<String> {
    vec![
        format!("# on the node of {}: {}", pod.display(), by_hand(device, cgroup)),
        format!("kubectl get {} -o jsonpath='{{.spec.nodeName}}'", resource_arg(pod)),
        format!(
            "# for example: kubectl debug node/<node> -it --image=busybox -- chroot /host sh -c {}",
            shell_quote(&format!(
                "echo '{device} rbps=max wbps=max riops=max wiops=max' > /sys/fs/cgroup{cgroup}/io.max"
            ))
        ),
        format!("kubectl delete {}", resource_arg(pod)),
    ]
}
