//! get, list, create, update, patch, delete and deletecollection on whole objects.
//!
//! Owns: turning query parameters and bodies into store calls, selectors and pagination of
//! lists, and the response shapes (objects, `*List`, `Table`). Must not change objects other
//! than through the store.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::request::{AppState, Req};
use super::table;
use crate::meta;
use crate::patch::{self, PatchKind};
use crate::resources::{RESOURCES, ResourceDef};
use crate::response::{json_response, raw_json};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{DeleteOpts, Deleted, Key, Obj, Part, Propagation, Selection, Stored};
use crate::switch_policy::{self, Op};

pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn from_req(req: &Req) -> Result<Self, ApiError> {
        let labels = match req.q("labelSelector") {
            Some(s) => LabelSelector::parse(s).map_err(ApiError::bad_request)?,
            None => LabelSelector::everything(),
        };
        let fields = match req.q("fieldSelector") {
            Some(s) => FieldSelector::parse(req.target.res, s).map_err(ApiError::bad_request)?,
            None => FieldSelector::default(),
        };
        Ok(Self { labels, fields })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

fn continue_token((ns, name): &Key) -> String {
    let raw = format!("{ns}\u{0}{name}");
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::bad_request(format!("invalid continue token {token:?}"));
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (ns, name) = text.split_once('\u{0}').ok_or_else(bad)?;
    Ok((ns.to_string(), name.to_string()))
}

/// The list's opening, up to and including `"items":[`.
fn list_head(def: &ResourceDef, rv: u64, cont: Option<(&str, Option<usize>)>) -> Vec<u8> {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some((token, remaining)) = cont {
        metadata["continue"] = json!(token);
        if let Some(remaining) = remaining {
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    let head =
        json!({"kind": def.list_kind(), "apiVersion": def.api_version(), "metadata": metadata});
    let mut head = head.to_string().into_bytes();
    // Re-open the header object to append "items": cheaper than cloning every item.
    head.pop();
    head.extend_from_slice(b",\"items\":[");
    head
}

fn write_items(buf: &mut Vec<u8>, items: &[Stored], first: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !first {
            buf.push(b',');
        }
        item.write_json(buf);
    }
}

/// Serialises a list without building one big `Value`: items are shared with the store.
pub fn list_bytes(
    def: &ResourceDef,
    items: &[Stored],
    rv: u64,
    cont: Option<(&str, Option<usize>)>,
) -> Vec<u8> {
    let mut buf = list_head(def, rv, cont);
    buf.reserve(items.len() * 768);
    write_items(&mut buf, items, true);
    buf.extend_from_slice(b"]}");
    buf
}

/// Lists longer than this are streamed in chunks, so a full LIST of a big cluster does not
/// need the whole response in memory at once.
const STREAM_OVER: usize = 2_000;
const CHUNK: usize = 500;

fn list_stream(
    def: &'static ResourceDef,
    items: Vec<Stored>,
    rv: u64,
    cont: Option<(String, Option<usize>)>,
) -> Response {
    let (mut tx, rx) =
        futures::channel::mpsc::channel::<Result<axum::body::Bytes, std::convert::Infallible>>(4);
    tokio::spawn(async move {
        use futures::SinkExt;
        let head = list_head(def, rv, cont.as_ref().map(|(t, n)| (t.as_str(), *n)));
        if tx.send(Ok(head.into())).await.is_err() {
            return;
        }
        for (i, chunk) in items.chunks(CHUNK).enumerate() {
            let mut buf = Vec::with_capacity(chunk.len() * 768);
            write_items(&mut buf, chunk, i == 0);
            if tx.send(Ok(buf.into())).await.is_err() {
                return;
            }
        }
        let _ = tx.send(Ok(axum::body::Bytes::from_static(b"]}"))).await;
    });
    let mut resp = Response::new(axum::body::Body::from_stream(rx));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn list(state: &AppState, req: &Req) -> Result<Response, ApiError> {
    let res = req.target.res;
    let def = &RESOURCES[res];
    let sel = Selectors::from_req(req)?;
    let ns = req.target.ns.as_deref();
    let after = req.q("continue").map(decode_continue).transpose()?;
    let limit = req.q("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
    let hints = sel.labels.json_hints();
    let keep = |o: &Value| sel.matches(o);
    let selection = (!sel.labels.is_empty() || !sel.fields.is_empty())
        .then_some(Selection { hints: &hints, keep: &keep });
    let page = state.store.list_page(res, ns, after.as_ref(), limit, selection);
    let (items, rv) = (page.items, page.rv);
    let cont = match &page.last {
        Some(last) if page.more => Some((continue_token(last), page.remaining)),
        _ => None,
    };
    if let Some(include) = table::wanted(req)? {
        let cont = cont.as_ref().map(|(t, n)| (t.as_str(), *n));
        let bytes = table::table_bytes(res, items.iter().map(Stored::obj), rv, cont, include);
        return Ok(raw_json(StatusCode::OK, bytes));
    }
    if req.wants_metadata() {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if let Some((token, remaining)) = &cont {
            metadata["continue"] = json!(token);
            if let Some(n) = remaining {
                metadata["remainingItemCount"] = json!(n);
            }
        }
        let items: Vec<Value> = items.iter().map(|i| partial(&i.obj())).collect();
        return Ok(json_response(
            StatusCode::OK,
            &json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList",
                    "metadata": metadata, "items": items}),
        ));
    }
    if items.len() > STREAM_OVER {
        return Ok(list_stream(def, items, rv, cont));
    }
    let bytes = list_bytes(def, &items, rv, cont.as_ref().map(|(t, n)| (t.as_str(), *n)));
    Ok(raw_json(StatusCode::OK, bytes))
}

/// An object as `PartialObjectMetadata`: its metadata, nothing it holds.
pub fn partial(obj: &Value) -> Value {
    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
           "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({}))})
}

pub fn object_response(req: &Req, code: StatusCode, obj: &Obj) -> Response {
    if req.wants_metadata() {
        return json_response(code, &partial(obj));
    }
    match table::wanted(req) {
        Ok(Some(include)) => {
            let rv = meta::resource_version(obj).parse().unwrap_or(0);
            let objs = std::slice::from_ref(obj);
            json_response(code, &table::table(req.target.res, objs, rv, None, include))
        }
        Ok(None) => json_response(code, obj),
        Err(e) => e.into_response(),
    }
}

pub fn get(state: &AppState, req: &Req) -> Result<Response, ApiError> {
    let name = req.target.name.as_deref().unwrap_or("");
    let obj = state.store.get(req.target.res, req.target.ns(), name)?;
    Ok(object_response(req, StatusCode::OK, &obj))
}

/// Refuses bodies whose kind or apiVersion disagree with the URL.
fn check_kind(def: &ResourceDef, body: &Value) -> Result<(), ApiError> {
    if let Some(kind) = body.get("kind").and_then(Value::as_str)
        && kind != def.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the body ({kind}) does not match the expected kind ({})",
            def.kind
        )));
    }
    if let Some(av) = body.get("apiVersion").and_then(Value::as_str)
        && av != def.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            def.api_version()
        )));
    }
    Ok(())
}

