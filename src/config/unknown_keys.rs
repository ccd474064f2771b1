//! Keys a config has that chaosdeck does not read: Krkn's own ones are accepted and listed once;
//! anything else is an error at its line, with the key it most likely misspells.
//!
//! Why not ignore them all: `chaosdek:` would drop the protected namespaces without a word and
//! `wait_duraton:` would run with a 60 s wait nobody chose.

use std::path::Path;

use super::error::{ConfigError, did_you_mean};

/// The top-level sections of Krkn's `config/config.yaml` (current and older releases).
pub const KRKN_SECTIONS: &[&str] = &[
    "cerberus",
    "performance_monitoring",
    "elastic",
    "telemetry",
    "kubevirt_checks",
    "resiliency",
];

/// `kraken:` keys Krkn reads that chaosdeck does not.
pub const KRKN_KRAKEN_KEYS: &[&str] = &[
    "exit_on_failure",
    "generate_pdf_report",
    "distribution",
    "litmus_version",
    "litmus_uninstall",
    "litmus_uninstall_before_run",
];

/// `health_checks.config[]` keys Krkn reads that chaosdeck does not.
pub const KRKN_HEALTH_CHECK_KEYS: &[&str] = &["verify_url"];

/// One map of the file: where it is (`kraken`, or `` for the top level), the keys chaosdeck reads
/// there and the ones Krkn reads that chaosdeck ignores.
pub struct Section<'a> {
    pub name: &'a str,
    pub used: &'a [&'a str],
    pub krkn: &'a [&'a str],
}

impl Section<'_> {
    /// Sorts `found` into Krkn's keys (added to `ignored`, as `section.key`) and the rest, the
    /// first of which is returned as an error at its line.
    pub fn check<'k>(
        &self,
        path: &Path,
        text: &str,
        found: impl IntoIterator<Item = &'k String>,
        ignored: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        for key in found {
            if self.krkn.contains(&key.as_str()) {
                ignored.push(self.qualified(key));
                continue;
            }
            let mut known: Vec<&str> = self.used.to_vec();
            known.extend_from_slice(self.krkn);
            let hint = match did_you_mean(key, &known) {
                Some(close) => format!(" (did you mean `{close}`?)"),
                None => String::new(),
            };
            let message = format!(
                "unknown key `{}`{hint}; {} reads: {}",
                self.qualified(key),
                if self.name.is_empty() { "the top level" } else { self.name },
                known.join(", ")
            );
            return Err(match line_of(text, self.name, key) {
                Some(line) => {
                    ConfigError::At { path: path.to_path_buf(), line, column: 1, message }
                }
                None => ConfigError::Invalid { path: path.to_path_buf(), message },
            });
        }
        Ok(())
    }

    fn qualified(&self, key: &str) -> String {
        if self.name.is_empty() { key.to_string() } else { format!("{}.{key}", self.name) }
    }
}

/// The 1-based line where `key` appears as a block-style key inside top-level `section` (the
/// whole file when `section` is empty). Flow-style maps (`{a: 1}`) are not searched.
fn line_of(text: &str, section: &str, key: &str) -> Option<u64> {
    let mut inside = section.is_empty();
    for (n, line) in text.lines().enumerate() {
        let top_level = !line.starts_with([' ', '\t', '#', '-']) && !line.trim().is_empty();
        if !section.is_empty() && top_level {
            inside = key_of(line) == Some(section);
            continue;
        }
        let wanted = if section.is_empty() { top_level } else { inside };
        if wanted && key_of(line) == Some(key) {
            return u64::try_from(n + 1).ok();
        }
    }
    None
}

/// `  - name: x` → `name`; comments and list dashes skipped; quoted keys unquoted.
fn key_of(line: &str) -> Option<&str> {
    let body = line.trim_start().trim_start_matches("- ").trim_start();
    if body.starts_with('#') {
        return None;
    }
    let (key, _) = body.split_once(':')?;
    Some(key.trim().trim_matches(['"', '\'']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_in_their_own_section() {
        let text = "kraken:\n  port: 1\n  wait_duraton: 3\ntunings:\n  # wait_duraton: 9\n  wait_duraton: 5\n";
        assert_eq!(line_of(text, "kraken", "wait_duraton"), Some(3));
        assert_eq!(line_of(text, "tunings", "wait_duraton"), Some(6));
        assert_eq!(line_of(text, "", "tunings"), Some(4));
        assert_eq!(line_of(text, "cerberus", "port"), None);
        let items = "health_checks:\n  config:\n    - url: x\n      verfy_url: false\n";
        assert_eq!(line_of(items, "health_checks", "verfy_url"), Some(4));
    }
}
