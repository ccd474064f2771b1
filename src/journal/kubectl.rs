//! The kubectl commands that undo an action by hand, written into every entry's header, and
//! the shell quoting every hint built from a file's values goes through: entries and Krkn
//! files are data someone else may have written, and a name like `x; rm -rf ~` must reach the
//! reader's shell as one word.

use super::undo::{UndoAction, compact, creatable};
use crate::refs::ObjectRef;

/// Shell lines (comments included) that perform `action` with kubectl, against `context` when
/// the entry names one: a line pasted into a shell whose current context is another cluster
/// must not act there.
pub fn commands(action: &UndoAction, context: Option<&str>) -> Vec<String> {
    let lines = plain_commands(action);
    match context {
        Some(ctx) if !ctx.is_empty() => {
            let flag = format!("kubectl --context {} ", shell_word(ctx));
            lines
                .into_iter()
                .map(|l| match l.strip_prefix("kubectl ") {
                    Some(rest) => format!("{flag}{rest}"),
                    None => l,
                })
                .collect()
        }
        _ => lines,
    }
}

fn plain_commands(action: &UndoAction) -> Vec<String> {
    match action {
        UndoAction::Delete { target, uid, require_labels } => {
            let mut lines = Vec::new();
            if let Some(uid) = uid {
                lines.push(format!(
                    "kubectl get {} -o jsonpath='{{.metadata.uid}}'   # must print {uid}",
                    resource_arg(target)
                ));
            } else if !require_labels.is_empty() {
                let labels: Vec<String> =
                    require_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                lines.push(format!(
                    "kubectl get {} --show-labels   # must carry {}",
                    resource_arg(target),
                    labels.join(",")
                ));
            }
            lines.push(format!("kubectl delete {}", resource_arg(target)));
            lines
        }
        UndoAction::Patch { target, restore, guard } => vec![
            format!(
                "kubectl get {} -o json   # must still show {}",
                resource_arg(target),
                compact(guard)
            ),
            format!(
                "kubectl patch {} --type merge -p {}",
                resource_arg(target),
                shell_quote(&compact(restore))
            ),
        ],
        UndoAction::RemoveListItem { target, path, item } => vec![
            format!(
                "kubectl get {} -o json   # find the position <i> of {} in {path}",
                resource_arg(target),
                compact(item)
            ),
            format!(
                "kubectl patch {} --type json -p {}",
                resource_arg(target),
                shell_quote(&format!(
                    r#"[{{"op":"test","path":"{path}/<i>","value":{}}},{{"op":"remove","path":"{path}/<i>"}}]"#,
                    compact(item)
                ))
            ),
        ],
        UndoAction::Create { object } => {
            vec![format!("kubectl create -f - <<< {}", shell_quote(&compact(&creatable(object))))]
        }
        UndoAction::RemoveFile { file } => {
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
                    "kubectl get pod {} -n {} -o jsonpath='{{.metadata.uid}}'   # {uid}, or find \
                     the pod that mounts the claim now",
                    shell_word(&c.pod),
                    shell_word(&c.namespace)
                ));
            }
            lines.push(format!("{exec} rm -- {}", shell_word(file.path.as_str())));
            lines.push(format!("{exec} df -P -k {}", shell_word(file.mount_path.as_str())));
            lines
        }
    }
}

/// `kind.group/name -n ns` in the form kubectl resolves for any resource type.
pub fn resource_arg(target: &ObjectRef) -> String {
    let kind = target.kind.to_ascii_lowercase();
    let resource = match target.api_version.split_once('/') {
        Some((group, _version)) => format!("{kind}.{group}/{}", target.name),
        None => format!("{kind}/{}", target.name),
    };
    match &target.namespace {
        Some(ns) => format!("{} -n {}", shell_word(&resource), shell_word(ns)),
        None => shell_word(&resource),
    }
}

/// Always single-quoted (for JSON and other text that is never a bare word).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// As typed when it is a plain word (names, paths, namespaces, so hints stay readable),
/// single-quoted otherwise. Plain: ASCII letters, digits and `-_.,/:=@%+`; anything else,
/// including an empty string, is quoted.
pub fn shell_word(s: &str) -> String {
    let plain =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.,/:=@%+".contains(&b));
    if plain { s.to_string() } else { shell_quote(s) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn resource_args_for_core_and_grouped_kinds() {
        let np = ObjectRef::new("networking.k8s.io/v1", "NetworkPolicy", Some("demo"), "deny");
        assert_eq!(resource_arg(&np), "networkpolicy.networking.k8s.io/deny -n demo");
        let node = ObjectRef::new("v1", "Node", None, "worker-1");
        assert_eq!(resource_arg(&node), "node/worker-1");
    }

    #[test]
    fn delete_with_uid_says_what_to_check() {
        let action = UndoAction::Delete {
            target: ObjectRef::new("v1", "Pod", Some("default"), "p"),
            uid: Some("u-1".into()),
            require_labels: BTreeMap::new(),
        };
        let lines = commands(&action, None);
        assert_eq!(lines.last().unwrap(), "kubectl delete pod/p -n default");
        assert!(lines[0].contains("u-1"));
        let lines = commands(&action, Some("kind-game day"));
        assert_eq!(
            lines.last().unwrap(),
            "kubectl --context 'kind-game day' delete pod/p -n default"
        );
        assert!(lines.iter().all(|l| l.starts_with("kubectl --context 'kind-game day' ")));
    }

    #[test]
    fn hostile_words_are_quoted_and_plain_ones_left_alone() {
        assert_eq!(shell_word("/data/kraken.tmp"), "/data/kraken.tmp");
        assert_eq!(shell_word("x; rm -rf ~"), "'x; rm -rf ~'");
        assert_eq!(shell_word("$(reboot)"), "'$(reboot)'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
        let target = ObjectRef::new("v1", "Pod", Some("a`b`"), "p$(x)");
        assert_eq!(resource_arg(&target), "'pod/p$(x)' -n 'a`b`'");
    }

    #[test]
    fn quotes_survive_single_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
