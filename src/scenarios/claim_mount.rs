//! Finding a claim's pod: the running pod on a named claim (or the named pod) and its container
//! that mounts the claim, for the faults that act on a volume (PVC fill, storage throttle).

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;

use super::ctx::ScenarioCtx;
use super::error::ScenarioError;
use super::needs::{Need, Op, POD};
use crate::cluster::exec::{ContainerPath, ContainerTarget};
use crate::journal::ObjectRef;

/// The claim, and the pod and container that mount it.
pub(super) struct Mounted {
    pub container: ContainerTarget,
    pub claim: String,
    pub mount_path: ContainerPath,
    /// The node the pod runs on.
    pub node: String,
}

/// The claim a scenario file names: by its name, or as the claim of a named pod.
pub(super) struct ClaimTarget<'a> {
    pub ns: &'a str,
    pub pvc_name: Option<&'a str>,
    pub pod_name: Option<&'a str>,
}

impl<'a> ClaimTarget<'a> {
    /// As a scenario file's `namespace`, `pvc_name` and `pod_name` keys give it.
    pub fn of(ns: &'a str, pvc_name: &'a Option<String>, pod_name: &'a Option<String>) -> Self {
        ClaimTarget { ns, pvc_name: pvc_name.as_deref(), pod_name: pod_name.as_deref() }
    }

    /// For a plan's description: `claim ns/name` or `the claim of pod ns/name`.
    pub fn describe(&self) -> String {
        let ns = self.ns;
        match (self.pvc_name, self.pod_name) {
            (Some(pvc), _) => format!("claim {ns}/{pvc}"),
            (None, Some(pod)) => format!("the claim of pod {ns}/{pod}"),
            (None, None) => "a claim".into(),
        }
    }

    /// What [`ClaimTarget::locate`] reads: the named pod, or the namespace's pods.
    pub fn find_need(&self) -> Need {
        match (self.pvc_name, self.pod_name) {
            (None, Some(_)) => Need::new(Op::Get, POD, Some(self.ns)),
            _ => Need::new(Op::List, POD, Some(self.ns)),
        }
    }

    /// Checks the namespace may be touched, says what it looks for, and finds the claim's pod
    /// and container ([`locate`]).
    pub async fn locate(&self, ctx: &ScenarioCtx) -> Result<Mounted, ScenarioError> {
        ctx.check_namespace(self.ns)?;
        ctx.step(format!("finding the claim in {}", self.ns));
        locate(ctx, self.ns, self.pvc_name, self.pod_name).await
    }
}

/// Finds the pod (a running one on the named claim, else the named pod) and its container
/// mounting the claim (named, or the pod's first claim).
async fn locate(
    ctx: &ScenarioCtx,
    ns: &str,
    pvc_name: Option<&str>,
    pod_name: Option<&str>,
) -> Result<Mounted, ScenarioError> {
    let pod_name_given = pod_name;
    // As in Krkn, pod_name is ignored when pvc_name is set.
    let pod_name = pod_name.filter(|_| pvc_name.is_none());
    let pods: Vec<Pod> = match pod_name {
        Some(name) => {
            let target = ObjectRef::new("v1", "Pod", Some(ns), name);
            let Some(found) = ctx.get(&target).await? else {
                return Err(ScenarioError::Failed(format!("pod {ns}/{name} not found")));
            };
            let pod = serde_json::to_value(found)
                .and_then(serde_json::from_value::<Pod>)
                .map_err(|e| ScenarioError::Internal(format!("reading pod {ns}/{name}: {e}")))?;
            vec![pod]
        }
        None => ctx.list_in::<Pod>(ns, &ListParams::default()).await?,
    };
    for pod in &pods {
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if !running || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(spec_) = &pod.spec else { continue };
        let volume = spec_.volumes.iter().flatten().find(|v| {
            v.persistent_volume_claim
                .as_ref()
                .is_some_and(|c| pvc_name.is_none_or(|n| n == c.claim_name))
        });
        let Some(volume) = volume else { continue };
        let claim = volume
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.clone())
            .unwrap_or_default();
        for c in &spec_.containers {
            let Some(m) = c.volume_mounts.iter().flatten().find(|m| m.name == volume.name) else {
                continue;
            };
            let mount_path = ContainerPath::parse(&m.mount_path).map_err(|why| {
                ScenarioError::Failed(format!("mount path of claim {claim}: {why}"))
            })?;
            let restarts = pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|all| all.iter().find(|s| s.name == c.name))
                .map(|s| s.restart_count);
            let container = ContainerTarget {
                namespace: ns.to_string(),
                pod: pod.metadata.name.clone().unwrap_or_default(),
                container: c.name.clone(),
                uid: pod.metadata.uid.clone(),
                restarts,
            };
            let node = spec_.node_name.clone().unwrap_or_default();
            return Ok(Mounted { container, claim, mount_path, node });
        }
    }
    Err(ScenarioError::Failed(match (pod_name_given, pvc_name) {
        (Some(pod), Some(pvc)) => {
            format!("pod {ns}/{pod} is not running with claim {pvc} mounted")
        }
        (Some(pod), None) => format!("pod {ns}/{pod} is not running with a claim mounted"),
        (None, Some(pvc)) => format!("no running pod in {ns} mounts claim {pvc}"),
        (None, None) => format!("no running pod in {ns} mounts a claim"),
    }))
}
