//! Config errors that name the file, line and column.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}:{column}: {message}", path.display())]
    At { path: PathBuf, line: u64, column: u64, message: String },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl ConfigError {
    pub fn at(
        path: &std::path::Path,
        loc: serde_saphyr::Location,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::At {
            path: path.to_path_buf(),
            line: loc.line(),
            column: loc.column(),
            message: message.into(),
        }
    }

    /// Wraps a YAML error, keeping its position when the parser knows it. An unknown key is
    /// named with the known key it most likely misspells.
    pub fn yaml(path: &std::path::Path, err: &serde_saphyr::Error) -> Self {
        let message = err.without_snippet().to_string();
        let message = strip_position_prefix(&message);
        let message = with_suggestion(strip_position_suffix(&message));
        match err.location() {
            Some(loc) => ConfigError::at(path, loc, message),
            None => ConfigError::Invalid { path: path.to_path_buf(), message },
        }
    }
}

/// serde-saphyr may already start its message with `line X column Y:`; we print our own.
fn strip_position_prefix(message: &str) -> String {
    let trimmed = message.trim();
    if let Some(rest) = trimmed.strip_prefix("line ")
        && let Some(idx) = rest.find(": ")
        && rest[..idx]
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == ',' || c.is_ascii_alphabetic())
        && rest[..idx].contains("column")
    {
        return rest[idx + 2..].to_string();
    }
    trimmed.to_string()
}

/// serde's "unknown field `blok`, expected one of duration, block" said as a key, with the
/// closest expected one when it is a likely misspelling:
/// "unknown key `blok` (did you mean `block`?); known keys: duration, block".
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else { return message.to_string() };
    let Some((unknown, expected)) = rest.split_once('`') else { return message.to_string() };
    let expected = expected.trim_start_matches(',').trim();
    let expected = strip_position_suffix(expected).replace('`', "");
    let list = expected
        .strip_prefix("expected one of ")
        .or_else(|| expected.strip_prefix("expected "))
        .unwrap_or("");
    let known: Vec<&str> = list
        .split(", ")
        .flat_map(|k| k.split(" or "))
        .map(str::trim)
        .filter(|k| !k.is_empty() && *k != "there are no fields")
        .collect();
    let listed = if known.is_empty() {
        String::new()
    } else {
        format!("; known keys: {}", known.join(", "))
    };
    match did_you_mean(unknown, &known) {
        Some(close) => format!("unknown key `{unknown}` (did you mean `{close}`?){listed}"),
        None => format!("unknown key `{unknown}`{listed}"),
    }
}

/// serde-saphyr may end its message with ` at line X, column Y`; we print our own position.
fn strip_position_suffix(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(idx) if message[idx..].contains("column") => &message[..idx],
        _ => message,
    }
}

/// The entry of `known` closest to `word` when it is close enough to be a slip of the finger
/// (an edit distance of at most a third of the word, and at least one edit allowed).
pub fn did_you_mean<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, with a swap of two neighbours counting as one edit (`duratoin`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelled_key_is_named_with_the_likely_one() {
        let m = with_suggestion("unknown field `blok`, expected one of `duration`, `block`");
        assert_eq!(m, "unknown key `blok` (did you mean `block`?); known keys: duration, block");
        // serde-saphyr's own wording: no backticks in the list, the position at the end.
        let m = with_suggestion(
            "unknown field `blok`, expected one of duration, block at line 4, column 3",
        );
        assert_eq!(m, "unknown key `blok` (did you mean `block`?); known keys: duration, block");
        let m = with_suggestion("unknown field `nme`, expected `name` or `namespace`");
        assert_eq!(m, "unknown key `nme` (did you mean `name`?); known keys: name, namespace");
        assert_eq!(did_you_mean("duratoin", &["duration", "namespace"]), Some("duration"));
        assert_eq!(did_you_mean("zzz", &["duration", "namespace"]), None);
        assert_eq!(with_suggestion("missing field `x`"), "missing field `x`");
    }
}
