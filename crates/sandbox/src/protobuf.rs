//! Decoding the Kubernetes protobuf envelope (`application/vnd.kubernetes.protobuf`) into
//! JSON, for the request bodies kubectl's typed clients send: `kubectl create
//! namespace|configmap|deployment|service|job|poddisruptionbudget`, `kubectl run` and the
//! evictions of `kubectl drain`. Those clients never fall back to JSON, so without this they
//! would fail against the sandbox.
//!
//! Owns: a small protobuf wire-format reader and a hand-written schema covering the fields
//! those commands set (field numbers are the API's published wire contract). Fields outside
//! the schema are skipped, not rejected. Responses stay JSON, which every client accepts.
//! Must not be used for anything but request bodies.

use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\x00";

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Int,
    Bool,
    Msg(&'static [Field]),
    /// map<string, string>
    MapStr,
    /// map<string, Quantity>, Quantity being { string string = 1 }
    MapQuantity,
    /// meta/v1 Time { int64 seconds = 1; int32 nanos = 2 } → RFC 3339
    Time,
    /// intstr { int64 type = 1; int32 intVal = 2; string strVal = 3 }
    IntOrString,
}

#[derive(Clone, Copy)]
struct Field {
    num: u64,
    name: &'static str,
    ty: Ty,
    repeated: bool,
}

const fn f(num: u64, name: &'static str, ty: Ty) -> Field {
    Field { num, name, ty, repeated: false }
}

const fn rep(num: u64, name: &'static str, ty: Ty) -> Field {
    Field { num, name, ty, repeated: true }
}

const TYPE_META: &[Field] = &[f(1, "apiVersion", Ty::Str), f(2, "kind", Ty::Str)];
const OWNER_REF: &[Field] = &[
    f(1, "kind", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
    f(5, "apiVersion", Ty::Str),
    f(6, "controller", Ty::Bool),
    f(7, "blockOwnerDeletion", Ty::Bool),
];
const OBJECT_META: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "generateName", Ty::Str),
    f(3, "namespace", Ty::Str),
    f(5, "uid", Ty::Str),
    f(6, "resourceVersion", Ty::Str),
    f(7, "generation", Ty::Int),
    f(8, "creationTimestamp", Ty::Time),
    f(11, "labels", Ty::MapStr),
    f(12, "annotations", Ty::MapStr),
    rep(13, "ownerReferences", Ty::Msg(OWNER_REF)),
    rep(14, "finalizers", Ty::Str),
];
const SELECTOR_REQ: &[Field] =
    &[f(1, "key", Ty::Str), f(2, "operator", Ty::Str), rep(3, "values", Ty::Str)];
const LABEL_SELECTOR: &[Field] =
    &[f(1, "matchLabels", Ty::MapStr), rep(2, "matchExpressions", Ty::Msg(SELECTOR_REQ))];
const PRECONDITIONS: &[Field] = &[f(1, "uid", Ty::Str), f(2, "resourceVersion", Ty::Str)];
const DELETE_OPTIONS: &[Field] = &[
    f(1, "gracePeriodSeconds", Ty::Int),
    f(2, "preconditions", Ty::Msg(PRECONDITIONS)),
    f(3, "orphanDependents", Ty::Bool),
    f(4, "propagationPolicy", Ty::Str),
    rep(5, "dryRun", Ty::Str),
];
const EVICTION: &[Field] =
    &[f(1, "metadata", Ty::Msg(OBJECT_META)), f(2, "deleteOptions", Ty::Msg(DELETE_OPTIONS))];

const NAMESPACE_SPEC: &[Field] = &[rep(1, "finalizers", Ty::Str)];
const NAMESPACE: &[Field] =
    &[f(1, "metadata", Ty::Msg(OBJECT_META)), f(2, "spec", Ty::Msg(NAMESPACE_SPEC))];
const CONFIG_MAP: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "data", Ty::MapStr),
    f(4, "immutable", Ty::Bool),
];

