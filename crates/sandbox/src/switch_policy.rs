//! The dead man's switch's admission policies, built in: what deploy/watchdog.yaml's two
//! ValidatingAdmissionPolicies (`chaosdeck-dead-man-switch-mirrors` and `-leases`) enforce on
//! a real API server, for ConfigMaps and Leases in `chaosdeck-system`. The sandbox has no CEL
//! engine; this is the same rules in Rust, with the same answers (403, the policy named in the
//! message as the API server names it), so the switch behaves alike on both targets.
//!
//! The rules: whoever creates an object here names themselves as its author (and their
//! groups); the author never changes; only the author or the watchdog may change or delete
//! it; only the watchdog records outcomes (state, claims, undone-by, taken-over), and the
//! watchdog never changes an entry; a mirror holds one entry of at most 256 KiB; at most 16
//! annotations of 4 KiB. Exempt: the cluster's CA bundle (`kube-root-ca.crt`) and the
//! controllers that empty a namespace being deleted.
//!
//! Owns: judging one write. Must not change anything.

use serde_json::{Map, Value};

use crate::identity::User;
use crate::status::ApiError;

/// The namespace the shipped policies are bound to.
pub const NAMESPACE: &str = "chaosdeck-system";
pub const WATCHDOG: &str = "system:serviceaccount:chaosdeck-system:chaosdeck-watchdog";
const AUTHOR: &str = "chaosdeck.io/author";
const AUTHOR_GROUPS: &str = "chaosdeck.io/author-groups";
const STATE: &str = "chaosdeck.io/state";
const OUTCOME_KEYS: [&str; 6] = [
    "chaosdeck.io/claimed-by",
    "chaosdeck.io/outcome",
    "chaosdeck.io/undone-by",
    "chaosdeck.io/undone-at",
    "chaosdeck.io/attempts",
    "chaosdeck.io/taken-over",
];
const EXEMPT_DELETERS: [&str; 2] = [
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:kube-system:generic-garbage-collector",
];
const MAX_ENTRY_CHARS: usize = 262_144;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// Which of the two policies: they differ only in the ConfigMap rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ConfigMap,
    Lease,
}

impl Kind {
    fn policy(self) -> &'static str {
        match self {
            Kind::ConfigMap => "chaosdeck-dead-man-switch-mirrors",
            Kind::Lease => "chaosdeck-dead-man-switch-leases",
        }
    }

    fn qualified(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configmaps",
            Kind::Lease => "leases.coordination.k8s.io",
        }
    }
}

/// `groups` as the policy joins them: each with `%` and `,` escaped, joined by `,`.
pub fn encoded_groups(groups: &[String]) -> String {
    groups.iter().map(|g| g.replace('%', "%25").replace(',', "%2C")).collect::<Vec<_>>().join(",")
}

