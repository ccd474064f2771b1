//! The undo of a PVC fill (a file allocated inside a container): remove exactly the file chaosdeck allocated, through the pod that
//! wrote it or, when that pod is gone, any running pod that mounts the same claim now.
//!
//! Requests: one GET of the recorded pod, one exec of `rm`, one exec of `df` in the same
//! container (the check that the space came back); a GET of the claim and a LIST of the
//! namespace's pods only when the recorded pod is gone.
//! "Already gone" is reported only after looking: `rm` itself said the file was not there, or
//! the claim (and with it the file) no longer exists.

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams};

use super::written_by::Author;
use crate::cluster::ClusterOps;
use crate::cluster::exec::{ContainerPath, ContainerTarget, DiskUsage, ExecCommand, ExecError};
use crate::journal::placed_file::PlacedFile;
use crate::journal::shell::shell_word;
use crate::refs::ObjectRef;

/// Each exec of the undo is bounded: a container that does not answer fails the undo, which
/// stays pending to be retried, instead of holding the context lock.
const EXEC_LIMIT: Duration = Duration::from_secs(30);

/// The pod the file was written through.
pub(super) fn target(file: &PlacedFile) -> ObjectRef {
    let c = &file.container;
    ObjectRef::new("v1", "Pod", Some(&c.namespace), &c.pod)
}

pub(super) fn left_as_is(file: &PlacedFile) -> String {
    let on = file
        .claim
        .as_ref()
        .map(|c| format!("claim {c}"))
        .unwrap_or_else(|| format!("the volume of {}", file.container.display()));
    format!("{} stays on {on}, taking its space", file.path)
}

/// Only a file under the recorded mount whose name carries its tag; and for chaosdeck's own
/// entries only the name chaosdeck gives its fills: an entry asking to remove any other file
/// is not one chaosdeck wrote.
pub(super) fn admit(file: &PlacedFile, author: Author) -> Result<(), String> {
    let target = target(file);
    file.command().map_err(|why| format!("the removal in {}: {why}", target.display()))?;
    let expected = format!("chaosdeck-fill-{}.tmp", file.tag);
    if author == Author::Chaosdeck && file.path.file_name() != expected {
        return Err(format!(
            "the removal in {} names a file chaosdeck does not write (its fills are named \
             chaosdeck-fill-<entry id>.tmp)",
            target.display()
        ));
    }
    Ok(())
}

pub(super) fn kubectl(file: &PlacedFile) -> Vec<String> {
    let c = &file.container;
    let exec = format!(
        "kubectl exec -n {} {} -c {} --",
        shell_word(&c.namespace),
        shell_word(&c.pod),
        shell_word(&c.container)
    );
    let mut lines = Vec::new();
    if let Some(uid) = &c.uid {
        lines.push(format!(
            "kubectl get pod {} -n {} -o jsonpath='{{.metadata.uid}}'   # {uid}, or find the \
             pod that mounts the claim now",
            shell_word(&c.pod),
            shell_word(&c.namespace)
        ));
    }
    lines.push(format!("{exec} rm -- {}", shell_word(file.path.as_str())));
    lines.push(format!("{exec} df -P -k {}", shell_word(file.mount_path.as_str())));
    lines
}