const CONTAINER_PORT: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "hostPort", Ty::Int),
    f(3, "containerPort", Ty::Int),
    f(4, "protocol", Ty::Str),
];
const ENV_VAR: &[Field] = &[f(1, "name", Ty::Str), f(2, "value", Ty::Str)];
const RESOURCES: &[Field] = &[f(1, "limits", Ty::MapQuantity), f(2, "requests", Ty::MapQuantity)];
const CONTAINER: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "image", Ty::Str),
    rep(3, "command", Ty::Str),
    rep(4, "args", Ty::Str),
    f(5, "workingDir", Ty::Str),
    rep(6, "ports", Ty::Msg(CONTAINER_PORT)),
    rep(7, "env", Ty::Msg(ENV_VAR)),
    f(8, "resources", Ty::Msg(RESOURCES)),
    f(13, "terminationMessagePath", Ty::Str),
    f(14, "imagePullPolicy", Ty::Str),
    f(16, "stdin", Ty::Bool),
    f(17, "stdinOnce", Ty::Bool),
    f(18, "tty", Ty::Bool),
    f(20, "terminationMessagePolicy", Ty::Str),
];
const TOLERATION: &[Field] = &[
    f(1, "key", Ty::Str),
    f(2, "operator", Ty::Str),
    f(3, "value", Ty::Str),
    f(4, "effect", Ty::Str),
    f(5, "tolerationSeconds", Ty::Int),
];
const POD_SPEC: &[Field] = &[
    rep(2, "containers", Ty::Msg(CONTAINER)),
    f(3, "restartPolicy", Ty::Str),
    f(4, "terminationGracePeriodSeconds", Ty::Int),
    f(5, "activeDeadlineSeconds", Ty::Int),
    f(6, "dnsPolicy", Ty::Str),
    f(7, "nodeSelector", Ty::MapStr),
    f(8, "serviceAccountName", Ty::Str),
    f(10, "nodeName", Ty::Str),
    f(11, "hostNetwork", Ty::Bool),
    f(16, "hostname", Ty::Str),
    f(19, "schedulerName", Ty::Str),
    rep(20, "initContainers", Ty::Msg(CONTAINER)),
    rep(22, "tolerations", Ty::Msg(TOLERATION)),
    f(24, "priorityClassName", Ty::Str),
];
const POD_TEMPLATE: &[Field] =
    &[f(1, "metadata", Ty::Msg(OBJECT_META)), f(2, "spec", Ty::Msg(POD_SPEC))];
const POD: &[Field] = POD_TEMPLATE;
const ROLLING_UPDATE: &[Field] =
    &[f(1, "maxUnavailable", Ty::IntOrString), f(2, "maxSurge", Ty::IntOrString)];
const STRATEGY: &[Field] = &[f(1, "type", Ty::Str), f(2, "rollingUpdate", Ty::Msg(ROLLING_UPDATE))];
const DEPLOYMENT_SPEC: &[Field] = &[
    f(1, "replicas", Ty::Int),
    f(2, "selector", Ty::Msg(LABEL_SELECTOR)),
    f(3, "template", Ty::Msg(POD_TEMPLATE)),
    f(4, "strategy", Ty::Msg(STRATEGY)),
    f(5, "minReadySeconds", Ty::Int),
    f(6, "revisionHistoryLimit", Ty::Int),
    f(7, "paused", Ty::Bool),
    f(9, "progressDeadlineSeconds", Ty::Int),
];
const DEPLOYMENT: &[Field] =
    &[f(1, "metadata", Ty::Msg(OBJECT_META)), f(2, "spec", Ty::Msg(DEPLOYMENT_SPEC))];
const SERVICE_PORT: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "protocol", Ty::Str),
    f(3, "port", Ty::Int),
    f(4, "targetPort", Ty::IntOrString),
    f(5, "nodePort", Ty::Int),
];
const SERVICE_SPEC: &[Field] = &[
    rep(1, "ports", Ty::Msg(SERVICE_PORT)),
    f(2, "selector", Ty::MapStr),
    f(3, "clusterIP", Ty::Str),
    f(4, "type", Ty::Str),
    rep(5, "externalIPs", Ty::Str),
    f(7, "sessionAffinity", Ty::Str),
    f(10, "externalName", Ty::Str),
    rep(18, "clusterIPs", Ty::Str),
];
const SERVICE: &[Field] =
    &[f(1, "metadata", Ty::Msg(OBJECT_META)), f(2, "spec", Ty::Msg(SERVICE_SPEC))];
