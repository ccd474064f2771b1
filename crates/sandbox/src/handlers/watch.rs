//! `?watch=1`: a chunked stream of `{"type": ..., "object": ...}` lines.
//!
//! Owns: resourceVersion semantics of watches (unset or "0" = synthetic ADDED for what exists,
//! N = replay history after N, too old = one ERROR event with a 410 Status), selector
//! transitions (an object leaving the selection is DELETED, entering it is ADDED), bookmarks,
//! `sendInitialEvents`, `timeoutSeconds`, and closing on shutdown. A watcher too slow to keep
//! up gets a 410 too, which every client answers by listing again. Must not write to the store.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::SinkExt;
use futures::channel::mpsc;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::crud::Selectors;
use super::request::{AppState, Req};
use super::table;
use crate::meta;
use crate::resources::RESOURCES;
use crate::status::ApiError;
use crate::store::{Change, EventType, Obj};

const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

struct Filter {
    res: usize,
    ns: Option<String>,
    name: Option<String>,
    sel: Selectors,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        self.ns.as_deref().is_none_or(|ns| meta::namespace(obj) == ns)
            && self.name.as_deref().is_none_or(|n| meta::name(obj) == n)
            && self.sel.matches(obj)
    }

    /// The event a watcher with this filter should see for `change`, if any.
    fn translate<'a>(&self, change: &'a Change) -> Option<(EventType, &'a Obj)> {
        if change.res != self.res {
            return None;
        }
        let now = self.matches(&change.obj);
        let before = change.prev.as_deref().is_some_and(|p| self.matches(p));
        match change.kind {
            EventType::Added => now.then_some((EventType::Added, &change.obj)),
            EventType::Deleted => (now || before).then_some((EventType::Deleted, &change.obj)),
            EventType::Modified => match (before, now) {
                (true, true) => Some((EventType::Modified, &change.obj)),
                (false, true) => Some((EventType::Added, &change.obj)),
                (true, false) => Some((EventType::Deleted, &change.obj)),
                (false, false) => None,
            },
        }
    }
}

struct Encoder {
    res: usize,
    table: Option<table::Include>,
    /// Metadata only (`as=PartialObjectMetadata`).
    metadata: bool,
    sent_columns: bool,
}

impl Encoder {
    fn line(&mut self, kind: &str, obj: &Obj) -> Bytes {
        let object = if let Some(include) = self.table {
            let rv = meta::resource_version(obj).parse().unwrap_or(0);
            let mut t = table::table(self.res, std::slice::from_ref(obj), rv, None, include);
            // The API server sends column definitions once per watch; kubectl then prints the
            // header once.
            if self.sent_columns {
                t["columnDefinitions"] = json!([]);
            }
            self.sent_columns = true;
            t
        } else if self.metadata {
            super::crud::partial(obj)
        } else {
            (**obj).clone()
        };
        encode(&json!({"type": kind, "object": object}))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let def = &RESOURCES[self.res];
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        encode(
            &json!({"type": "BOOKMARK", "object": {"kind": def.kind, "apiVersion": def.api_version(), "metadata": metadata}}),
        )
    }
}

fn encode(v: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(v).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn error_line(err: &ApiError) -> Bytes {
    encode(&json!({"type": "ERROR", "object": err.to_status()}))
}

fn stream_response(rx: mpsc::Receiver<Result<Bytes, Infallible>>) -> Response {
    let mut resp = Response::new(Body::from_stream(rx));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    resp.headers_mut()
        .insert(header::TRANSFER_ENCODING, header::HeaderValue::from_static("chunked"));
    resp
}

pub async fn watch(state: &AppState, req: &Req) -> Response {
    let sel = match Selectors::from_req(req) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let filter = Filter {
        res: req.target.res,
        ns: req.target.ns.clone(),
        name: req.target.name.clone(),
        sel,
    };
    let table = match table::wanted(req) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let mut enc =
        Encoder { res: req.target.res, table, metadata: req.wants_metadata(), sent_columns: false };
    let bookmarks = req.q("allowWatchBookmarks") == Some("true");
    let initial = req.q("sendInitialEvents") == Some("true");
    let timeout = req
        .q("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(30 * 60));
    let rv = match req.q("resourceVersion") {
        None | Some("0") => None,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return ApiError::bad_request(format!("invalid resourceVersion {v:?}"))
                    .into_response();
            }
        },
    };

    // Work out the opening lines before streaming, so a 410 needs no task.
    let mut opening: Vec<Bytes> = Vec::new();
    let sub = if rv.is_none() || initial {
        let (objs, sub) = state.store.snapshot_and_subscribe(filter.res, filter.ns.as_deref());
        for o in objs.iter().filter(|o| filter.matches(o)) {
            opening.push(enc.line("ADDED", o));
        }
        if initial {
            opening.push(enc.bookmark(sub.rv, true));
        }
        sub
    } else {
        match state.store.subscribe(rv) {
            Ok(sub) => sub,
            Err(e) => {
                let (mut tx, rx) = mpsc::channel(1);
                let _ = tx.try_send(Ok(error_line(&e)));
                return stream_response(rx);
            }
        }
    };
    for change in &sub.backlog {
        if let Some((kind, obj)) = filter.translate(change) {
            opening.push(enc.line(kind.as_str(), obj));
        }
    }

    let (mut tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let shutdown = state.shutdown.clone();
    let mut live = sub.rx;
    let mut last_rv = sub.backlog.last().map_or(sub.rv, |c| c.rv);
    tokio::spawn(async move {
        for line in opening {
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(BOOKMARK_EVERY);
        tick.tick().await;
        loop {
            let line = tokio::select! {
                _ = &mut deadline => return,
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    if !bookmarks { continue; }
                    enc.bookmark(last_rv, false)
                }
                msg = live.recv() => match msg {
                    Ok(change) => {
                        if change.rv <= last_rv { continue; }
                        last_rv = change.rv;
                        match filter.translate(&change) {
                            Some((kind, obj)) => enc.line(kind.as_str(), obj),
                            None => continue,
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let _ = tx.send(Ok(error_line(&ApiError::gone(last_rv, last_rv + 1)))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                },
            };
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
    });
    stream_response(rx)
}
