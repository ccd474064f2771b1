//! `chaosdeck list-rollback`: the journal as a tree (runs → contexts → entries, newest first),
//! with states, counts and undo summaries.

use std::process::ExitCode;

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::Path;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};
use serde::Serialize;

use super::location::JournalLocation;
use crate::journal::names::Flavor;
use crate::journal::runs::{self, ContextGroup, Counts, RunGroup};
use crate::journal::scan::{ContextNode, EntryNode, EntryState, JournalTree, Unknown};
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
    let tree = scan_with(&dir, Depth::Full)
        .wrap_err_with(|| format!("cannot read the journal at {}", dir.display()))?;
    let filter = Filter { run_uuid: args.run_uuid, scenario_type: args.scenario_type, file: None };
    let shown = select(&tree, &filter);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let written = if args.json {
        write_json(&mut out, &tree, &shown)
    } else {
        out.write_all(render_tree(&tree, &shown).as_bytes())
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // The reader had enough (`| head`): what it did not read is not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).wrap_err("cannot write the listing"),
    }
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
///
/// Written line by line into one buffer (`write!`, no string per line): at 10,000 entries the
/// per-line allocations were a measurable part of the listing.
pub fn render_tree(tree: &JournalTree, shown: &[(&ContextNode, Vec<&EntryNode>)]) -> String {
    let mut out =
        String::with_capacity(256 * (1 + shown.iter().map(|(_, e)| e.len()).sum::<usize>()));
    // Writing to a String cannot fail.
    let _ = write_tree(&mut out, tree, shown);
    out
}

fn write_tree(
    out: &mut String,
    tree: &JournalTree,
    shown: &[(&ContextNode, Vec<&EntryNode>)],
) -> std::fmt::Result {
    writeln!(out, "{}", tree.root.display())?;
    if !tree.exists {
        out.push_str("(no journal here yet)\n");
    }
    let groups = runs::group(shown.to_vec());
    for (i, run) in groups.iter().enumerate() {
        let last_run = i + 1 == groups.len();
        writeln!(
            out,
            "{}run {}  started {}  {} context{}  {}{}",
            if last_run { "└── " } else { "├── " },
            run.run_uuid,
            runs::when(run.started_ns, "%Y-%m-%d %H:%M:%S UTC"),
            run.contexts.len(),
            if run.contexts.len() == 1 { "" } else { "s" },
            run.counts.line(),
            run_flags(run)
        )?;
        let run_pad = if last_run { "    " } else { "│   " };
        for (j, ctx) in run.contexts.iter().enumerate() {
            let last_ctx = j + 1 == run.contexts.len();
            write_context(out, ctx, run_pad, last_ctx)?;
        }
    }
    for u in &tree.unknown {
        writeln!(out, "[unknown] {}  {}", u.path.display(), u.reason)?;
    }
    Ok(())
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

fn write_context(
    out: &mut String,
    ctx: &ContextGroup<'_>,
    pad: &str,
    last_ctx: bool,
) -> std::fmt::Result {
    write!(
        out,
        "{pad}{}{}/  {}",
        if last_ctx { "└── " } else { "├── " },
        ctx.node.dir_name,
        ctx.scenario_type(),
    )?;
    if let Some(file) = ctx.scenario_file() {
        write!(out, " ({file})")?;
    }
    writeln!(out, "  {}  {}", runs::when(ctx.node.name.ts_ns, "%H:%M:%S"), ctx.counts.line())?;
    let pad = format!("{pad}{}", if last_ctx { "    " } else { "│   " });
    let unknown = &ctx.node.unknown;
    for (j, e) in ctx.entries.iter().enumerate() {
        let last = j + 1 == ctx.entries.len() && unknown.is_empty();
        writeln!(
            out,
            "{pad}{}[{}] {}  {}",
            if last { "└── " } else { "├── " },
            Badge(e),
            e.file_name,
            e.summary_text()
        )?;
        let rail = if last { " " } else { "│" };
        if let Some(by) = e.undone_by() {
            writeln!(out, "{pad}{rail}    undone by: {by} (the dead man's switch)")?;
        }
        if let Some(err) = &e.last_error {
            writeln!(out, "{pad}{rail}    last error: {}", err.error)?;
        }
    }
    for (j, u) in unknown.iter().enumerate() {
        let last = j + 1 == unknown.len();
        let name = u.path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        writeln!(out, "{pad}{}[unknown] {name}  {}", if last { "└── " } else { "├── " }, u.reason)?;
    }
    Ok(())
}

/// An entry's state with its flags (`pending,krkn,orphaned`), written without building a string.
struct Badge<'e>(&'e EntryNode);

impl std::fmt::Display for Badge<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = self.0;
        f.write_str(e.state.as_str())?;
        if e.name.flavor == Flavor::Krkn {
            f.write_str(",krkn")?;
        }
        if e.is_orphaned() {
            f.write_str(",orphaned")?;
        }
        Ok(())
    }
}

