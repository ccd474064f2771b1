//! Reading scenario files with `file:line:column` errors.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::config::ConfigError;

pub fn load_yaml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    serde_saphyr::from_str(&text).map_err(|e| ConfigError::yaml(path, &e))
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
