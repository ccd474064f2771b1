//! Label and field selectors: parsing the query-string grammar and the API's
//! `LabelSelector` objects, and evaluating both against untyped objects.
//!
//! Owns: the selector grammar (`=`, `==`, `!=`, `in`, `notin`, exists, `!key`, and the
//! numeric `>`/`<` kubectl also accepts) and the field paths each resource supports.
//! Must not touch the store.

use serde_json::Value;

use super::meta;
use super::resources as r;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Eq,
    NotEq,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
}

impl Requirement {
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Op::Eq | Op::In, Some(v)) => self.values.iter().any(|x| x == v),
            (Op::Eq | Op::In, None) => false,
            (Op::NotEq | Op::NotIn, Some(v)) => self.values.iter().all(|x| x != v),
            (Op::NotEq | Op::NotIn, None) => true,
            (Op::Exists, v) => v.is_some(),
            (Op::DoesNotExist, v) => v.is_none(),
            (Op::Gt | Op::Lt, None) => false,
            (op @ (Op::Gt | Op::Lt), Some(v)) => {
                let (Ok(have), Some(Ok(want))) =
                    (v.parse::<i64>(), self.values.first().map(|w| w.parse::<i64>()))
                else {
                    return false;
                };
                if *op == Op::Gt { have > want } else { have < want }
            }
        }
    }
}

/// A conjunction of requirements; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
    /// The API's `LabelSelector` with neither field set means "everything"; `null` means
    /// "nothing" for PDBs. Only `from_api` can set this.
    pub matches_nothing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Open,
    Close,
    Comma,
    Eq,
    DoubleEq,
    NotEq,
    Bang,
    In,
    NotIn,
    Gt,
    Lt,
}

/// A token as the API server's selector errors show it.
fn tok_text(tok: Option<&Tok>) -> String {
    match tok {
        None => String::new(),
        Some(Tok::Ident(v)) => v.clone(),
        Some(Tok::Open) => "(".into(),
        Some(Tok::Close) => ")".into(),
        Some(Tok::Comma) => ",".into(),
        Some(Tok::Eq) => "=".into(),
        Some(Tok::DoubleEq) => "==".into(),
        Some(Tok::NotEq) => "!=".into(),
        Some(Tok::Bang) => "!".into(),
        Some(Tok::In) => "in".into(),
        Some(Tok::NotIn) => "notin".into(),
        Some(Tok::Gt) => ">".into(),
        Some(Tok::Lt) => "<".into(),
    }
}

fn lex(input: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => (out.push(Tok::Open), i += 1).1,
            ')' => (out.push(Tok::Close), i += 1).1,
            ',' => (out.push(Tok::Comma), i += 1).1,
            '>' => (out.push(Tok::Gt), i += 1).1,
            '<' => (out.push(Tok::Lt), i += 1).1,
            '=' if next == Some('=') => (out.push(Tok::DoubleEq), i += 2).1,
            '=' => (out.push(Tok::Eq), i += 1).1,
            '!' if next == Some('=') => (out.push(Tok::NotEq), i += 2).1,
            '!' => (out.push(Tok::Bang), i += 1).1,
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"(),=!<>".contains(chars[i])
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(match word.as_str() {
                    "in" => Tok::In,
                    "notin" => Tok::NotIn,
                    _ => Tok::Ident(word),
                });
            }
        }
    }
    Ok(out)
}

fn valid_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
}

pub fn valid_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => crate::dns_names::is_dns_subdomain(prefix) && valid_name_part(name),
        None => valid_name_part(key),
    }
}

pub fn valid_value(v: &str) -> bool {
    v.is_empty() || valid_name_part(v)
}