fn check_namespace(req: &Req, body: &Value) -> Result<(), ApiError> {
    let def = &RESOURCES[req.target.res];
    let body_ns = meta::namespace(body);
    if def.namespaced && !body_ns.is_empty() && body_ns != req.target.ns() {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if def.namespaced && req.target.ns.is_none() {
        return Err(ApiError::method_not_allowed(format!(
            "{} must be created in a namespace",
            def.plural
        )));
    }
    Ok(())
}

/// `dryRun` accepts only `All`; `options` names the options kind in the 422 (CreateOptions, ...).
fn check_dry_run(options: &str, value: &Value) -> Result<(), ApiError> {
    let values: Vec<&str> = match value {
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => vec![s.as_str()],
        _ => Vec::new(),
    };
    if values.iter().all(|v| *v == "All") {
        return Ok(());
    }
    let given = serde_json::to_string(&values).unwrap_or_default();
    Err(ApiError::invalid_kind(
        &format!("{options}.meta.k8s.io"),
        options,
        "meta.k8s.io",
        "",
        "dryRun",
        &format!("Unsupported value: {given}: supported values: \"All\""),
    ))
}

/// The query's `dryRun`, checked; `options` as in [`check_dry_run`].
fn query_dry_run(req: &Req, options: &str) -> Result<bool, ApiError> {
    match req.query.get("dryRun") {
        None => Ok(false),
        Some(v) => {
            check_dry_run(options, &json!(v))?;
            Ok(true)
        }
    }
}

/// The dead man's switch policies, for the writes they govern (ConfigMaps and Leases in
/// their namespace, while enforced): `old` is what is stored, `new` what would be.
fn switch_policy(
    state: &AppState,
    req: &Req,
    op: Op,
    old: Option<&Value>,
    new: Option<&Value>,
) -> Result<(), ApiError> {
    let kind = match req.target.res {
        crate::resources::CONFIGMAPS => switch_policy::Kind::ConfigMap,
        crate::resources::LEASES => switch_policy::Kind::Lease,
        _ => return Ok(()),
    };
    if req.target.ns() != switch_policy::NAMESPACE
        || !state.switch_policy.load(std::sync::atomic::Ordering::SeqCst)
    {
        return Ok(());
    }
    let name = req.target.name.as_deref().or(new.map(meta::name)).unwrap_or_default();
    switch_policy::check(kind, op, name, &req.user, old, new)
}

pub fn create(state: &AppState, req: &Req) -> Result<Response, ApiError> {
    let def = &RESOURCES[req.target.res];
    let body = req.json_body()?;
    if !body.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    check_kind(def, &body)?;
    check_namespace(req, &body)?;
    switch_policy(state, req, Op::Create, None, Some(&body))?;
    if query_dry_run(req, "CreateOptions")? {
        let obj = state.store.dry_create(req.target.res, req.target.ns(), body)?;
        return Ok(json_response(StatusCode::CREATED, &obj));
    }
    let obj = state.store.create(req.target.res, req.target.ns(), body)?;
    Ok(json_response(StatusCode::CREATED, &obj))
}

pub fn update(state: &AppState, req: &Req) -> Result<Response, ApiError> {
    let def = &RESOURCES[req.target.res];
    let body = req.json_body()?;
    check_kind(def, &body)?;
    check_namespace(req, &body)?;
    let name = req.target.name.as_deref().unwrap_or("");
    let stored = state.store.get(req.target.res, req.target.ns(), name).ok();
    switch_policy(state, req, Op::Update, stored.as_deref(), Some(&body))?;
    if query_dry_run(req, "UpdateOptions")? {
        let current = state.store.get(req.target.res, req.target.ns(), name)?;
        return Ok(json_response(StatusCode::OK, &current));
    }
    let obj = state.store.update(req.target.res, req.target.ns(), name, body, Part::Main)?;
    Ok(json_response(StatusCode::OK, &obj))
}

pub fn patch(state: &AppState, req: &Req) -> Result<Response, ApiError> {
    patch_part(state, req, Part::Main)
}

pub fn patch_part(state: &AppState, req: &Req, part: Part) -> Result<Response, ApiError> {
    let kind = PatchKind::from_content_type(req.content_type())?;
    let dry = query_dry_run(req, "PatchOptions")?;
    if kind == PatchKind::Apply && req.q("fieldManager").is_none() {
        return Err(ApiError::invalid_kind(
            "PatchOptions.meta.k8s.io",
            "PatchOptions",
            "meta.k8s.io",
            "",
            "fieldManager",
            "Required value: is required for apply patch",
        ));
    }
    let body = patch::parse_body(kind, &req.body)?;
    let (res, ns) = (req.target.res, req.target.ns());
    let name = req.target.name.as_deref().unwrap_or("");
    if kind == PatchKind::Apply {
        let body_name = meta::name(&body);
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
    }
    if kind == PatchKind::Apply && state.store.get(res, ns, name).is_err() {
        // Server-side apply creates what does not exist yet.
        let mut obj = body;
        check_kind(&RESOURCES[res], &obj)?;
        meta::set(&mut obj, &["metadata", "name"], json!(name));
        switch_policy(state, req, Op::Create, None, Some(&obj))?;
        let created = state.store.create(res, ns, obj)?;
        return Ok(json_response(StatusCode::CREATED, &created));
    }
    if dry {
        let current = state.store.get(res, ns, name)?;
        let patched = patch::apply(kind, &current, &body)?;
        switch_policy(state, req, Op::Update, Some(&current), Some(&patched))?;
        return Ok(json_response(StatusCode::OK, &patched));
    }
    let obj = state.store.modify(res, ns, name, part, |cur| {
        let patched = patch::apply(kind, cur, &body)?;
        switch_policy(state, req, Op::Update, Some(cur), Some(&patched))?;
        Ok(patched)
    })?;
    Ok(object_response(req, StatusCode::OK, &obj))
}

pub fn delete_opts(req: &Req) -> Result<DeleteOpts, ApiError> {
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else if req.content_type().contains("protobuf") {
        req.json_body()?
    } else {
        serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("cannot decode DeleteOptions: {e}")))?
    };
    let prop = body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .or(req.q("propagationPolicy"))
        .or_else(|| match body.get("orphanDependents").and_then(Value::as_bool) {
            Some(true) => Some("Orphan"),
            _ => None,
        });
    let propagation = match prop {
        None => None,
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Orphan") => Some(Propagation::Orphan),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy {other:?} is not one of Orphan, Background, Foreground"
            )));
        }
    };
    let grace_seconds = body
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| req.q("gracePeriodSeconds").and_then(|g| g.parse().ok()));
    let pre = body.get("preconditions");
    let dry_run = match body.get("dryRun") {
        None | Some(Value::Null) => false,
        Some(v) => {
            check_dry_run("DeleteOptions", v)?;
            v.as_array().is_some_and(|a| !a.is_empty())
        }
    };
    Ok(DeleteOpts {
        dry_run,
        uid: pre.and_then(|p| p.get("uid")).and_then(Value::as_str).map(String::from),
        resource_version: pre
            .and_then(|p| p.get("resourceVersion"))
            .and_then(Value::as_str)
            .map(String::from),
        propagation,
        grace_seconds,
    })
}

