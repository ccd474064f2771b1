//! The human description of one entry, shared by `chaosdeck show` and the TUI inspector.

use super::krkn::{self, KrknSummary, Plan};
use super::scan::{EntryBody, EntryNode};
use super::{before_after, kubectl};

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
            match &e.cluster {
                Some(c) => out.push_str(&format!(
                    "cluster:   context {} at {}{}\n",
                    c.context,
                    c.server,
                    c.kube_system_uid
                        .as_ref()
                        .map(|u| format!(" (kube-system uid {u})"))
                        .unwrap_or_default()
                )),
                None => out.push_str("cluster:   not recorded (check your current context)\n"),
            }
            if let Some(na) = &e.not_applied {
                out.push_str(&format!("not applied: {} ({}); nothing to undo\n", na.reason, na.at));
            }
            if let Some(u) = &e.undone_by {
                out.push_str(&format!("undone by: {} at {} (the dead man's switch)\n", u.by, u.at));
            }
            push_lines(&mut out, before_after::lines(&e.undo));
            out.push_str("by hand:\n");
            let context = e.cluster.as_ref().map(|c| c.context.as_str());
            for action in &e.undo {
                for line in kubectl::commands(action, context) {
                    out.push_str(&format!("  {line}\n"));
                }
            }
        }
        EntryBody::Listed(h) => {
            out.push_str(&format!("change:    {}\n", h.step));
            if let Some(reason) = &h.not_applied {
                out.push_str(&format!("not applied: {reason}; nothing to undo\n"));
            }
            if let Some(by) = &h.undone_by {
                out.push_str(&format!("undone by: {by} (the dead man's switch)\n"));
            }
        }
        EntryBody::Krkn(k) => out.push_str(&describe_krkn(node, k)),
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

/// A Krkn version file: the callable, the content as written and decoded, and what chaosdeck
/// would do with it (or why it leaves it to Krkn).
fn describe_krkn(node: &EntryNode, k: &KrknSummary) -> String {
    let mut out = format!(
        "krkn:      {} (Krkn version file, read as data, never run)\ncontent:   {}\n",
        k.callable, k.content
    );
    if let Ok(payload) = krkn::payload::decode_json(&k.parsed.resource_identifier) {
        out.push_str(&format!("decoded:   resource_identifier = {payload}\n"));
    }
    out.push_str(&format!("undo:      {}\n", k.plan.summary()));
    match &k.plan {
        Plan::Executable { actions, notes, .. } => {
            push_lines(&mut out, before_after::lines(actions));
            out.push_str("by hand:\n");
            // A Krkn file does not record its cluster: the reader picks the context.
            for action in actions {
                for line in kubectl::commands(action, None) {
                    out.push_str(&format!("  {line}\n"));
                }
            }
            for note in notes {
                out.push_str(&format!("note:      {note}\n"));
            }
        }
        Plan::NotExecutable { what, .. } => {
            out.push_str(&format!(
                "what:      {what}\nwith Krkn: {}\n",
                krkn::krkn_instructions(&node.path, &node.name.scenario_type)
            ));
        }
    }
    out
}

fn push_lines(out: &mut String, lines: Vec<String>) {
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
}
