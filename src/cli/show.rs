//! `chaosdeck show FILE`: one entry in full, for a human.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr, eyre};

use crate::journal::krkn::{self, KrknSummary, Plan};
use crate::journal::kubectl;
use crate::journal::names::parse_entry_file;
use crate::journal::scan::{EntryBody, EntryNode, Liveness, read_entry};

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The entry file.
    pub file: PathBuf,
}

pub fn run(args: ShowArgs) -> Result<ExitCode> {
    let node = load(&args.file)?;
    print!("{}", describe(&node));
    let raw = std::fs::read_to_string(&node.path)
        .wrap_err_with(|| format!("cannot read {}", node.path.display()))?;
    println!("\n--- raw file ---\n{raw}");
    Ok(if matches!(node.body, EntryBody::Invalid(_)) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn load(file: &std::path::Path) -> Result<EntryNode> {
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| eyre!("{} is not a file name", file.display()))?;
    let name = parse_entry_file(&file_name).ok_or_else(|| {
        eyre!(
            "{}: not a journal entry name (<scenario_type>_<ts>_<suffix>.yaml or Krkn's .py)",
            file.display()
        )
    })?;
    std::fs::symlink_metadata(file).wrap_err_with(|| format!("cannot read {}", file.display()))?;
    Ok(read_entry(file.to_path_buf(), file_name, name, &mut Liveness::default()))
}

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
            out.push_str("by hand:\n");
            for action in actions {
                for line in kubectl::commands(action) {
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
