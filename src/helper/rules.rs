//! A DROP rule as iptables spells it, tagged with its entry id, and reading tagged rules back
//! from `iptables -S`.

/// One DROP of a protocol's traffic to a port in one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `INPUT` (ingress) or `OUTPUT` (egress).
    pub chain: String,
    /// `tcp` or `udp`.
    pub protocol: String,
    pub port: u16,
    /// The entry id; the rule's comment is `chaosdeck-<tag>`.
    pub tag: String,
}

impl Rule {
    pub fn comment(tag: &str) -> String {
        format!("chaosdeck-{tag}")
    }

    /// The words after `-A`/`-D <chain>`: what iptables matches a deletion on.
    pub fn spec(&self) -> Vec<String> {
        let p = &self.protocol;
        [
            "-p",
            p,
            "-m",
            p,
            "--dport",
            &self.port.to_string(),
            "-m",
            "comment",
            "--comment",
            &Self::comment(&self.tag),
            "-j",
            "DROP",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// The rule as `iptables -S` prints it.
    pub fn line(&self) -> String {
        format!(
            "-A {} -p {p} -m {p} --dport {} -m comment --comment \"{}\" -j DROP",
            self.chain,
            self.port,
            Self::comment(&self.tag),
            p = self.protocol
        )
    }
}

/// The `-S` lines carrying exactly the comment of `tag` (not a tag it is a prefix of).
pub fn tagged<'a>(lines: &'a [String], tag: &str) -> Vec<&'a String> {
    let quoted = format!("--comment \"{}\"", Rule::comment(tag));
    let bare = format!("--comment {} ", Rule::comment(tag));
    lines.iter().filter(|l| l.contains(&quoted) || l.contains(&bare)).collect()
}

/// `-A CHAIN …` turned into the argv that deletes it (`-D CHAIN …`), unquoting the comment.
pub fn deletion(line: &str) -> Option<Vec<String>> {
    let rest = line.strip_prefix("-A ")?;
    let mut words = vec!["-D".to_string()];
    let mut in_quote = false;
    let mut word = String::new();
    for c in rest.chars() {
        match c {
            '"' => in_quote = !in_quote,
            ' ' if !in_quote => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    (!in_quote).then_some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(tag: &str) -> Rule {
        Rule { chain: "INPUT".into(), protocol: "tcp".into(), port: 8080, tag: tag.into() }
    }

    #[test]
    fn a_rule_reads_back_by_its_exact_tag_and_deletes_as_it_was_added() {
        let lines = vec![
            rule("1795-abcdefgh").line(),
            rule("1795-abcdefgh2").line(),
            "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT".to_string(),
        ];
        assert_eq!(tagged(&lines, "1795-abcdefgh"), vec![&lines[0]]);
        let del = deletion(&lines[0]).unwrap_or_default();
        let mut want = vec!["-D".to_string(), "INPUT".to_string()];
        want.extend(rule("1795-abcdefgh").spec());
        assert_eq!(del, want);
        assert_eq!(deletion("-P INPUT ACCEPT"), None);
    }
}
