//! `chaosdeck run`: load the config and scenario files, pick the cluster (with the safety
//! rails), run the engine and print its events; exit 0 passed, 1 failed, 2 bad input,
//! 128+N on signal N.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};

use super::embedded::{ClusterError, cluster_of, is_sandbox};
use crate::cluster::{ClusterOps, ClusterTarget};
use crate::config::Config;
use crate::engine::{self, EngineEvent, EngineSetup, ScenarioResult};
use crate::exit::BAD_INPUT as EXIT_BAD_INPUT;
use crate::journal::Journal;
use crate::observe;
use crate::tui::Session;
use crate::tui::app::{App, Header, Mode};
use crate::tui::keys::KeyMap;
use crate::tui::theme::Theme;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The Krkn-style config file.
    #[arg(short = 'c', long, default_value = "config/config.yaml")]
    pub config: PathBuf,
    /// Plain log lines instead of the terminal UI (also when stdout is not a terminal).
    #[arg(long)]
    pub headless: bool,
    /// Resolve targets and print every change and entry that would be made; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Journal directory (overrides kraken.rollback_versions_directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Kubeconfig file (overrides the config; implies a real cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,
    /// Connect as the pod this runs in (its ServiceAccount), ignoring kraken.kubeconfig_path:
    /// how a game day runs as a Job (`chaosdeck job`). The context is called `in-cluster`.
    #[arg(long, conflicts_with_all = ["kubeconfig", "context"])]
    pub in_cluster: bool,
    /// Confirms a non-sandbox cluster for scripts: must equal the context name.
    #[arg(long, value_name = "CONTEXT")]
    pub yes_i_mean_it: Option<String>,
    /// Serve Prometheus metrics on HOST:PORT at /metrics (overrides kraken.metrics_addr).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// Write a JSON run report here when the run ends.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Write a JUnit XML report (one testcase per scenario file execution) here.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Run a Krkn config whose list has scenario types chaosdeck does not support: those
    /// types are skipped, each named, instead of refusing the whole config.
    #[arg(long)]
    pub skip_unsupported: bool,
}

impl Default for RunArgs {
    fn default() -> Self {
        RunArgs {
            config: PathBuf::from("config/config.yaml"),
            headless: false,
            dry_run: false,
            dir: None,
            kubeconfig: None,
            context: None,
            in_cluster: false,
            yes_i_mean_it: None,
            metrics_addr: None,
            report: None,
            junit: None,
            skip_unsupported: false,
        }
    }
}

