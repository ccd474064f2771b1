//! Shell quoting for every hint built from an entry's values: entries and Krkn files are data
//! someone else may have written, and a name like `x; rm -rf ~` must reach the reader's shell
//! as one word.

use crate::refs::ObjectRef;

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

    #[test]
    fn resource_args_for_core_and_grouped_kinds() {
        let np = ObjectRef::new("networking.k8s.io/v1", "NetworkPolicy", Some("demo"), "deny");
        assert_eq!(resource_arg(&np), "networkpolicy.networking.k8s.io/deny -n demo");
        let node = ObjectRef::new("v1", "Node", None, "worker-1");
        assert_eq!(resource_arg(&node), "node/worker-1");
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
