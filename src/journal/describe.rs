//! The human description of one entry, shared by `chaosdeck show` and the TUI inspector.

use super::kubectl;
use super::scan::{EntryBody, EntryNode};

/// The human summary shown by `show` (and by the TUI inspector later).
pub fn describe(node: &EntryNode) -> String {
    let mut out = format!("entry:     {}\nstate:     {}", node.path.display(), node.state.as_str());
    if node.is_orphaned() {
        out.push_str(" (orphaned: its writer process is gone)");
    }
    out.push('\n');
    match &node.body {
        EntryBody::Chaosdeck(e) => {
            out.push_str(&format!(
                "run:       {}\nscenario:  {}{}\nchange:    {}\ncreated:   {} by pid {} on {}\nundo:      {}\n",
                e.run_uuid,
                e.scenario_type,
                e.scenario_file.as_ref().map(|f| format!(" ({f})")).unwrap_or_default(),
                e.step,
                e.created_at,
                e.writer.pid,
                e.writer.host,
                e.undo_summary()
            ));
            out.push_str("by hand:\n");
            for action in &e.undo {
                for line in kubectl::commands(action) {
                    out.push_str(&format!("  {line}\n"));
                }
            }
        }
        EntryBody::Listed(h) => {
            out.push_str(&format!("change:    {}\nundo:      {}\n", h.step, h.undo));
        }
        EntryBody::Krkn(k) => {
            out.push_str(&format!("krkn:      {}\ncontent:   {}\n", k.callable, k.content));
        }
        EntryBody::Invalid(reason) => out.push_str(&format!("invalid:   {reason}\n")),
    }
    if let Some(err) = &node.last_error {
        out.push_str(&format!(
            "last error ({} attempt(s), {}): {}\n",
            err.attempts, err.failed_at, err.error
        ));
    }
    out
}
