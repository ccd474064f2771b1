//! Path helpers: `~` expansion, resolving a scenario path the way users of Krkn expect, and the
//! default journal directories (the one place that names them).

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

/// The default journal directory: persistent per-user state, not `/tmp` (a reboot is exactly
/// when rollback state matters). `$XDG_STATE_HOME/chaosdeck/rollback`, else
/// `~/.local/state/chaosdeck/rollback`.
pub fn default_dir() -> std::path::PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/state"))
        })
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    base.join("chaosdeck").join("rollback")
}

/// Where runs against the embedded sandbox journal when the config names no directory: apart
/// from real clusters' entries, so that a later `execute-rollback` on the default directory
/// never meets a demo's snapshots.
pub fn sandbox_default_dir() -> std::path::PathBuf {
    default_dir().with_file_name("sandbox-rollback")
}

/// Markers of this user's live runs, whatever their journal: `…/chaosdeck/live` beside the
/// default journal.
pub fn live_runs_dir() -> std::path::PathBuf {
    default_dir().with_file_name("live")
}

/// Krkn's default rollback directory when its config names none: `~/.krkn/rollback`.
pub fn krkn_default_dir() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    home.map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("~"))
        .join(".krkn")
        .join("rollback")
}

/// Where Krkn releases before `~/.krkn/rollback` kept it.
pub const KRKN_LEGACY_DEFAULT_DIR: &str = "/tmp/kraken-rollback";
