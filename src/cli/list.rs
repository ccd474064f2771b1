//! `chaosdeck list-rollback`: the journal as a tree (runs → contexts → entries, newest first),
//! with states, counts and undo summaries.

use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};
use serde_json::json;

use super::JournalLocation;
use crate::journal::runs::{self, ContextGroup, RunGroup};
use crate::journal::scan::{ContextNode, EntryNode, JournalTree};
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

/// The text tree printed by `list-rollback`: runs → contexts → entries, newest first.
pub fn render_tree(tree: &JournalTree, shown: &[(&ContextNode, Vec<&EntryNode>)]) -> String {
    let mut out = format!("{}\n", tree.root.display());
    if !tree.exists {
        out.push_str("(no journal here yet)\n");
    }
    let groups = runs::group(shown.to_vec());
    for (i, run) in groups.iter().enumerate() {
        let last_run = i + 1 == groups.len();
        out.push_str(&format!(
            "{}run {}  started {}  {} context{}  {}{}\n",
            if last_run { "└── " } else { "├── " },
            run.run_uuid,
            runs::when(run.started_ns, "%Y-%m-%d %H:%M:%S UTC"),
            run.contexts.len(),
            if run.contexts.len() == 1 { "" } else { "s" },
            run.counts.line(),
            run_flags(run)
        ));
        let run_pad = if last_run { "    " } else { "│   " };
        for (j, ctx) in run.contexts.iter().enumerate() {
            let last_ctx = j + 1 == run.contexts.len();
            render_context(&mut out, ctx, run_pad, last_ctx);
        }
    }
    for u in &tree.unknown {
        out.push_str(&format!("[unknown] {}  {}\n", u.path.display(), u.reason));
    }
    out
}

fn run_flags(run: &RunGroup<'_>) -> String {
    let mut flags = String::new();
    if run.live {
        flags.push_str("  live");
    }
    if run.counts.orphaned > 0 {
        flags.push_str(&format!("  {} orphaned", run.counts.orphaned));
    }
    flags
}

fn render_context(out: &mut String, ctx: &ContextGroup<'_>, pad: &str, last_ctx: bool) {
    out.push_str(&format!(
        "{pad}{}{}/  {}{}  {}  {}\n",
        if last_ctx { "└── " } else { "├── " },
        ctx.node.dir_name,
        ctx.scenario_type(),
        ctx.scenario_file().map(|f| format!(" ({f})")).unwrap_or_default(),
        runs::when(ctx.node.name.ts_ns, "%H:%M:%S"),
        ctx.counts.line(),
    ));
    let pad = format!("{pad}{}", if last_ctx { "    " } else { "│   " });
    let unknown = &ctx.node.unknown;
    for (j, e) in ctx.entries.iter().enumerate() {
        let last = j + 1 == ctx.entries.len() && unknown.is_empty();
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
        let name = u.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        out.push_str(&format!(
            "{pad}{}[unknown] {name}  {}\n",
            if last { "└── " } else { "├── " },
            u.reason
        ));
    }
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

fn entry_json(e: &EntryNode) -> serde_json::Value {
    json!({
        "file": e.file_name,
        "path": e.path,
        "flavor": e.name.flavor,
        "scenario_type": e.name.scenario_type,
        "scenario_file": e.scenario_file,
        "created_ns": e.name.ts_ns,
        "state": e.state,
        "orphaned": e.is_orphaned(),
        "undo": e.summary(),
        "last_error": e.last_error.as_ref().map(|r| &r.error),
    })
}

/// `contexts` is the flat list earlier versions printed (oldest first, kept for scripts);
/// `runs` is the same selection as three levels, newest first, with counts.
fn as_json(tree: &JournalTree, shown: &[(&ContextNode, Vec<&EntryNode>)]) -> serde_json::Value {
    let groups = runs::group(shown.to_vec());
    json!({
        "dir": tree.root,
        "runs": groups.iter().map(|r| json!({
            "run_uuid": r.run_uuid,
            "started_ns": r.started_ns,
            "started": runs::when(r.started_ns, "%Y-%m-%dT%H:%M:%SZ"),
            "live": r.live,
            "counts": r.counts,
            "contexts": r.contexts.iter().map(|c| json!({
                "dir": c.node.dir_name,
                "created_ns": c.node.name.ts_ns,
                "scenario_type": c.scenario_type(),
                "scenario_file": c.scenario_file(),
                "counts": c.counts,
                "entries": c.entries.iter().map(|e| entry_json(e)).collect::<Vec<_>>(),
                "unknown": c.node.unknown,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "contexts": shown.iter().map(|(c, entries)| json!({
            "dir": c.dir_name,
            "run_uuid": c.name.run_uuid,
            "created_ns": c.name.ts_ns,
            "entries": entries.iter().map(|e| entry_json(e)).collect::<Vec<_>>(),
            "unknown": c.unknown,
        })).collect::<Vec<_>>(),
        "unknown": tree.unknown,
    })
}
