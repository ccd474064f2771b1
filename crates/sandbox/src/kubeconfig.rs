//! The kubeconfig the sandbox hands to kubectl and chaosdeck.
//!
//! Owns: its YAML text and writing it with owner-only permissions. Must not read or merge
//! the user's own kubeconfig: the sandbox file stands alone so it can never point at a real
//! cluster by accident.

use std::io::Write;
use std::path::Path;

use super::SANDBOX_CONTEXT;

pub fn yaml(server: &str) -> String {
    yaml_for(server, None)
}

/// The kubeconfig of `user` (its bearer token names it: the sandbox has no authentication,
/// see [`crate::identity`]); `None` is the sandbox's admin.
pub fn yaml_for(server: &str, user: Option<&str>) -> String {
    let c = SANDBOX_CONTEXT;
    let credentials = match user {
        Some(user) => format!("  user:\n    token: {user}"),
        None => "  user: {}".into(),
    };
    [
        "# chaosdeck sandbox: plain HTTP on loopback, no authentication.".to_string(),
        "apiVersion: v1".into(),
        "kind: Config".into(),
        "clusters:".into(),
        format!("- name: {c}"),
        "  cluster:".into(),
        format!("    server: {server}"),
        "users:".into(),
        format!("- name: {c}"),
        credentials,
        "contexts:".into(),
        format!("- name: {c}"),
        "  context:".into(),
        format!("    cluster: {c}"),
        format!("    user: {c}"),
        "    namespace: default".into(),
        format!("current-context: {c}"),
        "preferences: {}".into(),
        String::new(),
    ]
    .join("\n")
}

/// Writes `text` to `path` with mode 0600, creating parent directories.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    // An existing file keeps its old mode on open; tighten it explicitly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    #[test]
    fn yaml_names_the_sandbox_everywhere() {
        let y = super::yaml("http://127.0.0.1:1234");
        assert!(y.contains("    server: http://127.0.0.1:1234\n"));
        assert!(y.contains("current-context: chaosdeck-sandbox\n"));
        assert_eq!(y.matches("chaosdeck-sandbox").count(), 6);
    }
}
