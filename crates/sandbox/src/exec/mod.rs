//! `pods/{name}/exec` over WebSocket, as kubectl (v1.30+) and kube-rs speak it: the
//! `v5.channel.k8s.io` subprotocol (or `v4`), one binary frame per write with the channel in
//! its first byte (1 stdout, 2 stderr, 3 the final `Status`), then a close.
//!
//! Owns: checking an exec request the way the API server does before the upgrade (the pod
//! exists, is bound and not finished, the container is named or the only one, a command is
//! given; a request that is not an upgrade is then refused) and the kubelet after it (the
//! container is running), running the command against the container's files ([`filesystems`], [`commands`])
//! and the wire format of its output. Must not change API objects itself: a signal to PID 1
//! goes through [`crate::controllers::restarts`]. SPDY is not served: kubectl falls back to it
//! only when the WebSocket upgrade is refused, and this server never refuses it for that reason.

pub mod commands;
pub mod filesystems;
pub mod netfilter;

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::controllers::restarts;
use crate::meta;
use crate::resources as r;
use crate::status::ApiError;
use crate::store::Store;
use commands::Effect;
pub use filesystems::Filesystems;
pub use netfilter::NetFilter;

/// Subprotocols in the server's order of preference (v5 adds closing one stream).
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
/// Output is sent in frames of at most this size, as the kubelet's stream copier does.
const FRAME_BYTES: usize = 32 * 1024;

/// A checked exec request: who runs what where.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub ns: String,
    pub pod: String,
    pub uid: String,
    pub container: String,
    pub argv: Vec<String>,
    pub stdout: bool,
    pub stderr: bool,
}

/// Reads the query (`command` repeats, so it is parsed here rather than as a map) and checks
/// the pod as the API server and kubelet would before upgrading.
pub fn check(store: &Store, ns: &str, name: &str, query: &str) -> Result<ExecRequest, ApiError> {
    let mut argv = Vec::new();
    let mut container = None;
    let mut stdout = false;
    let mut stderr = false;
    let mut tty = false;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "command" => argv.push(v.into_owned()),
            "container" => container = Some(v.into_owned()).filter(|c| !c.is_empty()),
            "stdout" => stdout = v == "true" || v == "1",
            "stderr" => stderr = v == "true" || v == "1",
            "tty" => tty = v == "true" || v == "1",
            _ => {}
        }
    }
    let pod = store.get(r::PODS, ns, name)?;
    if argv.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    if tty && stderr {
        return Err(ApiError::bad_request("tty and stderr cannot both be true"));
    }
    let names: Vec<&str> = meta::at(&pod, &["spec", "containers"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let container = match container {
        Some(c) if names.contains(&c.as_str()) => c,
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if names.len() == 1 => names[0].to_string(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    let phase = meta::str_at(&pod, &["status", "phase"]).unwrap_or("Pending");
    if matches!(phase, "Succeeded" | "Failed") {
        return Err(ApiError::bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    if meta::str_at(&pod, &["spec", "nodeName"]).is_none() {
        return Err(ApiError::bad_request(format!("pod {name} does not have a host assigned")));
    }
    Ok(ExecRequest {
        ns: ns.into(),
        pod: name.into(),
        uid: meta::uid(&pod).into(),
        container,
        argv,
        stdout,
        stderr,
    })
}

/// The kubelet's check, once the connection is upgraded: the container is running.
pub fn check_running(store: &Store, req: &ExecRequest) -> Result<(), ApiError> {
    let pod = store.get(r::PODS, &req.ns, &req.pod)?;
    let running = meta::at(&pod, &["status", "containerStatuses"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|s| {
            s.get("name").and_then(Value::as_str) == Some(req.container.as_str())
                && s.pointer("/state/running").is_some()
        });
    if running {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "unable to upgrade connection: container not found (\"{}\")",
            req.container
        )))
    }
}

/// Upgrades and runs the command once the client is connected.
pub fn serve(
    store: Arc<Store>,
    filesystems: Arc<Filesystems>,
    netfilter: Arc<NetFilter>,
    upgrade: WebSocketUpgrade,
    req: ExecRequest,
) -> Response {
    let upgrade = upgrade.protocols(PROTOCOLS);
    if upgrade.selected_protocol().is_none() {
        return ApiError::bad_request(format!(
            "none of the requested WebSocket subprotocols is served (this server speaks {})",
            PROTOCOLS.join(", ")
        ))
        .into_response();
    }
    upgrade.on_upgrade(move |socket| async move {
        let output = run(&store, &filesystems, &netfilter, &req);
        if let Err(e) = send(socket, &req, output).await {
            tracing::debug!("exec in {}/{}: the client went away: {e}", req.ns, req.pod);
        }
    })
}

fn run(
    store: &Store,
    filesystems: &Filesystems,
    netfilter: &NetFilter,
    req: &ExecRequest,
) -> commands::Output {
    // Deleted between the check and the upgrade: the container is gone with it.
    let Ok(pod) = store.get(r::PODS, &req.ns, &req.pod) else {
        let gone = format!("pod {}/{} was deleted\n", req.ns, req.pod);
        return commands::Output { code: 1, stderr: gone.into_bytes(), ..Default::default() };
    };
    let table = filesystems::mounts(store, &pod, &req.container);
    let image = meta::at(&pod, &["spec", "containers"])
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|c| c.get("name") == Some(&json!(req.container))))
        .and_then(|c| c.get("image"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let helper_program =
        req.argv.first().is_some_and(|p| p.rsplit('/').next() == Some("chaosdeck"));
    let output = if helper_program && netfilter::helper_of(&pod).is_some() {
        netfilter.exec(&pod, &req.argv)
    } else if commands::has_programs(image) {
        commands::run(filesystems, &table, &req.argv)
    } else {
        commands::not_found(&req.argv)
    };
    if let Some(Effect::Signal(signal)) = output.effect
        && let Err(e) =
            restarts::pid1_ended(store, &req.ns, &req.pod, &req.uid, &req.container, signal)
    {
        tracing::debug!("signal to PID 1 of {}/{}: {}", req.ns, req.pod, e.message);
    }
    output
}

async fn send(
    mut socket: WebSocket,
    req: &ExecRequest,
    output: commands::Output,
) -> Result<(), axum::Error> {
    for (channel, wanted, bytes) in
        [(STDOUT, req.stdout, &output.stdout), (STDERR, req.stderr, &output.stderr)]
    {
        if !wanted {
            continue;
        }
        for chunk in bytes.chunks(FRAME_BYTES) {
            let mut frame = Vec::with_capacity(chunk.len() + 1);
            frame.push(channel);
            frame.extend_from_slice(chunk);
            socket.send(Message::Binary(frame.into())).await?;
        }
    }
    let mut frame = vec![STATUS];
    frame.extend_from_slice(status(&req.argv, output.code).to_string().as_bytes());
    socket.send(Message::Binary(frame.into())).await?;
    // A close without a code reads as an error to client-go ("close 1005 (no status)").
    let normal = CloseFrame { code: axum::extract::ws::close_code::NORMAL, reason: "".into() };
    socket.send(Message::Close(Some(normal))).await
}

/// The `Status` the kubelet sends on channel 3: Success, or NonZeroExitCode with the code
/// as an `ExitCode` cause (which kubectl turns into its own exit code).
fn status(argv: &[String], code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            argv.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}
