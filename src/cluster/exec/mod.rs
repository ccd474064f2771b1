//! Running one command in one container through `pods/exec`, as kubectl does (WebSocket,
//! `v5.channel.k8s.io`, `v4` when the server has no v5).
//!
//! Owns: the check that the container is still the one a caller means (same pod uid, same
//! restart count, running), the exec itself with a time bound, and reading its stdout, stderr
//! and exit status. Must not decide what to run: the closed vocabulary of [`ExecCommand`] is the
//! only input, and the scenario context and the executor are the only callers that change
//! anything with it.

mod command;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use tokio::io::AsyncReadExt;

pub use command::{
    ContainerPath, DiskUsage, ExecCommand, HELPER_PROGRAM, HelperVerb, helper_tagged,
};

use super::ClusterOps;
use crate::refs::{ObjectRef, printable};

/// Output kept per stream; more is cut (the vocabulary's programs print a few lines).
const KEPT_OUTPUT_BYTES: u64 = 1024 * 1024;

/// The container a command is meant for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContainerTarget {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// The pod's uid when the caller recorded it: another pod of the same name is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The container's restart count when the caller recorded it: a restart is reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<i32>,
}

impl ContainerTarget {
    pub fn display(&self) -> String {
        format!("container {} of pod {}/{}", self.container, self.namespace, self.pod)
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// What the pod looked like when the command was sent. Only [`ClusterOps::exec`] makes one,
/// so holding one proves the container was checked ([`ClusterOps::exec_again`]).
// A private field, not `#[non_exhaustive]`: that would still let the rest of the crate build
// one.
#[allow(clippy::manual_non_exhaustive)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub uid: String,
    pub restarts: i32,
    checked: (),
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{0}: the pod does not exist")]
    PodGone(String),
    #[error("{what}: the pod was replaced (uid {expected} recorded, {found} now)")]
    PodReplaced { what: String, expected: String, found: String },
    #[error("{what}: the container restarted ({expected} restarts recorded, {found} now)")]
    Restarted { what: String, expected: i32, found: i32 },
    #[error("{0}: the pod has no such container")]
    NoContainer(String),
    #[error("{what}: the container is not running{why}")]
    NotRunning { what: String, why: String },
    #[error("{what}: the container has no `{program}` (exit {code}): {stderr}")]
    NoProgram { what: String, program: &'static str, code: i32, stderr: String },
    #[error("{what}: `{program}` did not finish within {secs} s")]
    TimedOut { what: String, program: &'static str, secs: u64 },
    #[error(transparent)]
    Op(Box<super::OpError>),
    #[error("{what}: exec failed: {message}")]
    Failed { what: String, message: String },
}

impl From<super::OpError> for ExecError {
    fn from(e: super::OpError) -> Self {
        ExecError::Op(Box::new(e))
    }
}

impl ExecError {
    /// The container (or its pod) is not there any more: an undo has nothing left to do there.
    pub fn is_gone(&self) -> bool {
        matches!(self, ExecError::PodGone(_) | ExecError::PodReplaced { .. })
    }
}

impl ClusterOps {
    /// Reads the pod and checks it is the one `target` means, then runs `command` in it.
    /// Exit codes 126 and 127 (the program cannot run, or is not there) are errors; any
    /// other code is the caller's to read.
    pub async fn exec(
        &self,
        target: &ContainerTarget,
        command: &ExecCommand,
        timeout: Duration,
    ) -> Result<(Seen, ExecOutput), ExecError> {
        let what = target.display();
        let pods: Api<Pod> = Api::namespaced(self.client().clone(), &target.namespace);
        let pod_ref = ObjectRef::new("v1", "Pod", Some(&target.namespace), &target.pod);
        let pod = match pods.get_opt(&target.pod).await {
            Ok(Some(pod)) => pod,
            Ok(None) => return Err(ExecError::PodGone(what)),
            Err(e) => return Err(self.op_error(&pod_ref, "get", e).into()),
        };
        let seen = check(target, &pod)?;
        let out = self.exec_unread(target, command, timeout).await?;
        Ok((seen, out))
    }

    /// Runs `command` in a container [`ClusterOps::exec`] has just checked (the next command of
    /// the same undo): one request instead of two.
    pub async fn exec_again(
        &self,
        target: &ContainerTarget,
        _checked: &Seen,
        command: &ExecCommand,
        timeout: Duration,
    ) -> Result<ExecOutput, ExecError> {
        self.exec_unread(target, command, timeout).await
    }

    async fn exec_unread(
        &self,
        target: &ContainerTarget,
        command: &ExecCommand,
        timeout: Duration,
    ) -> Result<ExecOutput, ExecError> {
        let what = target.display();
        let pods: Api<Pod> = Api::namespaced(self.client().clone(), &target.namespace);
        let pod_ref = ObjectRef::new("v1", "Pod", Some(&target.namespace), &target.pod);
        let params = AttachParams::default()
            .container(target.container.clone())
            .stdin(false)
            .stdout(true)
            .stderr(true);
        let program = command.program();
        let run = async {
            let mut attached = pods
                .exec(&target.pod, command.argv(), &params)
                .await
                .map_err(|e| self.op_error(&pod_ref, "exec", e))?;
            let (stdout, stderr) = (attached.stdout(), attached.stderr());
            let status = attached.take_status();
            let (out, err) = tokio::join!(read_all(stdout), read_all(stderr));
            let status = match status {
                Some(s) => s.await,
                None => None,
            };
            Ok::<_, ExecError>((out, err, status))
        };
        let (stdout, stderr, status) =
            tokio::time::timeout(timeout, run).await.map_err(|_| ExecError::TimedOut {
                what: what.clone(),
                program,
                secs: timeout.as_secs(),
            })??;
        let code = exit_code(status.as_ref())
            .map_err(|message| ExecError::Failed { what: what.clone(), message })?;
        if code == 126 || code == 127 {
            return Err(ExecError::NoProgram {
                what,
                program,
                code,
                stderr: printable(&stderr).into_owned(),
            });
        }
        Ok(ExecOutput { stdout, stderr, code })
    }
}

fn check(target: &ContainerTarget, pod: &Pod) -> Result<Seen, ExecError> {
    let what = target.display();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    if let Some(expected) = &target.uid
        && *expected != uid
    {
        return Err(ExecError::PodReplaced { what, expected: expected.clone(), found: uid });
    }
    let spec_has =
        pod.spec.as_ref().is_some_and(|s| s.containers.iter().any(|c| c.name == target.container));
    if !spec_has {
        return Err(ExecError::NoContainer(what));
    }
    let status = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|all| all.iter().find(|c| c.name == target.container));
    let restarts = status.map(|s| s.restart_count).unwrap_or(0);
    if let Some(expected) = target.restarts
        && expected != restarts
    {
        return Err(ExecError::Restarted { what, expected, found: restarts });
    }
    let running = status.and_then(|s| s.state.as_ref()).is_some_and(|s| s.running.is_some());
    if !running {
        let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
        return Err(ExecError::NotRunning { what, why: format!(" (pod phase {phase})") });
    }
    Ok(Seen { uid, restarts, checked: () })
}

async fn read_all(stream: Option<impl tokio::io::AsyncRead + Unpin>) -> String {
    let Some(stream) = stream else { return String::new() };
    let mut buf = Vec::new();
    // A read error ends the stream; what arrived so far is still worth reporting.
    let _ = stream.take(KEPT_OUTPUT_BYTES).read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// The exit code in the final Status: 0 for Success, the `ExitCode` cause for
/// NonZeroExitCode; anything else (no status, another failure) is an error.
fn exit_code(
    status: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>,
) -> Result<i32, String> {
    let Some(status) = status else {
        return Err("the connection ended without an exit status".into());
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let code = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|c| c.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.parse::<i32>().ok());
    let message = status.message.as_deref().unwrap_or("no message");
    match (status.reason.as_deref(), code) {
        (Some("NonZeroExitCode"), Some(code)) => Ok(code),
        // A runtime that cannot start the program answers with an error, not an exit code
        // (kwok, containerd's "executable file not found"): the shell's 127.
        _ if message.contains("executable file not found") => Ok(127),
        // kwok wraps the program's exit error, so the API server reports an internal error
        // ending in Go's "exit status N" instead of NonZeroExitCode.
        _ => match message.rsplit_once("exit status ").map(|(_, n)| n.trim().parse::<i32>()) {
            Some(Ok(code)) if code > 0 => Ok(code),
            _ => Err(printable(message).into_owned()),
        },
    }
}
