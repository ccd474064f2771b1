//! `chaosdeck execute-rollback`: undo pending entries, newest first.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr, bail};

use super::location::JournalLocation;
use super::target::ClusterArgs;
use crate::config::Config;
use crate::exit::BAD_INPUT as EXIT_BAD_INPUT;
use crate::journal::Filter;
use crate::journal::executor::{self, EntryOutcome, ExecuteOptions, Tally};
use crate::journal::rollback::{self, Event as RollbackEvent, How, Selection};
use crate::journal::scan::EntryBody;

#[derive(Args, Debug, Default)]
pub struct ExecuteArgs {
    #[command(flatten)]
    pub location: JournalLocation,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Only this run (full uuid or a unique prefix).
    #[arg(short = 'r', long = "run_uuid", alias = "run-uuid")]
    pub run_uuid: Option<String>,
    /// Only this scenario type.
    #[arg(short = 's', long = "scenario_type", alias = "scenario-type")]
    pub scenario_type: Option<String>,
    /// Only this entry file.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Print what would be undone; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Undo entries in files or directories another user owns or may write (refused
    /// otherwise, as ssh refuses a key file others can write).
    #[arg(long)]
    pub allow_foreign_journal: bool,
    /// Undos in flight at once; entries on the same object (or its namespace or owner) always
    /// keep newest-first order. 1 runs them one by one.
    #[arg(long, value_name = "N", default_value_t = executor::DEFAULT_PARALLEL as u16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,
}

pub async fn run(args: ExecuteArgs) -> Result<ExitCode> {
    // `--file path/to/entry.yaml` alone is enough: the journal is the file's grandparent.
    let dir = match (&args.file, &args.location.dir, &args.location.config) {
        (Some(file), None, None) if file.components().count() > 2 => {
            file.parent().and_then(|ctx| ctx.parent()).map(PathBuf::from).unwrap_or_default()
        }
        // A bare file name, as an entry's own `# Or:` line gives it: whichever default
        // journal holds it.
        (Some(file), None, None) if file.components().count() == 1 => journal_holding(file)?,
        _ => args.location.resolve()?,
    };
    let config = args.location.config.as_deref().map(Config::load).transpose()?;
    let filter = Filter {
        run_uuid: args.run_uuid.clone(),
        scenario_type: args.scenario_type.clone(),
        file: args.file.as_ref().map(|f| f.to_string_lossy().into_owned()),
    };
    let selected = rollback::select(&dir, Selection::Filter(filter.clone()))
        .wrap_err_with(|| format!("cannot read the journal at {}", dir.display()))?;
    if filter.run_uuid.is_some() {
        let runs = filter.matching_runs(selected.tree());
        if runs.len() > 1 {
            bail!(
                "run uuid prefix {:?} is ambiguous: {}",
                filter.run_uuid.unwrap_or_default(),
                runs.join(", ")
            );
        }
    }
    let entries = selected.entries();
    if entries.is_empty() {
        if let Some(file) = &args.file {
            crate::out::err_line(format!(
                "error: {} is not a pending entry of {}",
                file.display(),
                dir.display()
            ));
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
        crate::out::line(format!("nothing pending in {}", dir.display()));
        return Ok(ExitCode::SUCCESS);
    }
    // An entry is a list of requests sent with your credentials: one someone else could have
    // written is refused before anything happens, unless you say otherwise.
    if !args.allow_foreign_journal {
        let foreign: Vec<String> = entries.iter().filter_map(|n| executor::foreign(n)).collect();
        if !foreign.is_empty() {
            for why in &foreign {
                crate::out::err_line(format!("error: {why}"));
            }
            crate::out::err_line("nothing was executed");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    }
    if args.dry_run {
        // No cluster is needed to say what would be done.
        print_dry_run(&entries);
        let invalid = entries.iter().filter(|n| matches!(n.body, EntryBody::Invalid(_))).count();
        return Ok(if invalid > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS });
    }
    let how = How {
        reason: "execute-rollback".to_string(),
        audit: None,
        options: ExecuteOptions {
            parallel: usize::from(args.parallel),
            foreign_ok: args.allow_foreign_journal,
            ..ExecuteOptions::default()
        },
    };
    let needing_cluster = entries.iter().filter(|n| executor::needs_cluster(n)).count();
    // Only entries that send requests need the cluster; invalid files and Krkn files left to
    // Krkn are reported either way, and never hide behind a connection error.
    let connected = if needing_cluster == 0 {
        Ok(None)
    } else {
        args.cluster.connect_ops(config.as_ref()).await.map(Some)
    };
    // The exit code when the cluster could not be reached, whatever the entries say.
    let (ops, unreachable_code) = match &connected {
        Ok(Some((ops, target))) => {
            crate::out::line(format!(
                "undoing {needing_cluster} entr{} on {} ({}), newest first",
                if needing_cluster == 1 { "y" } else { "ies" },
                target.context,
                target.server
            ));
            (Ok(ops), None)
        }
        Ok(None) => (Err("no entry needs the cluster"), None),
        Err(e) => {
            crate::out::err_line(format!(
                "error: {e:#}\n{needing_cluster} entr{} left pending",
                if needing_cluster == 1 { "y" } else { "ies" }
            ));
            // Entries are left pending (1), unless the command line itself was wrong (2).
            let named_wrong = e.downcast_ref::<super::target::NotTheNamedCluster>().is_some();
            let code = if named_wrong { EXIT_BAD_INPUT } else { 1 };
            (Err("not attempted: the cluster could not be reached"), Some(ExitCode::from(code)))
        }
    };
    let mut progress: Option<Progress> = None;
    let tally = rollback::undo(ops, &selected, &how, |event| match event {
        RollbackEvent::Started { entries, .. } => progress = Some(Progress::new(entries)),
        RollbackEvent::Entry(out) => match &progress {
            Some(p) => p.report(&out),
            None => print_outcome(&out),
        },
        RollbackEvent::Note(note) => crate::out::err_line(note),
        RollbackEvent::Finished(_) => {
            if let Some(p) = &progress {
                p.finish();
            }
        }
    })
    .await;
    let code = summarize(&tally, args.file.is_some());
    Ok(unreachable_code.unwrap_or(code))
}

/// The default journal (chaosdeck's or the sandbox demo's) that holds an entry named `file`;
/// chaosdeck's when neither does (the caller then says it is not pending there).
fn journal_holding(file: &std::path::Path) -> Result<PathBuf> {
    let name = file.to_string_lossy();
    let holding: Vec<PathBuf> =
        [crate::config::default_dir(), crate::config::sandbox_default_dir()]
            .into_iter()
            .filter(|dir| {
                crate::journal::scan_with(dir, crate::journal::Depth::Headers)
                    .is_ok_and(|tree| tree.entries().any(|(_, e)| e.file_name == name))
            })
            .collect();
    match holding.as_slice() {
        [] => Ok(crate::config::default_dir()),
        [one] => Ok(one.clone()),
        _ => bail!(
            "{name} is in both {} and {}: pass --dir to say which",
            holding[0].display(),
            holding[1].display()
        ),
    }
}

fn print_dry_run(selected: &[&crate::journal::scan::EntryNode]) {
    crate::out::line(format!(
        "dry run: {} entr{} would be undone, newest first",
        selected.len(),
        if selected.len() == 1 { "y" } else { "ies" }
    ));
    for node in selected {
        crate::out::line(format!("{}  {}", node.file_name, node.summary()));
        let context = match &node.body {
            crate::journal::scan::EntryBody::Chaosdeck(entry) => {
                entry.cluster.as_ref().map(|c| c.context.as_str())
            }
            _ => None,
        };
        let actions = match &node.body {
            crate::journal::scan::EntryBody::Chaosdeck(entry) => entry.undo.as_slice(),
            crate::journal::scan::EntryBody::Krkn(k) => match &k.plan {
                crate::journal::krkn::Plan::Executable { actions, .. } => actions.as_slice(),
                crate::journal::krkn::Plan::NotExecutable { .. } => {
                    crate::out::line(
                        "    would be skipped: left to Krkn (`chaosdeck show` says how)",
                    );
                    &[]
                }
            },
            crate::journal::scan::EntryBody::Invalid(reason) => {
                crate::out::line(format!("    would NOT be executed: invalid entry: {reason}"));
                &[]
            }
            _ => &[],
        };
        for action in actions {
            for line in crate::journal::kubectl::commands(action, context) {
                crate::out::line(format!("    {line}"));
            }
        }
    }
}

/// What an operator watches while a rollback runs: on a terminal, a bar with done / failed /
/// remaining, the rate and the time left, the outcome lines scrolling above it; piped, the
/// outcome lines only (a log stays a log).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    counts: std::cell::Cell<(usize, usize)>,
    total: usize,
}

