//! `chaosdeck list-rollback`: the journal as a tree, like Krkn's, with states and undo summaries.

use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};
use serde_json::json;

use super::JournalLocation;
use crate::journal::scan::{ContextNode, EntryNode, EntryState, JournalTree};
use crate::journal::{Depth, Filter, scan_with};

#[derive(Args, Debug, Default)]
pub struct ListArgs {
    #[command(flatten)]
    pub location: JournalLocation,
    /// Only this run (full uuid or a prefix).
    #[arg(short = 'r', long = "run_uuid", alias = "run-uuid")]
    pub run_uuid: Option<String>,
    /// Only this scenario type.
    #[arg(short = 's', long = "scenario_type", alias = "scenario-type")]
    pub scenario_type: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ListArgs) -> Result<ExitCode> {
    let dir = args.location.resolve()?;
    let tree = scan_with(&dir, Depth::Headers)
        .wrap_err_with(|| format!("cannot read the journal at {}", dir.display()))?;
    let filter = Filter { run_uuid: args.run_uuid, scenario_type: args.scenario_type, file: None };
    let shown = select(&tree, &filter);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&as_json(&tree, &shown))?);
    } else {
        print!("{}", render_tree(&tree, &shown));
    }
    Ok(ExitCode::SUCCESS)
}

/// Contexts with the entries `filter` selects; without a filter, empty contexts are kept too.
pub fn select<'t>(
    tree: &'t JournalTree,
    filter: &Filter,
) -> Vec<(&'t ContextNode, Vec<&'t EntryNode>)> {
    let unfiltered = filter.run_uuid.is_none() && filter.scenario_type.is_none();
    tree.contexts
        .iter()
        .map(|c| (c, c.entries.iter().filter(|e| filter.matches(c, e)).collect::<Vec<_>>()))
        .filter(|(c, entries)| !entries.is_empty() || (unfiltered && c.entries.is_empty()))
        .collect()
}

/// The text tree printed by `list-rollback`.
pub fn render_tree(tree: &JournalTree, shown: &[(&ContextNode, Vec<&EntryNode>)]) -> String {
    let mut out = format!("{}\n", tree.root.display());
    if !tree.exists {
        out.push_str("(no journal here yet)\n");
    }
    for (i, (ctx, entries)) in shown.iter().enumerate() {
        let last_ctx = i + 1 == shown.len();
        let outstanding = entries.iter().filter(|e| e.state.is_outstanding()).count();
        // Invalid pending-named files are outstanding too, but nothing can execute them.
        let invalid = entries.iter().filter(|e| e.state == EntryState::Invalid).count();
        out.push_str(&format!(
            "{}{}/  run {}  {} entr{}, {} outstanding{}\n",
            if last_ctx { "└── " } else { "├── " },
            ctx.dir_name,
            ctx.name.run_uuid,
            entries.len(),
            if entries.len() == 1 { "y" } else { "ies" },
            outstanding,
            if invalid > 0 { format!(" + {invalid} invalid") } else { String::new() }
        ));
        let pad = if last_ctx { "    " } else { "│   " };
        let unknown = &ctx.unknown;
        for (j, e) in entries.iter().enumerate() {
            let last = j + 1 == entries.len() && unknown.is_empty();
            out.push_str(&format!(
                "{pad}{}[{}] {}  {}\n",
                if last { "└── " } else { "├── " },
                badge(e),
                e.file_name,
                e.summary()
            ));
            if let Some(err) = &e.last_error {
                out.push_str(&format!(
                    "{pad}{}    last error: {}\n",
                    if last { " " } else { "│" },
                    err.error
                ));
            }
        }
        for (j, u) in unknown.iter().enumerate() {
            let last = j + 1 == unknown.len();
            let name =
                u.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            out.push_str(&format!(
                "{pad}{}[unknown] {name}  {}\n",
                if last { "└── " } else { "├── " },
                u.reason
            ));
        }
    }
    for u in &tree.unknown {
        out.push_str(&format!("[unknown] {}  {}\n", u.path.display(), u.reason));
    }
    out
}

fn badge(e: &EntryNode) -> String {
    let mut b = e.state.as_str().to_string();
    if e.name.flavor == crate::journal::names::Flavor::Krkn {
        b.push_str(",krkn");
    }
    if e.is_orphaned() {
        b.push_str(",orphaned");
    }
    b
}

fn as_json(tree: &JournalTree, shown: &[(&ContextNode, Vec<&EntryNode>)]) -> serde_json::Value {
    json!({
        "dir": tree.root,
        "contexts": shown.iter().map(|(c, entries)| json!({
            "dir": c.dir_name,
            "run_uuid": c.name.run_uuid,
            "created_ns": c.name.ts_ns,
            "entries": entries.iter().map(|e| json!({
                "file": e.file_name,
                "path": e.path,
                "flavor": e.name.flavor,
                "scenario_type": e.name.scenario_type,
                "created_ns": e.name.ts_ns,
                "state": e.state,
                "orphaned": e.is_orphaned(),
                "undo": e.summary(),
                "last_error": e.last_error.as_ref().map(|r| &r.error),
            })).collect::<Vec<_>>(),
            "unknown": c.unknown,
        })).collect::<Vec<_>>(),
        "unknown": tree.unknown,
    })
}