pub fn delete(state: &AppState, req: &Req) -> Result<Response, ApiError> {
    let opts = delete_opts(req)?;
    let name = req.target.name.as_deref().unwrap_or("");
    if let Ok(stored) = state.store.get(req.target.res, req.target.ns(), name) {
        switch_policy(state, req, Op::Delete, Some(stored.as_ref()), None)?;
    }
    if query_dry_run(req, "DeleteOptions")? || opts.dry_run {
        let current = state.store.get(req.target.res, req.target.ns(), name)?;
        return Ok(deleted_response(req.target.res, &current));
    }
    match state.store.delete(req.target.res, req.target.ns(), name, &opts)? {
        Deleted::Gone(obj) => Ok(deleted_response(req.target.res, &obj)),
        Deleted::Marked(obj) => Ok(json_response(StatusCode::OK, &obj)),
    }
}

/// What a delete answers once the object is gone: a `Status` (Success), except for the kinds
/// whose registry returns the deleted object (pods, services).
fn deleted_response(res: usize, obj: &Value) -> Response {
    if matches!(res, crate::resources::PODS | crate::resources::SERVICES) {
        return json_response(StatusCode::OK, obj);
    }
    let def = &RESOURCES[res];
    json_response(
        StatusCode::OK,
        &crate::status::success_status(def, meta::name(obj), meta::uid(obj)),
    )
}

