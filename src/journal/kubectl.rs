//! The kubectl commands that undo an action by hand, written into every entry's header: each
//! kind's lines (`journal::undo`), pinned to the entry's context.

pub use super::shell::{resource_arg, shell_quote, shell_word};
use super::undo::UndoAction;

/// Shell lines (comments included) that perform `action` with kubectl, against `context` when
/// the entry names one: a line pasted into a shell whose current context is another cluster
/// must not act there.
pub fn commands(action: &UndoAction, context: Option<&str>) -> Vec<String> {
    let lines = action.kubectl();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refs::ObjectRef;
    use std::collections::BTreeMap;

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
}
