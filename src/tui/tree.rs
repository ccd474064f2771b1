//! The Journal panel's tree as data: which contexts and entries the filter keeps, and the
//! run → context → entry items the tree widget draws (built once per scan or filter change,
//! never per frame; the widget's state is in `tree_view`).

use ratatui::text::{Line, Span};

use crate::journal::names::Flavor;
use crate::journal::runs::{self, ContextGroup, Counts, RunGroup};
use crate::journal::scan::{ContextNode, EntryBody, EntryNode, EntryState, JournalTree};

use super::theme::Theme;
use super::tree_view::{Item, Names};

/// What the filter keeps, at every level: a run whose uuid matches keeps all its contexts, a
/// context whose scenario type, file or directory matches keeps all its entries, otherwise only
/// the entries that match (by scenario type, file name or state badge) are kept. An empty
/// filter keeps everything, empty contexts included. `filter` is lower-case.
pub fn shown<'t>(
    tree: &'t JournalTree,
    filter: &str,
) -> Vec<(&'t ContextNode, Vec<&'t EntryNode>)> {
    tree.contexts
        .iter()
        .filter_map(|ctx| {
            let whole = filter.is_empty()
                || ctx.name.run_uuid.to_lowercase().contains(filter)
                || context_matches(ctx, filter);
            let entries: Vec<&EntryNode> = if whole {
                ctx.entries.iter().collect()
            } else {
                ctx.entries.iter().filter(|e| entry_matches(e, filter)).collect()
            };
            (whole || !entries.is_empty()).then_some((ctx, entries))
        })
        .collect()
}

fn context_matches(ctx: &ContextNode, filter: &str) -> bool {
    ctx.dir_name.to_lowercase().contains(filter)
        || ctx.entries.first().is_some_and(|e| {
            e.name.scenario_type.to_lowercase().contains(filter)
                || e.scenario_file.as_ref().is_some_and(|f| f.to_lowercase().contains(filter))
        })
}

fn entry_matches(e: &EntryNode, filter: &str) -> bool {
    e.name.scenario_type.to_lowercase().contains(filter)
        || e.file_name.to_lowercase().contains(filter)
        || badge(e).contains(filter)
}

/// The run this process drives, and its config file when known.
#[derive(Debug, Clone, Copy)]
pub struct Current<'a> {
    pub run: &'a str,
    pub config: Option<&'a str>,
}

/// The tree items: runs (identified by uuid) → contexts (by directory) → entries (by file).
///
/// Names are unique among siblings (a run's uuid, a directory's name, a file's name), so
/// `TreeItem::new` refusing duplicates cannot drop an item.
pub fn items(
    runs: &[RunGroup<'_>],
    current: Option<Current<'_>>,
    theme: Theme,
    names: &mut Names,
) -> Vec<Item> {
    runs.iter()
        .filter_map(|run| {
            let this = current.filter(|c| c.run == run.run_uuid);
            let contexts: Vec<Item> = run
                .contexts
                .iter()
                .filter_map(|ctx| {
                    let entries = ctx
                        .entries
                        .iter()
                        .map(|e| Item::new_leaf(names.id(&e.file_name), entry_line(e, theme)))
                        .collect();
                    let id = names.id(&ctx.node.dir_name);
                    Item::new(id, context_line(ctx, theme), entries).ok()
                })
                .collect();
            Item::new(names.id(run.run_uuid), run_line(run, this, theme), contexts).ok()
        })
        .collect()
}

/// The state word shown for an entry.
pub fn badge(e: &EntryNode) -> String {
    let mut b = e.state.as_str().to_string();
    if e.is_orphaned() {
        b = "orphaned".into();
    }
    if e.name.flavor == Flavor::Krkn {
        b.push_str(" krkn");
    }
    b
}

fn counts_span(counts: &Counts, theme: Theme) -> Span<'static> {
    let style = if counts.failed + counts.invalid > 0 {
        theme.bad()
    } else if counts.outstanding() > 0 {
        theme.warn()
    } else {
        theme.dim()
    };
    Span::styled(counts.line(), style)
}

fn run_line(run: &RunGroup<'_>, this: Option<Current<'_>>, theme: Theme) -> Line<'static> {
    let short: String = run.run_uuid.chars().take(8).collect();
    let n = run.contexts.len();
    let mut spans = vec![
        Span::styled(
            format!("run {short}"),
            if this.is_some() { theme.accent() } else { ratatui::style::Style::default() },
        ),
        Span::styled(format!("  {}", runs::when(run.started_ns, "%Y-%m-%d %H:%M")), theme.dim()),
    ];
    if let Some(config) = this.and_then(|c| c.config) {
        let name = std::path::Path::new(config)
            .file_name()
            .map_or_else(|| config.to_string(), |n| n.to_string_lossy().into_owned());
        spans.push(Span::raw(format!("  {name}")));
    }
    spans.push(Span::raw(format!("  {n} ctx  ")));
    spans.push(counts_span(&run.counts, theme));
    if this.is_some() {
        spans.push(Span::styled("  (this run)", theme.accent()));
    } else if run.live {
        spans.push(Span::styled("  live", theme.accent()));
    }
    if run.counts.orphaned > 0 {
        spans.push(Span::styled(format!("  {} orphaned", run.counts.orphaned), theme.warn()));
    }
    Line::from(spans)
}

fn context_line(ctx: &ContextGroup<'_>, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(ctx.scenario_type())];
    if let Some(file) = ctx.scenario_file() {
        let name = std::path::Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.to_string());
        spans.push(Span::styled(format!(" ({name})"), theme.dim()));
    }
    spans.push(Span::styled(
        format!("  {}  ", runs::when(ctx.node.name.ts_ns, "%H:%M:%S")),
        theme.dim(),
    ));
    spans.push(counts_span(&ctx.counts, theme));
    Line::from(spans)
}

fn entry_line(e: &EntryNode, theme: Theme) -> Line<'static> {
    let style = match e.state {
        EntryState::Executed | EntryState::NotApplied => theme.ok(),
        EntryState::Failed | EntryState::Invalid => theme.bad(),
        _ => theme.warn(),
    };
    // The undo target right after the state: the scenario type is on the context's line, and
    // a narrow panel must still show what the entry undoes.
    // A Krkn file's plan first too (its callable is in the inspector; the badge says krkn).
    let what = match &e.body {
        EntryBody::Krkn(k) => k.plan.summary(),
        _ => e.summary(),
    };
    Line::from(vec![Span::styled(format!("[{}] ", badge(e)), style), Span::raw(what)])
}