pub async fn run(args: RunArgs) -> Result<ExitCode> {
    let config = Config::load(&args.config)?;
    if let Some(note) = config.ignored_note() {
        crate::out::err_line(format!("note: {note}"));
    }
    let plan = match engine::load_plan_skipping(&config, args.skip_unsupported) {
        Ok((plan, skipped)) => {
            for line in skipped {
                crate::out::err_line(format!(
                    "note: skipped (--skip-unsupported, not supported by chaosdeck): {line}"
                ));
            }
            plan
        }
        Err(errors) => {
            for e in &errors {
                crate::out::err_line(format!("error: {e}"));
            }
            crate::out::err_line(format!(
                "nothing was run: fix the {} error(s) above",
                errors.len()
            ));
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    for file in &plan {
        let ignored = file.plan.ignored_keys();
        if !ignored.is_empty() {
            crate::out::err_line(format!(
                "note: {}: Krkn keys chaosdeck does not use, ignored: {}",
                file.path.display(),
                ignored.join(", ")
            ));
        }
    }
    if plan.is_empty() {
        crate::out::err_line(format!(
            "error: {}: kraken.chaos_scenarios lists no scenario file",
            config.path.display()
        ));
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    // A bad keys.yaml is bad input like a bad config: refused before anything starts.
    let keys = if args.headless { None } else { Some(KeyMap::from_config_dir()?) };

    // The sandbox, when used, lives as long as this run.
    let found = if args.in_cluster {
        crate::cluster::connect_in_cluster()
            .await
            .map(|(client, target)| (None, client, target))
            .map_err(ClusterError::Connect)
    } else {
        cluster_of(&config, args.kubeconfig.as_deref(), args.context.as_deref()).await
    };
    let (sandbox, client, target) = match found {
        Ok(found) => found,
        Err(ClusterError::Sandbox(e)) => return Err(e),
        Err(ClusterError::Connect(e)) => {
            crate::out::err_line(format!("error: {e:#}"));
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    crate::out::err_line(format!("cluster: context {} at {}", target.context, target.server));
    // A dry run asks too: the same command line minus `--dry-run` is one edit away, and the
    // habit of typing the context name must not depend on which of the two was typed.
    if !is_sandbox(&target) && !confirmed(&target, args.yes_i_mean_it.as_deref())? {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    // Second wall behind the scenario context's dry-run branch: this client cannot send a
    // change at all, whichever code holds it (scenarios, executor, the TUI's keys).
    let client = if args.dry_run { crate::cluster::read_only(client) } else { client };

    let dir = match (&args.dir, &config.rollback_versions_directory, &args.kubeconfig) {
        (Some(dir), _, _) => dir.clone(),
        // A real cluster named on the command line: not the sandbox's directory.
        (None, None, Some(_)) => crate::config::default_dir(),
        _ => config.journal_dir(),
    };
    let identity = crate::cluster::identify(&client, &target).await;
    // Before the journal is opened and before any change: every permission the scenarios
    // declared (forward and undo) must be held, or nothing runs.
    // A dry run sends no POST at all, not even this question: it only says so.
    let preflight = if args.dry_run {
        crate::out::err_line(format!(
            "note: dry run: permissions are not checked (`chaosdeck check-permissions -c {}` \
             asks the API server)",
            args.config.display()
        ));
        Ok(None)
    } else {
        super::permissions::preflight(&client, &target, &plan, &config).await
    };
    match preflight {
        Ok(None) => {}
        Ok(Some(missing)) => {
            crate::out::err_line(format!(
                "error: the credentials for context {} lack {} permission(s) this run needs \
                 (see deploy/rbac.yaml); nothing was changed and no journal entry was written:",
                target.context,
                missing.len()
            ));
            for line in &missing {
                crate::out::err_line(line);
            }
            if let Some(embedded) = sandbox {
                embedded.stop().await;
            }
            return Ok(ExitCode::from(super::permissions::EXIT_MISSING));
        }
        Err(e) => {
            if let Some(embedded) = sandbox {
                embedded.stop().await;
            }
            return Err(e);
        }
    }
    let journal = Journal::open(&dir)?.for_cluster(identity.clone());
    let run_uuid = uuid::Uuid::new_v4().to_string();
    let (_live, others) = live_runs(&journal, &run_uuid, &target, args.dry_run)?;
    // The dead man's switch: the Lease first, so that no change is made that the watchdog
    // could not undo; every later change goes through the fenced client.
    let switch = &config.dead_man_switch;
    let (journal, client, dead_man) = if switch.enabled && !args.dry_run {
        match crate::deadman::arm(client.clone(), switch, &run_uuid).await {
            Ok((run, fenced)) => {
                crate::out::err_line(format!(
                    "dead man's switch: Lease {}/{} held (lease_duration {} s, renew {} s); \
                     every entry is mirrored into {}. It protects this run only if a watchdog \
                     runs in the cluster (deploy/watchdog.yaml); chaosdeck cannot see one from \
                     here: `kubectl -n {} get deploy chaosdeck-watchdog` can",
                    switch.namespace,
                    run.keeper.name(),
                    switch.lease_duration_secs,
                    switch.renew_secs,
                    switch.namespace,
                    switch.namespace
                ));
                (journal.mirrored_in(&switch.namespace), fenced, Some(run))
            }
            Err(e) => {
                crate::out::err_line(format!(
                    "error: {e}\nnothing was changed and no journal entry was written"
                ));
                if let Some(embedded) = sandbox {
                    embedded.stop().await;
                }
                return Ok(ExitCode::from(crate::exit::ENVIRONMENT));
            }
        }
    } else {
        if switch.enabled {
            crate::out::err_line(
                "note: dry run: the dead man's switch is not armed (nothing is changed)",
            );
        }
        (journal, client, None)
    };
    let use_tui =
        !args.headless && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let header = Header {
        context: target.context.clone(),
        server: target.server.clone(),
        is_sandbox: is_sandbox(&target),
        run_uuid: Some(run_uuid.clone()),
        auto_rollback: config.auto_rollback,
        iterations: config.tunings.iterations,
        config: Some(args.config.display().to_string()),
        dry_run: args.dry_run,
        other_live_runs: others,
        attached: None,
    };
    let ops = Arc::new(
        ClusterOps::identified(client, identity.clone(), false).with_protected(config.protected()),
    );
    let journal_dir = journal.root().to_path_buf();
    // Bound before the engine starts: a taken port must fail the run before any chaos.
    let observe = observe::Prepared::bind(observe::ObserveOptions {
        metrics_addr: args.metrics_addr.clone().or_else(|| config.metrics_addr.clone()),
        report: args.report.clone(),
        junit: args.junit.clone(),
        status: config.status_server.publish.then(|| config.status_server.clone()),
        config_path: config.path.clone(),
        cluster: Some(identity.clone()),
        progress: dead_man.as_ref().map(|d| d.progress.clone()),
    })
    .await;
    let observe = match observe {
        Ok(observe) => observe,
        Err(e) => {
            crate::out::err_line(format!("error: {e:#}"));
            // A taken port is the machine's state, not a mistake in the files.
            return Ok(ExitCode::from(super::failure::exit_code_of(&e)));
        }
    };
    // Before the engine starts, so a probe client that cannot be built fails the run first.
    let health = super::health_setup::setup(
        &config,
        &plan,
        ops.clone(),
        &target,
        args.kubeconfig.as_deref(),
        args.context.as_deref(),
        args.in_cluster,
    )
    .await?;
    let health = crate::health::start(health).await;
    let start_paused = config.status_server.publish
        && config.status_server.signal_state.eq_ignore_ascii_case("PAUSE");
    let setup = EngineSetup {
        config,
        run_uuid: run_uuid.clone(),
        journal,
        ops: ops.clone(),
        plan,
        dry_run: args.dry_run,
        start_paused,
        dead_man,
    };
    let handle = engine::spawn(setup);
    // Output piped into `grep -m1` or `head`: when the reader goes, the run stops and rolls
    // back as for SIGTERM, with the exit code of SIGPIPE, instead of aborting mid-chaos.
    {
        let commands = handle.commands.clone();
        crate::out::on_closed(move || {
            let _ = commands.send(engine::EngineCommand::Signal(libc::SIGPIPE));
        });
        crate::out::watch();
    }
    if let Err(e) = engine::signals::forward(handle.commands.clone()) {
        crate::out::err_line(format!("warning: cannot install signal handlers: {e}"));
    }
    let events = engine::health_feed::attach(health, handle.events, handle.commands.clone());
    let (mut events, observer) = observe.attach(&run_uuid, events, handle.commands.clone())?;
    if use_tui {
        let mut app = App::new(Mode::Run, header, Theme::from_env());
        for line in app.header.other_live_runs.clone() {
            app.push_log(format!("WARNING: {line}; `!` undoes its pending entries too"));
        }
        if let Some(keys) = keys {
            app.keys = keys;
        }
        let engine = Some((events, handle.commands.clone()));
        let session = Session {
            app,
            journal: journal_dir.clone(),
            ops: Some(ops),
            engine,
            feed: None,
            before_emergency: None,
        };
        let app = crate::tui::run(session).await.wrap_err("the terminal UI failed")?;
        if !app.run_finished {
            if let Some(embedded) = sandbox {
                // The sandbox ends with this process: its entries would be pending forever
                // against a cluster that no longer exists.
                embedded.stop().await;
                let marked = retire_with_the_sandbox(&journal_dir, &run_uuid);
                crate::out::err_line(format!(
                    "left the run; the embedded sandbox ended with it, so its {} are marked \
                     executed (audit-logged): nothing is left to undo",
                    crate::tui::update::entries(marked)
                ));
                return Ok(ExitCode::from(1));
            }
            crate::out::err_line(format!(
                "left a live run: its entries stay pending; see `chaosdeck list-rollback --dir {}`",
                journal_dir.display()
            ));
            return Ok(ExitCode::from(1));
        }
    } else {
        let mut health = super::health_setup::Transitions::default();
        while let Some(event) = events.recv().await {
            if !health.is_repeat(&event) {
                print_event(&event, args.dry_run);
            }
            if matches!(event, EngineEvent::RunFinished { .. }) {
                break;
            }
        }
    }
    let summary = handle.task.await.wrap_err("the engine task failed")?;
    if let Err(e) = observer.finish(&summary) {
        crate::out::err_line(format!("error: {e:#}"));
    }
    let dry = if args.dry_run { " (dry run: nothing was changed)" } else { "" };
    crate::out::line(format!("run {} finished{dry}", summary.run_uuid));
    for (scenario_type, path, result) in &summary.results {
        crate::out::line(format!(
            "  {:<10} {scenario_type} {}",
            result_word(result, args.dry_run),
            path.display()
        ));
    }
    if summary.outstanding.is_empty() {
        crate::out::line(format!(
            "nothing of this run is pending in {}",
            summary.journal.display()
        ));
    } else {
        crate::out::line(format!(
            "{} entr{} of this run still pending:",
            summary.outstanding.len(),
            if summary.outstanding.len() == 1 { "y" } else { "ies" }
        ));
        for p in &summary.outstanding {
            crate::out::line(format!("  {}", p.display()));
        }
        crate::out::line(format!(
            "undo them with: chaosdeck execute-rollback --dir {} -r {}",
            summary.journal.display(),
            summary.run_uuid
        ));
    }
    if let Some(embedded) = sandbox {
        embedded.stop().await;
    }
    Ok(ExitCode::from(summary.exit_code))
}

/// Marks the pending entries of `run_uuid` executed: their cluster, the embedded sandbox, is
/// gone. Returns how many were marked.
fn retire_with_the_sandbox(journal: &Path, run_uuid: &str) -> usize {
    let reason = "the embedded sandbox ended with its process; nothing is left to undo";
    crate::journal::rollback::pending_of_run(journal, run_uuid)
        .into_iter()
        .filter(|path| {
            crate::journal::transitions::mark_by_hand(
                path,
                reason,
                crate::journal::lock::DEFAULT_PATIENCE,
            )
            .is_ok()
        })
        .count()
}

/// Registers this run as live and names the other live runs on the same journal or cluster,
/// before anything starts: `!` and `execute-rollback` would undo their entries too.
fn live_runs(
    journal: &Journal,
    run_uuid: &str,
    target: &ClusterTarget,
    dry_run: bool,
) -> Result<(Option<crate::journal::live::LiveMarkers>, Vec<String>)> {
    use crate::journal::live;
    let on_journal = live::journal_markers(journal.root());
    let on_machine = crate::config::live_runs_dir();
    let mut lines = Vec::new();
    for run in live::others(&on_journal, run_uuid) {
        lines.push(format!("another chaosdeck run is live on this journal: {}", run.describe()));
    }
    let server = crate::refs::normalized_server(&target.server);
    for run in live::others(&on_machine, run_uuid) {
        let same_journal = Path::new(&run.journal) == journal.root();
        if !same_journal && crate::refs::normalized_server(&run.server) == server {
            lines
                .push(format!("another chaosdeck run is live on this cluster: {}", run.describe()));
        }
    }
    for line in &lines {
        crate::out::err_line(format!("warning: {line}"));
    }
    if !lines.is_empty() {
        crate::out::err_line(
            "warning: `!` (the emergency rollback) undoes every pending entry of this journal, \
             the other run's included, by design",
        );
    }
    let me = live::LiveRun {
        run_uuid: run_uuid.to_string(),
        pid: std::process::id(),
        started: jiff::Timestamp::now().to_string(),
        context: target.context.clone(),
        server: target.server.clone(),
        journal: journal.root().display().to_string(),
    };
    // A dry run changes nothing and writes no entry: nobody needs to hear of it.
    let markers =
        if dry_run { None } else { Some(live::register(&[on_journal, on_machine], &me)?) };
    Ok((markers, lines))
}

/// A real cluster must be named explicitly: typed interactively, or `--yes-i-mean-it <context>`.
pub(super) fn confirmed(target: &ClusterTarget, flag: Option<&str>) -> Result<bool> {
    if let Some(flag) = flag {
        if flag == target.context {
            return Ok(true);
        }
        crate::out::err_line(format!(
            "error: --yes-i-mean-it {flag:?} does not match the context {:?}",
            target.context
        ));
        return Ok(false);
    }
    if !std::io::stdin().is_terminal() {
        crate::out::err_line(format!(
            "error: {} is not the sandbox; pass --yes-i-mean-it {} to run chaos against it",
            target.server, target.context
        ));
        return Ok(false);
    }
    eprint!(
        "This will run chaos against {} ({}). Type the context name to continue: ",
        target.context, target.server
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() == target.context {
        Ok(true)
    } else {
        crate::out::err_line("not confirmed; nothing was run");
        Ok(false)
    }
}

/// A rollback's event as a headless line (the service's own wording).
fn rollback_line(event: &crate::journal::rollback::Event) -> String {
    use crate::journal::rollback::Event;
    match event {
        Event::Started { reason, entries } => {
            format!("rollback of {}: {reason}", crate::tui::update::entries(*entries))
        }
        Event::Entry(out) => format!("journal: {}", out.line()),
        Event::Note(note) => note.clone(),
        Event::Finished(tally) => format!("rollback done: {}", tally.line()),
    }
}

/// How a scenario ended, in a word or two; a dry run changed nothing, so it neither passed nor
/// rolled anything back.
fn result_word(r: &ScenarioResult, dry_run: bool) -> &'static str {
    match r {
        ScenarioResult::Passed if dry_run => "would run",
        ScenarioResult::Failed { .. } if dry_run => "would fail",
        ScenarioResult::Passed => "passed",
        ScenarioResult::Failed { rolled_back: true, .. } => "failed, rolled back",
        ScenarioResult::Failed { .. } => "failed",
        ScenarioResult::Stopped { rolled_back: true } => "stopped, rolled back",
        ScenarioResult::Stopped { .. } => "stopped",
        ScenarioResult::Skipped { .. } => "skipped",
    }
}

/// Headless output: one line per event, with a timestamp.
pub fn print_event(event: &EngineEvent, dry_run: bool) {
    let line = match event {
        EngineEvent::RunStarted { run_uuid, journal, scenarios } => {
            format!(
                "run {run_uuid} started: {} scenario file(s), journal {}",
                scenarios.len(),
                journal.display()
            )
        }
        EngineEvent::ScenarioStarted { index, iteration, scenario_type, file, expected } => {
            format!(
                "[{index}] {scenario_type} {} started (iteration {iteration}, ~{} s)",
                file.display(),
                expected.as_secs()
            )
        }
        EngineEvent::ScenarioStep { index, text } => format!("[{index}] {text}"),
        EngineEvent::ScenarioProgress { .. } => return,
        EngineEvent::ScenarioFinished { index, result } => match result {
            ScenarioResult::Failed { error, .. } => {
                format!("[{index}] {}: {error}", result_word(result, dry_run))
            }
            ScenarioResult::Skipped { reason } => format!("[{index}] skipped: {reason}"),
            other => format!("[{index}] {}", result_word(other, dry_run)),
        },
        EngineEvent::EntryWritten { path, summary } => {
            format!("journal: wrote {} (undo: {summary})", path.display())
        }
        EngineEvent::EntryRetired { path } => format!("journal: retired {}", path.display()),
        EngineEvent::Emergency { reason } => format!("EMERGENCY ROLLBACK: {reason}"),
        EngineEvent::ReadOnly { reason } => {
            format!("READ-ONLY at {}: {reason}", jiff::Timestamp::now())
        }
        EngineEvent::Rollback(event) => rollback_line(event),
        EngineEvent::State(state) => format!("engine {state:?}"),
        EngineEvent::HealthStarted { checks, interval } => {
            // Numbered: headless samples name their check by this number.
            let names: Vec<String> =
                checks.iter().enumerate().map(|(i, c)| format!("[{i}] {}", c.name)).collect();
            format!("health: every {} s: {}", interval.as_secs(), names.join(", "))
        }
        EngineEvent::HealthSample(s) => format!(
            "health [{}] {} {} ({} ms)",
            s.check,
            if s.ok { "ok" } else { "FAILING" },
            s.detail,
            s.latency.as_millis()
        ),
        EngineEvent::Log(text) => text.clone(),
        EngineEvent::RunFinished { outstanding, exit_code } => {
            format!("run finished: {outstanding} pending, exit {exit_code}")
        }
    };
    // Cluster messages and file contents are in these lines: nothing may drive the terminal.
    crate::out::err_line(format!(
        "{} {}",
        jiff::Timestamp::now().strftime("%H:%M:%S%.3f"),
        crate::refs::printable(&line)
    ));
}