impl LabelSelector {
    pub fn everything() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty() && !self.matches_nothing
    }

    /// Parses the `labelSelector` query-string grammar.
    pub fn parse(input: &str) -> Result<Self, String> {
        let toks = lex(input)?;
        let mut reqs = Vec::new();
        let mut i = 0;
        let err = |what: &str| format!("unable to parse requirement: {what} in {input:?}");
        while i < toks.len() {
            let req = match &toks[i] {
                Tok::Bang => {
                    let Some(Tok::Ident(key)) = toks.get(i + 1) else {
                        return Err(err("expected a key after '!'"));
                    };
                    i += 2;
                    Requirement { key: key.clone(), op: Op::DoesNotExist, values: vec![] }
                }
                Tok::Ident(key) => {
                    i += 1;
                    match toks.get(i) {
                        None | Some(Tok::Comma) => {
                            Requirement { key: key.clone(), op: Op::Exists, values: vec![] }
                        }
                        Some(t @ (Tok::Eq | Tok::DoubleEq | Tok::NotEq | Tok::Gt | Tok::Lt)) => {
                            let op = match t {
                                Tok::NotEq => Op::NotEq,
                                Tok::Gt => Op::Gt,
                                Tok::Lt => Op::Lt,
                                _ => Op::Eq,
                            };
                            i += 1;
                            let value = match toks.get(i) {
                                Some(Tok::Ident(v)) => {
                                    i += 1;
                                    v.clone()
                                }
                                None | Some(Tok::Comma) => String::new(),
                                Some(_) => return Err(err("expected a value")),
                            };
                            if matches!(op, Op::Gt | Op::Lt) && value.parse::<i64>().is_err() {
                                return Err(err("expected an integer after '>' or '<'"));
                            }
                            Requirement { key: key.clone(), op, values: vec![value] }
                        }
                        Some(t @ (Tok::In | Tok::NotIn)) => {
                            let op = if *t == Tok::In { Op::In } else { Op::NotIn };
                            i += 1;
                            if toks.get(i) != Some(&Tok::Open) {
                                // The API server's words.
                                return Err(format!(
                                    "unable to parse requirement: found '{}' expected: '('",
                                    tok_text(toks.get(i))
                                ));
                            }
                            i += 1;
                            let mut values = Vec::new();
                            let mut want_value = true;
                            loop {
                                match toks.get(i) {
                                    Some(Tok::Close) => {
                                        if want_value && !values.is_empty() {
                                            values.push(String::new());
                                        }
                                        i += 1;
                                        break;
                                    }
                                    Some(Tok::Comma) => {
                                        if want_value {
                                            values.push(String::new());
                                        }
                                        want_value = true;
                                        i += 1;
                                    }
                                    Some(Tok::Ident(v)) if want_value => {
                                        values.push(v.clone());
                                        want_value = false;
                                        i += 1;
                                    }
                                    _ => return Err(err("expected ')' to close the value set")),
                                }
                            }
                            if values.is_empty() {
                                return Err(err(
                                    "for 'in', 'notin' operators, values set can't be empty",
                                ));
                            }
                            Requirement { key: key.clone(), op, values }
                        }
                        Some(_) => return Err(err("expected an operator")),
                    }
                }
                _ => return Err(err("expected a key")),
            };
            if !valid_key(&req.key) {
                return Err(format!(
                    "unable to parse requirement: invalid label key {:?}",
                    req.key
                ));
            }
            if let Some(bad) = req.values.iter().find(|v| !valid_value(v)) {
                return Err(format!("unable to parse requirement: invalid label value {bad:?}"));
            }
            reqs.push(req);
            match toks.get(i) {
                None => {}
                Some(Tok::Comma) => {
                    i += 1;
                    if i == toks.len() {
                        return Err(err("trailing ','"));
                    }
                }
                Some(t) => {
                    return Err(format!(
                        "found '{}', expected: ',' or 'end of string'",
                        tok_text(Some(t))
                    ));
                }
            }
        }
        Ok(Self { requirements: reqs, matches_nothing: false })
    }

    /// Converts a `metav1.LabelSelector` object (matchLabels + matchExpressions).
    pub fn from_api(sel: &Value) -> Result<Self, String> {
        if sel.is_null() {
            return Ok(Self { requirements: vec![], matches_nothing: true });
        }
        let mut reqs = Vec::new();
        if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in ml {
                let v = v.as_str().ok_or_else(|| format!("matchLabels[{k}] must be a string"))?;
                reqs.push(Requirement { key: k.clone(), op: Op::Eq, values: vec![v.into()] });
            }
        }
        if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = meta::str_at(e, &["key"]).ok_or("matchExpressions need a key")?;
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                    .unwrap_or_default();
                let op = match meta::str_at(e, &["operator"]) {
                    Some("In") => Op::In,
                    Some("NotIn") => Op::NotIn,
                    Some("Exists") => Op::Exists,
                    Some("DoesNotExist") => Op::DoesNotExist,
                    other => return Err(format!("{other:?} is not a valid selector operator")),
                };
                reqs.push(Requirement { key: key.into(), op, values });
            }
        }
        Ok(Self { requirements: reqs, matches_nothing: false })
    }

    /// Strings one of which the JSON of every object this selects contains, as serde_json
    /// writes it (`"app":"web"`), from its first `=` or `in` requirement; empty when there is
    /// none. Lets the store pass over objects kept as JSON without parsing them.
    pub fn json_hints(&self) -> Vec<String> {
        let Some(req) = self.requirements.iter().find(|r| matches!(r.op, Op::Eq | Op::In)) else {
            return Vec::new();
        };
        let key = Value::String(req.key.clone()).to_string();
        req.values.iter().map(|v| format!("{key}:{}", Value::String(v.clone()))).collect()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        if self.matches_nothing {
            return false;
        }
        let labels = meta::labels(obj);
        self.matches_labels(|k| labels.and_then(|l| l.get(k)).and_then(Value::as_str))
    }

    pub fn matches_labels<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        !self.matches_nothing && self.requirements.iter().all(|r| r.matches_value(get(&r.key)))
    }

    /// Equality requirements only, as a label map (for pod templates from a selector).
    pub fn as_query(&self) -> String {
        self.requirements
            .iter()
            .map(|r| match r.op {
                Op::Eq => format!("{}={}", r.key, r.values[0]),
                Op::NotEq => format!("{}!={}", r.key, r.values[0]),
                Op::In => format!("{} in ({})", r.key, r.values.join(",")),
                Op::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
                Op::Exists => r.key.clone(),
                Op::DoesNotExist => format!("!{}", r.key),
                Op::Gt => format!("{}>{}", r.key, r.values[0]),
                Op::Lt => format!("{}<{}", r.key, r.values[0]),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    pub path: String,
    pub negate: bool,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub terms: Vec<FieldTerm>,
}

fn supported_fields(res: usize) -> &'static [&'static str] {
    match res {
        r::PODS => &[
            "spec.nodeName",
            "status.phase",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        r::NODES => &["spec.unschedulable"],
        r::NAMESPACES => &["status.phase"],
        r::EVENTS => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        r::REPLICASETS => &["status.replicas"],
        r::JOBS => &["status.successful"],
        _ => &[],
    }
}

impl FieldSelector {
    pub fn parse(res: usize, input: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (path, negate, value) = if let Some((p, v)) = part.split_once("!=") {
                (p, true, v)
            } else if let Some((p, v)) = part.split_once("==") {
                (p, false, v)
            } else if let Some((p, v)) = part.split_once('=') {
                (p, false, v)
            } else {
                return Err(format!("invalid selector: '{input}'; can't understand '{part}'"));
            };
            let path = path.trim();
            let known = path == "metadata.name"
                || path == "metadata.namespace"
                || supported_fields(res).contains(&path);
            if !known {
                let mut fields = vec!["metadata.name", "metadata.namespace"];
                fields.extend(supported_fields(res).iter().copied());
                let fields: Vec<String> = fields.iter().map(|f| format!("{f:?}")).collect();
                return Err(format!(
                    "{path:?} is not a known field selector: only {}",
                    fields.join(", ")
                ));
            }
            terms.push(FieldTerm {
                path: path.to_string(),
                negate,
                value: value.trim().to_string(),
            });
        }
        Ok(Self { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value of `name=` if this selector pins one name (lets lists skip the scan).
    pub fn pinned_name(&self) -> Option<&str> {
        self.terms.iter().find(|t| t.path == "metadata.name" && !t.negate).map(|t| t.value.as_str())
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.terms.iter().all(|t| {
            let path: Vec<&str> = t.path.split('.').collect();
            let have = match meta::at(obj, &path) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                // Unset booleans read as false, the way the API server's field sets do.
                None | Some(Value::Null) if t.path == "spec.unschedulable" => "false".into(),
                _ => String::new(),
            };
            (have == t.value) != t.negate
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"labels": labels}})
    }

    #[test]
    fn grammar() {
        let o = obj(json!({"app": "web", "tier": "front", "n": "7"}));
        let yes = [
            "",
            "app=web",
            "app==web",
            "app!=db",
            "missing!=x",
            "app in (web, db)",
            "app notin (db)",
            "missing notin (db)",
            "app",
            "!missing",
            "app=web,tier=front",
            "n>5",
            "n<8",
            " app = web , tier ",
        ];
        for s in yes {
            let sel = LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(sel.matches(&o), "{s} should match");
        }
        let no =
            ["app=db", "app!=web", "app in (db)", "app notin (web,db)", "!app", "missing", "n>7"];
        for s in no {
            let sel = LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(!sel.matches(&o), "{s} should not match");
        }
    }

    #[test]
    fn bad_grammar_is_an_error() {
        for s in ["app in web", "=x", "app=web,", "app in ()", "a b", "app=(", "-bad=x", "n>x"] {
            assert!(LabelSelector::parse(s).is_err(), "{s} should fail");
        }
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let ok = FieldSelector::parse(r::PODS, "spec.nodeName=n1,status.phase!=Pending").unwrap();
        assert!(ok.matches(&pod));
        let no = FieldSelector::parse(r::PODS, "metadata.name=q").unwrap();
        assert!(!no.matches(&pod));
        assert!(FieldSelector::parse(r::PODS, "spec.bogus=1").is_err());
        let node = json!({"metadata": {"name": "n"}});
        assert!(FieldSelector::parse(r::NODES, "spec.unschedulable=false").unwrap().matches(&node));
    }
}