const JOB_SPEC: &[Field] = &[
    f(1, "parallelism", Ty::Int),
    f(2, "completions", Ty::Int),
    f(3, "activeDeadlineSeconds", Ty::Int),
    f(4, "selector", Ty::Msg(LABEL_SELECTOR)),
    f(5, "manualSelector", Ty::Bool),
    f(6, "template", Ty::Msg(POD_TEMPLATE)),
    f(7, "backoffLimit", Ty::Int),
    f(8, "ttlSecondsAfterFinished", Ty::Int),
    f(9, "completionMode", Ty::Str),
    f(10, "suspend", Ty::Bool),
];
const JOB: &[Field] = &[f(1, "metadata", Ty::Msg(OBJECT_META)), f(2, "spec", Ty::Msg(JOB_SPEC))];
const PDB_SPEC: &[Field] = &[
    f(1, "minAvailable", Ty::IntOrString),
    f(2, "selector", Ty::Msg(LABEL_SELECTOR)),
    f(3, "maxUnavailable", Ty::IntOrString),
    f(4, "unhealthyPodEvictionPolicy", Ty::Str),
];
const PDB: &[Field] = &[f(1, "metadata", Ty::Msg(OBJECT_META)), f(2, "spec", Ty::Msg(PDB_SPEC))];

fn schema_for(kind: &str) -> Option<&'static [Field]> {
    Some(match kind {
        "Namespace" => NAMESPACE,
        "ConfigMap" => CONFIG_MAP,
        "Pod" => POD,
        "Deployment" => DEPLOYMENT,
        "Service" => SERVICE,
        "Job" => JOB,
        "PodDisruptionBudget" => PDB,
        "Eviction" => EVICTION,
        "DeleteOptions" => DELETE_OPTIONS,
        _ => return None,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = usize::try_from(self.varint()?).map_err(|_| "length overflow")?;
        let end =
            self.pos.checked_add(len).filter(|e| *e <= self.buf.len()).ok_or("truncated field")?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn skip(&mut self, wire: u64) -> Result<(), String> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.advance(8),
            2 => self.bytes().map(|_| ()),
            5 => self.advance(4),
            other => Err(format!("unsupported wire type {other}")),
        }
    }

    fn advance(&mut self, n: usize) -> Result<(), String> {
        if self.pos + n > self.buf.len() {
            return Err("truncated fixed-width field".into());
        }
        self.pos += n;
        Ok(())
    }
}

fn utf8(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "string field is not UTF-8".to_string())
}