fn annotations(obj: Option<&Value>) -> Map<String, Value> {
    obj.and_then(|o| o.pointer("/metadata/annotations"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn state(obj: Option<&Value>) -> &str {
    obj.and_then(|o| o.pointer(&format!("/metadata/labels/{}", STATE.replace('/', "~1"))))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Whether `user` may make this write. `old` is the stored object (update, delete), `new`
/// what would be stored (create, update).
pub fn check(
    kind: Kind,
    op: Op,
    name: &str,
    user: &User,
    old: Option<&Value>,
    new: Option<&Value>,
) -> Result<(), ApiError> {
    if name == "kube-root-ca.crt"
        || (op == Op::Delete && EXEMPT_DELETERS.contains(&user.username.as_str()))
    {
        return Ok(());
    }
    let deny = |message: String| {
        Err(ApiError::forbidden(format!(
            "{} \"{name}\" is forbidden: ValidatingAdmissionPolicy '{policy}' with binding \
             '{policy}' denied request: chaosdeck-dead-man-switch: {message}",
            kind.qualified(),
            policy = kind.policy()
        )))
    };
    let me = user.username.as_str();
    let my_groups = encoded_groups(&user.groups);
    let watchdog = me == WATCHDOG;
    let (old_ann, new_ann) = (annotations(old), annotations(new));
    let old_author = text(&old_ann, AUTHOR);
    if op == Op::Create {
        if text(&new_ann, AUTHOR) != me
            || !new_ann.contains_key(AUTHOR)
            || !new_ann.contains_key(AUTHOR_GROUPS)
            || text(&new_ann, AUTHOR_GROUPS) != my_groups
        {
            return deny(format!(
                "what is created here must name its creator: annotations chaosdeck.io/author: \
                 {me} and chaosdeck.io/author-groups: {my_groups}"
            ));
        }
        let fresh = matches!(state(new), "" | "pending");
        if OUTCOME_KEYS.iter().any(|k| new_ann.contains_key(*k)) || !fresh {
            return deny(
                "only the watchdog records outcomes (state, claims, undone-by, taken-over); a \
                 new object starts pending"
                    .into(),
            );
        }
    }
    if op == Op::Update
        && (old_author != text(&new_ann, AUTHOR)
            || text(&old_ann, AUTHOR_GROUPS) != text(&new_ann, AUTHOR_GROUPS))
    {
        return deny("the author annotations never change".into());
    }
    if op != Op::Create && !watchdog && (old_author.is_empty() || old_author != me) {
        return deny(format!(
            "only its author ({old_author}) or the watchdog may change or delete {name}"
        ));
    }
    if op == Op::Update && !watchdog {
        let same = state(old) == state(new)
            && OUTCOME_KEYS.iter().all(|k| text(&old_ann, k) == text(&new_ann, k));
        if !same {
            return deny(
                "only the watchdog records outcomes (state, claims, undone-by, taken-over)".into(),
            );
        }
    }
    if kind == Kind::ConfigMap {
        let data = |o: Option<&Value>| o.and_then(|o| o.get("data")).cloned().unwrap_or_default();
        if op == Op::Update && watchdog && data(old) != data(new) {
            return deny("the watchdog never changes an entry".into());
        }
        if let Some(new) = new {
            let entries = new.get("data").and_then(Value::as_object).cloned().unwrap_or_default();
            let fits = new.get("binaryData").is_none()
                && entries.len() <= 2
                && entries
                    .values()
                    .all(|v| v.as_str().is_some_and(|s| s.chars().count() <= MAX_ENTRY_CHARS));
            if !fits {
                return deny("a mirror holds one entry of at most 256 KiB".into());
            }
        }
    }
    if new.is_some()
        && (new_ann.len() > 16
            || new_ann.values().any(|v| v.as_str().is_some_and(|s| s.chars().count() > 4096)))
    {
        return deny("at most 16 annotations of 4 KiB each".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sa(name: &str) -> User {
        User::named(&format!("system:serviceaccount:chaosdeck:{name}"), Vec::new())
    }

    fn mirror(author: &User, extra: Value) -> Value {
        let mut cm = json!({"metadata": {"name": "m", "labels": {STATE: "pending"},
            "annotations": {AUTHOR: author.username, AUTHOR_GROUPS: encoded_groups(&author.groups)}},
            "data": {"entry.yaml": "x"}});
        if let (Some(a), Some(b)) = (
            cm.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut),
            extra.as_object(),
        ) {
            a.extend(b.clone());
        }
        cm
    }

    #[test]
    fn authors_write_their_own_and_only_the_watchdog_records() {
        let (alice, bob) = (sa("alice"), sa("bob"));
        let watchdog = User::named(WATCHDOG, Vec::new());
        let cm = mirror(&alice, json!({}));
        let check = |op, user: &User, old: Option<&Value>, new: Option<&Value>| {
            check(Kind::ConfigMap, op, "m", user, old, new)
        };
        assert!(check(Op::Create, &alice, None, Some(&cm)).is_ok());
        let err = check(Op::Create, &bob, None, Some(&cm)).unwrap_err();
        assert_eq!(err.code, 403);
        assert!(
            err.message.contains("ValidatingAdmissionPolicy 'chaosdeck-dead-man-switch-mirrors'"),
            "{}",
            err.message
        );
        assert!(check(Op::Update, &bob, Some(&cm), Some(&cm)).is_err(), "not bob's");
        let executed = mirror(&alice, json!({"chaosdeck.io/undone-by": "wd"}));
        assert!(
            check(Op::Update, &alice, Some(&cm), Some(&executed)).is_err(),
            "only the watchdog records"
        );
        assert!(check(Op::Update, &watchdog, Some(&cm), Some(&executed)).is_ok());
        let mut rewritten = executed.clone();
        rewritten["data"]["entry.yaml"] = json!("y");
        assert!(check(Op::Update, &watchdog, Some(&executed), Some(&rewritten)).is_err());
        assert!(check(Op::Delete, &bob, Some(&cm), None).is_err());
        assert!(check(Op::Delete, &alice, Some(&cm), None).is_ok());
        let mut big = cm.clone();
        big["data"]["entry.yaml"] = json!("y".repeat(MAX_ENTRY_CHARS + 1));
        assert!(check(Op::Create, &alice, None, Some(&big)).is_err());
        assert!(check(Op::Create, &User::admin(), None, Some(&cm)).is_err(), "admins too");
    }
}