pub(super) async fn apply(ops: &ClusterOps, file: &PlacedFile) -> Result<Option<String>, String> {
    file.command()?;
    let mut pinned = file.clone();
    pinned.container.restarts = None;
    match remove_in(ops, &pinned).await {
        Err(e) if e.is_gone() || matches!(e, ExecError::NotRunning { .. }) => {
            let Some(claim) = &file.claim else {
                // Krkn's files record no claim: the file may still be on one, unreachable.
                return Err(format!(
                    "{e}; the entry names no claim to find {} through another pod, so it stays \
                     pending (mark it executed once you have checked the volume)",
                    file.path
                ));
            };
            let ns = &file.container.namespace;
            match elsewhere(ops, file, claim).await? {
                Elsewhere::Found(moved) => {
                    let note = remove_in(ops, &moved).await.map_err(|e| e.to_string())?;
                    let pod = &moved.container.pod;
                    Ok(Some(format!("{note}; through pod {pod} (the recorded pod: {e})")))
                }
                Elsewhere::ClaimGone => Ok(Some(format!(
                    "{e}; claim {ns}/{claim} no longer exists, and {} went with it",
                    file.path
                ))),
                Elsewhere::NoPod => Err(format!(
                    "{e}; no running pod mounts claim {ns}/{claim} now, so {} stays on it — \
                     start a pod on the claim and execute this entry again",
                    file.path
                )),
            }
        }
        Err(e) => Err(e.to_string()),
        Ok(note) => Ok(Some(note)),
    }
}

/// Removes the file in `file.container` and checks the space; the note says which of "removed"
/// or "already gone" `rm` found.
async fn remove_in(ops: &ClusterOps, file: &PlacedFile) -> Result<String, ExecError> {
    let command = file
        .command()
        .map_err(|why| ExecError::Failed { what: file.container.display(), message: why })?;
    let (seen, out) = ops.exec(&file.container, &command, EXEC_LIMIT).await?;
    let gone = out.code != 0 && out.stderr.contains("No such file or directory");
    if out.code != 0 && !gone {
        return Err(ExecError::Failed {
            what: file.container.display(),
            message: format!(
                "rm exited {}: {}",
                out.code,
                crate::refs::printable(out.stderr.trim())
            ),
        });
    }
    let df = ExecCommand::disk_usage(file.mount_path.clone());
    let usage = ops.exec_again(&file.container, &seen, &df, EXEC_LIMIT).await?;
    let usage = DiskUsage::parse(&usage.stdout)
        .map(|u| format!("{} is {:.0}% used now", file.mount_path, u.percent_used()))
        .unwrap_or_else(|e| format!("df after the removal: {e}"));
    Ok(if gone {
        format!("{} already gone (looked in {}); {usage}", file.path, file.container.display())
    } else {
        format!("removed {}; {usage}", file.path)
    })
}

/// Where else the file of a pod that is gone can be reached.
enum Elsewhere {
    /// Through this running pod on the same claim.
    Found(Box<PlacedFile>),
    /// The claim exists, but no running pod mounts it.
    NoPod,
    /// The claim itself is gone (and its file with it).
    ClaimGone,
}

async fn elsewhere(ops: &ClusterOps, file: &PlacedFile, claim: &str) -> Result<Elsewhere, String> {
    let ns = &file.container.namespace;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ops.client().clone(), ns);
    let found =
        claims.get_opt(claim).await.map_err(|e| format!("reading claim {ns}/{claim}: {e}"))?;
    if found.is_none() {
        return Ok(Elsewhere::ClaimGone);
    }
    let pods: Api<Pod> = Api::namespaced(ops.client().clone(), ns);
    let list = pods
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("listing pods in {ns}: {e}"))?;
    for pod in list.items {
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        let (Some(spec), Some(name)) = (pod.spec.as_ref(), pod.metadata.name.as_ref()) else {
            continue;
        };
        if !running || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let volume =
            spec.volumes.iter().flatten().find(|v| {
                v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == claim)
            });
        let Some(volume) = volume else { continue };
        for container in &spec.containers {
            let mount = container.volume_mounts.iter().flatten().find(|m| m.name == volume.name);
            let Some(mount) = mount else { continue };
            let Ok(mount_path) = ContainerPath::parse(&mount.mount_path) else { continue };
            let target = ContainerTarget {
                namespace: ns.clone(),
                pod: name.clone(),
                container: container.name.clone(),
                uid: pod.metadata.uid.clone(),
                restarts: None,
            };
            return file.seen_from(target, mount_path).map(|f| Elsewhere::Found(Box::new(f)));
        }
    }
    Ok(Elsewhere::NoPod)
}