pub fn delete_collection(state: &AppState, req: &Req) -> Result<Response, ApiError> {
    let res = req.target.res;
    let def = &RESOURCES[res];
    if !def.deletecollection {
        return Err(ApiError::method_not_allowed(format!(
            "deletecollection is not supported on {}",
            def.plural
        )));
    }
    let sel = Selectors::from_req(req)?;
    let opts = delete_opts(req)?;
    let (targets, _) = state.store.list_filtered(res, req.target.ns.as_deref(), |o| sel.matches(o));
    if query_dry_run(req, "DeleteOptions")? || opts.dry_run {
        let rv = state.store.current_rv();
        let targets: Vec<Stored> = targets.into_iter().map(Stored::Parsed).collect();
        return Ok(raw_json(StatusCode::OK, list_bytes(def, &targets, rv, None)));
    }
    for t in &targets {
        switch_policy(state, req, Op::Delete, Some(t), None)?;
    }
    let mut deleted = Vec::new();
    for t in targets {
        match state.store.delete(res, meta::namespace(&t), meta::name(&t), &opts) {
            Ok(Deleted::Gone(o) | Deleted::Marked(o)) => deleted.push(Stored::Parsed(o)),
            // Already gone through a cascade: that is what the caller wanted.
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let rv = state.store.current_rv();
    Ok(raw_json(StatusCode::OK, list_bytes(def, &deleted, rv, None)))
}
