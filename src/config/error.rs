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

    /// Wraps a YAML error, keeping its position when the parser knows it.
    pub fn yaml(path: &std::path::Path, err: &serde_saphyr::Error) -> Self {
        let message = err.without_snippet().to_string();
        let message = strip_position_prefix(&message);
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