fn decode_map_entry(b: &[u8], quantity: bool) -> Result<(String, String), String> {
    let mut r = Reader { buf: b, pos: 0 };
    let (mut key, mut value) = (String::new(), String::new());
    while !r.done() {
        let tag = r.varint()?;
        match (tag >> 3, tag & 7) {
            (1, 2) => key = utf8(r.bytes()?)?,
            (2, 2) if quantity => {
                // Quantity { string string = 1 }
                let inner = decode(r.bytes()?, &[f(1, "string", Ty::Str)])?;
                value = inner.get("string").and_then(Value::as_str).unwrap_or("").to_string();
            }
            (2, 2) => value = utf8(r.bytes()?)?,
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok((key, value))
}

fn decode_value(r: &mut Reader<'_>, ty: Ty, wire: u64) -> Result<Value, String> {
    let want_len = !matches!(ty, Ty::Int | Ty::Bool);
    if want_len != (wire == 2) {
        return Err(format!("wire type {wire} does not fit the field"));
    }
    Ok(match ty {
        // int32 negatives are sign-extended to 64 bits on the wire.
        Ty::Int => json!(r.varint()? as i64),
        Ty::Bool => json!(r.varint()? != 0),
        Ty::Str => json!(utf8(r.bytes()?)?),
        Ty::Msg(schema) => Value::Object(decode(r.bytes()?, schema)?),
        Ty::Time => {
            let t = decode(r.bytes()?, &[f(1, "seconds", Ty::Int)])?;
            let secs = t.get("seconds").and_then(Value::as_i64).unwrap_or(0);
            jiff::Timestamp::from_second(secs)
                .map(|ts| json!(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()))
                .unwrap_or(Value::Null)
        }
        Ty::IntOrString => {
            let v = decode(
                r.bytes()?,
                &[f(1, "type", Ty::Int), f(2, "intVal", Ty::Int), f(3, "strVal", Ty::Str)],
            )?;
            if v.get("type").and_then(Value::as_i64) == Some(1) {
                v.get("strVal").cloned().unwrap_or(json!(""))
            } else {
                v.get("intVal").cloned().unwrap_or(json!(0))
            }
        }
        Ty::MapStr | Ty::MapQuantity => return Err("a map field cannot be read as a value".into()),
    })
}

/// Go's protobuf encoder writes non-pointer fields even when they hold the zero value, where
/// its JSON encoder would omit them. Zeroes are dropped except in these pointer fields, whose
/// zero means something (`replicas: 0`).
const MEANINGFUL_ZERO: &[&str] = &[
    "replicas",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "parallelism",
    "completions",
    "backoffLimit",
    "terminationGracePeriodSeconds",
    "gracePeriodSeconds",
    "activeDeadlineSeconds",
    "ttlSecondsAfterFinished",
    "tolerationSeconds",
    "suspend",
    "immutable",
    "manualSelector",
    "orphanDependents",
];

fn is_zero(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.is_empty()) || *v == json!(0) || *v == json!(false)
}

fn decode(buf: &[u8], schema: &[Field]) -> Result<Map<String, Value>, String> {
    let mut r = Reader { buf, pos: 0 };
    let mut out = Map::new();
    while !r.done() {
        let tag = r.varint()?;
        let (num, wire) = (tag >> 3, tag & 7);
        let Some(field) = schema.iter().find(|f| f.num == num) else {
            r.skip(wire)?;
            continue;
        };
        match field.ty {
            Ty::MapStr | Ty::MapQuantity => {
                if wire != 2 {
                    return Err(format!("map field {} has wire type {wire}", field.name));
                }
                let (k, v) = decode_map_entry(r.bytes()?, matches!(field.ty, Ty::MapQuantity))?;
                let slot = out.entry(field.name).or_insert_with(|| json!({}));
                if let Some(m) = slot.as_object_mut() {
                    m.insert(k, json!(v));
                }
            }
            ty => {
                let v = decode_value(&mut r, ty, wire)?;
                let scalar = !matches!(ty, Ty::Msg(_) | Ty::IntOrString);
                if scalar
                    && !field.repeated
                    && is_zero(&v)
                    && !MEANINGFUL_ZERO.contains(&field.name)
                {
                    continue;
                }
                if field.repeated {
                    let slot = out.entry(field.name).or_insert_with(|| json!([]));
                    if let Some(a) = slot.as_array_mut() {
                        a.push(v);
                    }
                } else {
                    out.insert(field.name.to_string(), v);
                }
            }
        }
    }
    Ok(out)
}

/// Decodes a `k8s\0`-prefixed protobuf body into the object's JSON form.
pub fn decode_body(body: &[u8]) -> Result<Value, String> {
    let inner = body.strip_prefix(MAGIC).ok_or("protobuf body without the k8s envelope")?;
    let mut r = Reader { buf: inner, pos: 0 };
    let (mut type_meta, mut raw) = (Map::new(), &[][..]);
    while !r.done() {
        let tag = r.varint()?;
        match (tag >> 3, tag & 7) {
            (1, 2) => type_meta = decode(r.bytes()?, TYPE_META)?,
            (2, 2) => raw = r.bytes()?,
            (_, wire) => r.skip(wire)?,
        }
    }
    let kind = type_meta.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    let schema = schema_for(&kind)
        .ok_or_else(|| format!("protobuf bodies of kind {kind:?} are not supported; send JSON"))?;
    let mut obj = decode(raw, schema)?;
    obj.insert("kind".into(), json!(kind));
    if let Some(av) = type_meta.get("apiVersion") {
        obj.insert("apiVersion".into(), av.clone());
    }
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn ld(num: u64, bytes: &[u8], out: &mut Vec<u8>) {
        varint(num << 3 | 2, out);
        varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }

    #[test]
    fn decodes_a_configmap_envelope() {
        let mut meta = Vec::new();
        ld(1, b"cfg", &mut meta);
        let mut entry = Vec::new();
        ld(1, b"app", &mut entry);
        ld(2, b"web", &mut entry);
        ld(11, &entry, &mut meta);
        let mut cm = Vec::new();
        ld(1, &meta, &mut cm);
        let mut data = Vec::new();
        ld(1, b"k", &mut data);
        ld(2, b"v", &mut data);
        ld(2, &data, &mut cm);
        varint(99 << 3, &mut cm); // an unknown varint field is skipped
        varint(7, &mut cm);
        let mut tm = Vec::new();
        ld(1, b"v1", &mut tm);
        ld(2, b"ConfigMap", &mut tm);
        let mut body = MAGIC.to_vec();
        ld(1, &tm, &mut body);
        ld(2, &cm, &mut body);
        let v = decode_body(&body).unwrap();
        assert_eq!(
            v,
            json!({"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": "cfg", "labels": {"app": "web"}}, "data": {"k": "v"}})
        );
        assert!(decode_body(&body[..body.len() - 3]).is_err());
        assert!(decode_body(b"nope").is_err());
    }
}
