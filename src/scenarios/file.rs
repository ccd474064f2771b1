//! Reading scenario files with `file:line:column` errors.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::config::ConfigError;

pub fn load_yaml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    serde_saphyr::from_str(&text).map_err(|e| ConfigError::yaml(path, &e))
}

/// A key Krkn's file format has and chaosdeck does not use: accepted (a Krkn file loads
/// unchanged), named once as ignored. Every other unknown key is an error at its line
/// (`deny_unknown_fields`): a misspelled key must not quietly run another scenario than the
/// one reviewed.
pub type KrknOnly = Option<serde::de::IgnoredAny>;

/// The names of the `KrknOnly` fields present in `$spec`, as the file spells them
/// (`$sep` between words: `_`, or `-` for Krkn's kebab-case files).
#[macro_export]
macro_rules! krkn_only_present {
    ($spec:expr, $sep:literal, [$($field:ident),* $(,)?]) => {{
        let mut present: Vec<String> = Vec::new();
        $( if $spec.$field.is_some() { present.push(stringify!($field).replace('_', $sep)); } )*
        present
    }};
}

pub fn invalid(path: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { path: path.to_path_buf(), message: message.into() }
}

/// Krkn writes durations as numbers of seconds or strings like `30s`, `2m`; bounded by
/// [`crate::config::bounds::MAX_SECONDS`].
pub fn parse_duration(raw: &str) -> Result<std::time::Duration, String> {
    let raw = raw.trim();
    let not_a_duration = || format!("duration {raw:?} is not like 30s, 2m or 60");
    let (num, unit) =
        raw.find(|c: char| !c.is_ascii_digit()).map(|i| raw.split_at(i)).unwrap_or((raw, "s"));
    let n: u64 = num.parse().map_err(|_| not_a_duration())?;
    let scale = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(not_a_duration()),
    };
    let secs = n.saturating_mul(scale);
    crate::config::bounds::check_seconds(secs).map(std::time::Duration::from_secs)
}
