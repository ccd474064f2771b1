//! Krkn's `.py` version files, read as text and never executed.
//!
//! For now this recognises the callable and the `rollback_content = RollbackContent(...)` line so
//! such files can be listed and inspected; mapping them to undo actions is the Krkn interop work.

/// What a Krkn version file says it will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KrknSummary {
    pub callable: String,
    pub content: String,
}

pub fn summarize(text: &str) -> Result<KrknSummary, String> {
    let callable = text
        .lines()
        .find_map(|l| l.strip_prefix("def rollback_"))
        .and_then(|rest| rest.split('(').next())
        .map(|name| format!("rollback_{name}"))
        .ok_or("no `def rollback_*(` callable found")?;
    let content = text
        .lines()
        .find_map(|l| l.strip_prefix("rollback_content = "))
        .map(str::trim)
        .ok_or("no `rollback_content = RollbackContent(...)` line found")?
        .to_string();
    Ok(KrknSummary { callable, content })
}
