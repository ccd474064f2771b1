//! Path helpers: `~` expansion and resolving a scenario path the way users of Krkn expect.

use std::path::{Path, PathBuf};

pub fn expand_tilde(raw: &str) -> PathBuf {
    match raw.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(rest))
            .unwrap_or_else(|| raw.into()),
        None if raw == "~" => {
            std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| raw.into())
        }
        None => PathBuf::from(raw),
    }
}

/// Where a relative path in `config_dir/config.yaml` may point, in the order tried: next to the
/// config (chaosdeck's rule), the config folder's parent (Krkn's `config/config.yaml` names
/// `scenarios/...` relative to the repository root), then the working directory.
pub fn candidates(config_dir: &Path, raw: &str) -> Vec<PathBuf> {
    let path = expand_tilde(raw);
    if path.is_absolute() {
        return vec![path];
    }
    let mut out = vec![config_dir.join(&path)];
    if let Some(parent) = config_dir.parent() {
        out.push(parent.join(&path));
    }
    if let Ok(cwd) = std::env::current_dir() {
        out.push(cwd.join(&path));
    }
    out.dedup();
    out
}
