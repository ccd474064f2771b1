//! The config as the Job reads it: each scenario path rewritten, in place in the operator's
//! own text (comments, order and every other key kept), to where the Job mounts that file.
//! The rewrite is located by the line and column the config parser recorded, so a path
//! that appears twice, or inside a comment, is never touched by accident.

use crate::config::ScenarioFile;

/// `text` with `file.raw` at `file.line`:`file.column` replaced by `to`; an error naming the
/// place when the text there is not that path (plain, single- or double-quoted).
pub fn rewrite(
    text: &str,
    edits: &[(&ScenarioFile, String)],
    config: &str,
) -> Result<String, String> {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    // Right to left on each line, so earlier columns stay valid (flow lists hold several).
    let mut sorted: Vec<&(&ScenarioFile, String)> = edits.iter().collect();
    sorted.sort_by_key(|(f, _)| std::cmp::Reverse((f.line, f.column)));
    for (file, to) in sorted {
        let at = |why: &str| format!("{config}:{}:{}: {why}", file.line, file.column);
        let index = usize::try_from(file.line).ok().and_then(|l| l.checked_sub(1));
        let line = index.and_then(|i| lines.get_mut(i)).ok_or_else(|| at("no such line"))?;
        let column = usize::try_from(file.column).unwrap_or(0).saturating_sub(1);
        let start =
            line.char_indices().nth(column).map(|(b, _)| b).ok_or_else(|| at("no such column"))?;
        let rest = &line[start..];
        let len = [
            (String::new(), String::new()),
            ("'".to_string(), "'".to_string()),
            ("\"".to_string(), "\"".to_string()),
        ]
        .iter()
        .find_map(|(open, close)| {
            let quoted = format!("{open}{}{close}", file.raw);
            rest.starts_with(&quoted).then_some(quoted.len())
        })
        .ok_or_else(|| at(&format!("expected the scenario path {:?} here", file.raw)))?;
        line.replace_range(start..start + len, &plain_or_quoted(to));
    }
    Ok(lines.join("\n"))
}

/// A path as a YAML scalar: plain when it is made of safe characters (the keys the Job
/// writes always are), double-quoted otherwise.
fn plain_or_quoted(path: &str) -> String {
    if path.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)) {
        path.to_string()
    } else {
        format!("{path:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn file(raw: &str, line: u64, column: u64) -> ScenarioFile {
        ScenarioFile {
            raw: raw.into(),
            path: PathBuf::from(raw),
            exists: true,
            tried: vec![],
            line,
            column,
        }
    }

    #[test]
    fn rewrites_at_the_recorded_place_only() {
        let text = "kraken:\n  # scenarios/pod.yml is the old one\n  chaos_scenarios:\n    - pod_disruption_scenarios:\n        - scenarios/pod.yml\n        - 'scenarios/b c.yml'\n    - hog_scenarios: [\"scenarios/pod.yml\"]\n";
        let a = file("scenarios/pod.yml", 5, 11);
        let b = file("scenarios/b c.yml", 6, 11);
        let c = file("scenarios/pod.yml", 7, 23);
        let edits = vec![
            (&a, "/etc/chaosdeck/job/s1".to_string()),
            (&b, "/etc/chaosdeck/job/s2".to_string()),
            (&c, "/etc/chaosdeck/job/s1".to_string()),
        ];
        let out = rewrite(text, &edits, "config.yaml").unwrap();
        assert_eq!(
            out,
            "kraken:\n  # scenarios/pod.yml is the old one\n  chaos_scenarios:\n    - pod_disruption_scenarios:\n        - /etc/chaosdeck/job/s1\n        - /etc/chaosdeck/job/s2\n    - hog_scenarios: [/etc/chaosdeck/job/s1]\n"
        );
    }

    #[test]
    fn the_places_the_config_parser_records_are_the_ones_rewritten() {
        let text = "kraken:\n    chaos_scenarios:\n        - pod_disruption_scenarios:\n            - scenarios/pod.yml\n            - \"scenarios/two.yml\"\n        - hog_scenarios: [scenarios/pod.yml, 'scenarios/cpu.yml']\n";
        let config = crate::config::Config::parse(std::path::Path::new("c.yaml"), text).unwrap();
        let files: Vec<&ScenarioFile> =
            config.chaos_scenarios.iter().flat_map(|g| &g.files).collect();
        let edits: Vec<(&ScenarioFile, String)> =
            files.iter().enumerate().map(|(i, f)| (*f, format!("/j/s{i}"))).collect();
        let out = rewrite(text, &edits, "c.yaml").unwrap();
        assert_eq!(
            out,
            "kraken:\n    chaos_scenarios:\n        - pod_disruption_scenarios:\n            - /j/s0\n            - /j/s1\n        - hog_scenarios: [/j/s2, /j/s3]\n"
        );
        let again = crate::config::Config::parse(std::path::Path::new("c.yaml"), &out).unwrap();
        let raws: Vec<&str> =
            again.chaos_scenarios.iter().flat_map(|g| &g.files).map(|f| f.raw.as_str()).collect();
        assert_eq!(raws, ["/j/s0", "/j/s1", "/j/s2", "/j/s3"]);
    }

    #[test]
    fn a_place_that_does_not_hold_the_path_is_an_error_with_file_and_line() {
        let text = "kraken:\n  chaos_scenarios:\n    - x: [other.yml]\n";
        let f = file("pod.yml", 3, 11);
        let err = rewrite(text, &[(&f, "/x".into())], "config.yaml").unwrap_err();
        assert!(err.starts_with("config.yaml:3:11: expected the scenario path"), "{err}");
    }
}