/// `list-rollback --json`, serialised straight to `out`: `contexts` is the flat list earlier
/// versions printed (oldest first, kept for scripts); `runs` is the same selection as three
/// levels, newest first, with counts. Every object's keys are in alphabetical order, the order
/// the listing has always had (it used to be built as a `serde_json::Value`, whose maps sort).
pub fn write_json(
    out: &mut impl Write,
    tree: &JournalTree,
    shown: &[(&ContextNode, Vec<&EntryNode>)],
) -> std::io::Result<()> {
    let groups = runs::group(shown.to_vec());
    let doc = JsonList {
        contexts: shown
            .iter()
            .map(|(c, entries)| JsonFlatContext {
                created_ns: c.name.ts_ns,
                dir: &c.dir_name,
                entries: entries.iter().map(|e| JsonEntry::of(e)).collect(),
                run_uuid: &c.name.run_uuid,
                unknown: &c.unknown,
            })
            .collect(),
        dir: &tree.root,
        runs: groups
            .iter()
            .map(|r| JsonRun {
                contexts: r
                    .contexts
                    .iter()
                    .map(|c| JsonRunContext {
                        counts: SortedCounts(&c.counts),
                        created_ns: c.node.name.ts_ns,
                        dir: &c.node.dir_name,
                        entries: c.entries.iter().map(|e| JsonEntry::of(e)).collect(),
                        scenario_file: c.scenario_file(),
                        scenario_type: c.scenario_type(),
                        unknown: &c.node.unknown,
                    })
                    .collect(),
                counts: SortedCounts(&r.counts),
                live: r.live,
                run_uuid: r.run_uuid,
                started: runs::when(r.started_ns, "%Y-%m-%dT%H:%M:%SZ"),
                started_ns: r.started_ns,
            })
            .collect(),
        unknown: &tree.unknown,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct JsonList<'t> {
    contexts: Vec<JsonFlatContext<'t>>,
    dir: &'t Path,
    runs: Vec<JsonRun<'t>>,
    unknown: &'t [Unknown],
}

#[derive(Serialize)]
struct JsonFlatContext<'t> {
    created_ns: u64,
    dir: &'t str,
    entries: Vec<JsonEntry<'t>>,
    run_uuid: &'t str,
    unknown: &'t [Unknown],
}

#[derive(Serialize)]
struct JsonRun<'t> {
    contexts: Vec<JsonRunContext<'t>>,
    counts: SortedCounts<'t>,
    live: bool,
    run_uuid: &'t str,
    started: String,
    started_ns: u64,
}

#[derive(Serialize)]
struct JsonRunContext<'t> {
    counts: SortedCounts<'t>,
    created_ns: u64,
    dir: &'t str,
    entries: Vec<JsonEntry<'t>>,
    scenario_file: Option<&'t str>,
    scenario_type: String,
    unknown: &'t [Unknown],
}

#[derive(Serialize)]
struct JsonEntry<'t> {
    /// The cluster the entry's change was made on (chaosdeck entries; Krkn files say none).
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'t crate::refs::ClusterIdentity>,
    created_ns: u64,
    file: &'t str,
    flavor: Flavor,
    last_error: Option<&'t str>,
    orphaned: bool,
    path: &'t Path,
    scenario_file: Option<&'t str>,
    scenario_type: &'t str,
    state: EntryState,
    undo: std::borrow::Cow<'t, str>,
    /// Who undid it and when, if not this machine's chaosdeck (the dead man's switch).
    #[serde(skip_serializing_if = "Option::is_none")]
    undone_by: Option<String>,
}

impl<'t> JsonEntry<'t> {
    fn of(e: &'t EntryNode) -> Self {
        JsonEntry {
            cluster: e.cluster(),
            created_ns: e.name.ts_ns,
            file: &e.file_name,
            flavor: e.name.flavor,
            last_error: e.last_error.as_ref().map(|r| r.error.as_str()),
            orphaned: e.is_orphaned(),
            path: &e.path,
            scenario_file: e.scenario_file.as_deref(),
            scenario_type: &e.name.scenario_type,
            state: e.state,
            undo: e.summary_text(),
            undone_by: e.undone_by(),
        }
    }
}

/// [`Counts`] with its keys in alphabetical order (see [`write_json`]).
struct SortedCounts<'t>(&'t Counts);

impl Serialize for SortedCounts<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let c = self.0;
        let mut map = s.serialize_map(Some(6))?;
        map.serialize_entry("executed", &c.executed)?;
        map.serialize_entry("failed", &c.failed)?;
        map.serialize_entry("invalid", &c.invalid)?;
        map.serialize_entry("not_applied", &c.not_applied)?;
        map.serialize_entry("orphaned", &c.orphaned)?;
        map.serialize_entry("pending", &c.pending)?;
        map.end()
    }
}