impl Progress {
    fn new(total: usize) -> Progress {
        use std::io::IsTerminal;
        let on_terminal = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let bar = on_terminal.then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            let style = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {pos}/{len} {msg} {per_sec} ETA {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(progress_message(0, 0, total));
            bar
        });
        Progress { bar, counts: std::cell::Cell::new((0, 0)), total }
    }

    fn report(&self, out: &EntryOutcome) {
        let (mut done, mut failed) = self.counts.get();
        done += 1;
        if out.outcome.left_outstanding() {
            failed += 1;
        }
        self.counts.set((done, failed));
        match &self.bar {
            Some(bar) => {
                bar.suspend(|| print_outcome(out));
                bar.set_message(progress_message(done, failed, self.total));
                bar.inc(1);
            }
            None => print_outcome(out),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// `12 done, 1 failed, 87 remaining`: failed counts every entry left outstanding.
fn progress_message(done: usize, failed: usize, total: usize) -> String {
    format!("done, {failed} failed, {} remaining", total.saturating_sub(done))
}

/// An outcome as the CLI prints it: its head, then each reason indented under the file name.
fn print_outcome(out: &EntryOutcome) {
    let (head, why) = out.lines();
    crate::out::line(head);
    for line in why {
        crate::out::line(format!("          {line}"));
    }
}

/// 0 when everything requested was undone, 1 when any entry could not be (failed, invalid,
/// not attempted, or an explicitly requested entry that cannot be executed here).
fn summarize(tally: &Tally, explicit: bool) -> ExitCode {
    crate::out::line(tally.line());
    if tally.failed > 0 {
        crate::out::line(
            "failed entries stay pending with their error recorded; fix the cause and run execute-rollback again",
        );
    }
    if tally.invalid > 0 {
        crate::out::line(
            "invalid entries stay pending: their change may still be in the cluster and chaosdeck cannot tell what to undo",
        );
    }
    if tally.not_attempted > 0 {
        crate::out::line(
            "entries not attempted stay pending; run execute-rollback again once the cluster is reachable",
        );
    }
    if tally.blocked > 0 {
        crate::out::line(
            "blocked entries stay pending: each runs once the newer entry named on its line is undone",
        );
    }
    if tally.refused > 0 {
        crate::out::line(
            "refused entries stay pending: each line says why (made on another cluster, or an \
             undo that is not the inverse of a change chaos makes)",
        );
    }
    if tally.not_undone() > 0 || (explicit && tally.skipped_pending > 0) {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
