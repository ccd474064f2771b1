//! The run loop: iterations × scenario files, with the rollback lifecycle around each one.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cluster::ClusterOps;
use crate::config::Config;
use crate::deadman::{Armed, RunSwitch};
use crate::exit;
use crate::journal::Journal;
use crate::journal::rollback::{How, Selection, pending_of_run};
use crate::scenarios::ctx::CtxParams;
use crate::scenarios::{Outcome, ScenarioCtx, ScenarioError};

use super::board::{Board, Phase};
use super::events::{EngineCommand, EngineEvent, EngineState, ScenarioResult};
use super::panics;
use super::plan::PlannedFile;
use super::rollback::undo;

pub struct EngineSetup {
    pub config: Config,
    pub run_uuid: String,
    pub journal: Journal,
    pub ops: Arc<ClusterOps>,
    pub plan: Vec<PlannedFile>,
    pub dry_run: bool,
    /// Start paused (Krkn's `signal_state: PAUSE`): nothing runs until resumed.
    pub start_paused: bool,
    /// The dead man's switch, when armed: the Lease is held, entries are mirrored.
    pub dead_man: Option<RunSwitch>,
}

pub struct EngineHandle {
    pub events: mpsc::UnboundedReceiver<EngineEvent>,
    pub commands: mpsc::UnboundedSender<EngineCommand>,
    pub task: JoinHandle<RunSummary>,
}

#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_uuid: String,
    pub journal: PathBuf,
    pub results: Vec<(String, PathBuf, ScenarioResult)>,
    /// Entries of this run still pending at the end.
    pub outstanding: Vec<PathBuf>,
    pub exit_code: u8,
}

#[derive(Default)]
struct Control {
    signal: Option<i32>,
    signals_seen: u32,
    emergency: Option<String>,
    stopped_by_operator: bool,
    panicked: bool,
    /// The Lease was lost: the run changes nothing more.
    read_only: Option<String>,
    /// Someone else changed or deleted the Lease: the run rolls itself back.
    tampered: Option<String>,
}

/// Starts the engine on its own task.
pub fn spawn(setup: EngineSetup) -> EngineHandle {
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run_guarded(setup, events_tx, commands_rx));
    EngineHandle { events: events_rx, commands: commands_tx, task }
}

/// The run, with a last line of defence: a panic the run loop did not catch itself still ends
/// the run like a failure — this run's entries rolled back (with auto_rollback) or left pending
/// and listed, `RunFinished` sent so no front end waits forever.
async fn run_guarded(
    setup: EngineSetup,
    events: mpsc::UnboundedSender<EngineEvent>,
    commands: mpsc::UnboundedReceiver<EngineCommand>,
) -> RunSummary {
    let run_uuid = setup.run_uuid.clone();
    let journal = setup.journal.clone();
    let ops = setup.ops.clone();
    let auto_rollback = setup.config.auto_rollback;
    let panic = match AssertUnwindSafe(run(setup, events.clone(), commands)).catch_unwind().await {
        Ok(summary) => return summary,
        Err(payload) => panics::message(&*payload),
    };
    let _ = events.send(EngineEvent::Log(format!(
        "internal error (a bug in chaosdeck): the engine panicked: {panic}"
    )));
    if auto_rollback {
        let _ = events.send(EngineEvent::State(EngineState::RollingBack));
        let reason = format!("engine panicked: {panic}");
        let attempt = undo_run(&ops, &journal, &run_uuid, &reason, &events);
        if AssertUnwindSafe(attempt).catch_unwind().await.is_err() {
            let _ = events
                .send(EngineEvent::Log("the rollback panicked too; entries stay pending".into()));
        }
    }
    let outstanding = pending_of_run(journal.root(), &run_uuid);
    let _ = events.send(EngineEvent::State(EngineState::Stopped));
    let _ = events.send(EngineEvent::RunFinished {
        outstanding: outstanding.len(),
        exit_code: exit::INTERNAL,
    });
    RunSummary {
        run_uuid,
        journal: journal.root().to_path_buf(),
        results: Vec::new(),
        outstanding,
        exit_code: exit::INTERNAL,
    }
}

async fn run(
    setup: EngineSetup,
    events: mpsc::UnboundedSender<EngineEvent>,
    commands: mpsc::UnboundedReceiver<EngineCommand>,
) -> RunSummary {
    let stop = CancellationToken::new();
    let (paused_tx, paused_rx) = watch::channel(setup.start_paused);
    let control = Arc::new(Mutex::new(Control::default()));
    let board = Arc::new(Board::new(setup.start_paused, events.clone()));
    tokio::spawn(control_loop(
        commands,
        stop.clone(),
        paused_tx,
        control.clone(),
        board.clone(),
        events.clone(),
    ));

    let EngineSetup { config, run_uuid, journal, ops, plan, dry_run, start_paused, dead_man } =
        setup;
    let armed = dead_man.as_ref().map(|d| d.armed.clone());
    let mut dead_man = dead_man;
    if let Some(news) = dead_man.as_mut().and_then(|d| d.news.take()) {
        tokio::spawn(watch_lease(news, stop.clone(), control.clone(), events.clone()));
    }
    let _ = events.send(EngineEvent::RunStarted {
        run_uuid: run_uuid.clone(),
        journal: journal.root().to_path_buf(),
        scenarios: plan.iter().map(|p| (p.scenario_type.clone(), p.path.clone())).collect(),
    });
    board.phase(Phase::Between);
    if start_paused {
        let _ = events.send(EngineEvent::Log(
            "started paused (signal_state: PAUSE): nothing runs until resumed".into(),
        ));
    }
    let mut results = Vec::new();
    let iterations =
        if config.tunings.daemon_mode { u64::MAX } else { config.tunings.iterations.max(1) };

    'outer: for iteration in 1..=iterations {
        for (index, file) in plan.iter().enumerate() {
            if wait_unpaused(&stop, paused_rx.clone()).await.is_err() {
                break 'outer;
            }
            let ctx = ScenarioCtx::new(CtxParams {
                ops: ops.clone(),
                journal: journal.clone(),
                run_uuid: run_uuid.clone(),
                scenario_type: file.scenario_type.clone(),
                scenario_file: file.path.clone(),
                index,
                dry_run,
                cancel: stop.child_token(),
                protected_namespaces: config.protected_namespaces.clone(),
                allow_protected: config.allow_protected_namespaces,
                events: {
                    let events = events.clone();
                    Arc::new(move |e: crate::scenarios::ScenarioEvent| {
                        let _ = events.send(e.into());
                    })
                },
                paused: paused_rx.clone(),
                needs: file.plan.needs(),
                armed: armed.clone(),
            });
            board.phase(Phase::InScenario);
            let _ = events.send(EngineEvent::ScenarioStarted {
                index,
                iteration,
                scenario_type: file.scenario_type.clone(),
                file: file.path.clone(),
                expected: file.plan.expected(),
            });
            let timeout = file.plan.timeout();
            // A panic in the scenario is caught here and handled like any failure (rollback),
            // then ends the run: after a bug, carrying on with more chaos is not safe.
            let scenario = AssertUnwindSafe(file.plan.run(&ctx)).catch_unwind();
            let outcome = tokio::select! {
                r = scenario => r.unwrap_or_else(|payload| {
                    Err(ScenarioError::Panicked(panics::message(&*payload)))
                }),
                _ = tokio::time::sleep(timeout) => Err(ScenarioError::Failed(format!("timed out after {} s", timeout.as_secs()))),
            };
            let panicked = matches!(outcome, Err(ScenarioError::Panicked(_)));
            let finish = Finish { config: &config, ops: &ops, journal: &journal, board: &board };
            let result = finish_scenario(&finish, &ctx, outcome, armed.as_ref(), &events).await;
            board.phase(Phase::Between);
            if panicked {
                if let Ok(mut c) = control.lock() {
                    c.panicked = true;
                }
                stop.cancel();
            }
            let _ = events.send(EngineEvent::ScenarioFinished { index, result: result.clone() });
            results.push((file.scenario_type.clone(), file.path.clone(), result));
            if stop.is_cancelled() {
                break 'outer;
            }
            let last = index + 1 == plan.len() && iteration == iterations;
            // A dry run changed nothing, so there is nothing for the cluster to recover from.
            if !last && !dry_run && config.tunings.wait_duration_secs > 0 {
                board.phase(Phase::Waiting);
                tokio::select! {
                    _ = stop.cancelled() => break 'outer,
                    _ = tokio::time::sleep(Duration::from_secs(config.tunings.wait_duration_secs)) => {}
                }
                board.phase(Phase::Between);
            }
        }
    }

    let (emergency, signal, by_operator, panicked, tampered) = control
        .lock()
        .map(|c| {
            (c.emergency.clone(), c.signal, c.stopped_by_operator, c.panicked, c.tampered.clone())
        })
        .unwrap_or_default();
    if let Some(reason) = &tampered {
        // Whatever auto_rollback says: nothing in the cluster would undo these any more.
        board.phase(Phase::RollingBack);
        undo_run(&ops, &journal, &run_uuid, reason, &events).await;
    }
    let read_only = armed.as_ref().and_then(Armed::read_only).map(str::to_string);
    if let (Some(_), Some(reason)) = (&emergency, &read_only) {
        let _ = events.send(EngineEvent::Log(format!(
            "emergency rollback NOT run here: read-only ({reason}); the watchdog undoes this \
             run's entries"
        )));
    } else if let Some(reason) = &emergency {
        // Every pending entry of the journal, not just this run's: that is what the key promises.
        board.phase(Phase::RollingBack);
        let how = How::because(reason).audited(format!("emergency rollback (run {run_uuid})"));
        undo(&ops, journal.root(), Selection::All, how, &events).await;
    }
    if let Some(dead_man) = dead_man {
        super::disarm::finish(
            dead_man,
            read_only.as_deref(),
            tampered.is_some(),
            &journal,
            &run_uuid,
            &events,
        )
        .await;
    }
    let outstanding = pending_of_run(journal.root(), &run_uuid);
    let failed = results.iter().any(|(_, _, r)| r.is_failure());
    let exit_code = match signal {
        Some(n) => u8::try_from(128 + n).unwrap_or(exit::FAILED),
        None if panicked => exit::INTERNAL,
        None if failed
            || emergency.is_some()
            || by_operator
            || read_only.is_some()
            || tampered.is_some() =>
        {
            exit::FAILED
        }
        None => exit::OK,
    };
    board.phase(if stop.is_cancelled() { Phase::Stopped } else { Phase::Finished });
    let _ = events.send(EngineEvent::RunFinished { outstanding: outstanding.len(), exit_code });
    RunSummary { run_uuid, journal: journal.root().to_path_buf(), results, outstanding, exit_code }
}

/// What [`finish_scenario`] works with.
struct Finish<'a> {
    config: &'a Config,
    ops: &'a ClusterOps,
    journal: &'a Journal,
    board: &'a Board,
}

/// Applies the lifecycle rules to one finished scenario-file execution.
async fn finish_scenario(
    finish: &Finish<'_>,
    ctx: &ScenarioCtx,
    outcome: Result<Outcome, ScenarioError>,
    armed: Option<&Armed>,
    events: &mpsc::UnboundedSender<EngineEvent>,
) -> ScenarioResult {
    let Finish { config, ops, journal, board } = *finish;
    let context = ctx.context();
    let context_dir = context.as_ref().map(|c| c.dir().to_path_buf());
    // Read-only: an undo now would race the watchdog, which owns this run's entries.
    if let (Some(reason), Some(dir)) = (armed.and_then(Armed::read_only), &context_dir) {
        let _ = events.send(EngineEvent::Log(format!(
            "read-only: {}'s entries in {} are left to the watchdog ({reason})",
            ctx.scenario_type,
            dir.display()
        )));
        let error = match outcome {
            Err(e) => e.to_string(),
            Ok(_) => "the run became read-only".to_string(),
        };
        return ScenarioResult::Failed { error, rolled_back: false };
    }
    match outcome {
        Ok(Outcome::Passed) => {
            // A scenario that passed must have retired its own entries; anything left is undone
            // now rather than left behind silently.
            if let Some(dir) = &context_dir {
                let how = How::because("passed scenario left entries pending");
                let tally =
                    undo(ops, journal.root(), Selection::Context(dir.clone()), how, events).await;
                if tally.not_undone() > 0 {
                    return ScenarioResult::Failed {
                        error: "could not undo all of its own changes".into(),
                        rolled_back: false,
                    };
                }
            }
            ScenarioResult::Passed
        }
        Ok(Outcome::Skipped(reason)) => ScenarioResult::Skipped { reason },
        Err(error) => {
            let stopped = matches!(error, ScenarioError::Cancelled);
            let rolled_back = match &context_dir {
                Some(dir) if config.auto_rollback => {
                    board.phase(Phase::RollingBack);
                    let reason = if stopped {
                        "run stopped".to_string()
                    } else {
                        format!("scenario failed: {error}")
                    };
                    let how = How::because(reason);
                    let selection = Selection::Context(dir.clone());
                    undo(ops, journal.root(), selection, how, events).await.not_undone() == 0
                }
                Some(dir) => {
                    let _ = events.send(EngineEvent::Log(format!(
                        "auto_rollback is off: entries left pending in {}; undo them with `chaosdeck execute-rollback --dir {} -r {}`",
                        dir.display(),
                        journal.root().display(),
                        ctx.run_uuid
                    )));
                    false
                }
                None => true,
            };
            if stopped {
                ScenarioResult::Stopped { rolled_back }
            } else {
                ScenarioResult::Failed { error: error.to_string(), rolled_back }
            }
        }
    }
}

/// Undoes every outstanding entry of this run, context by context.
async fn undo_run(
    ops: &ClusterOps,
    journal: &Journal,
    run_uuid: &str,
    reason: &str,
    events: &mpsc::UnboundedSender<EngineEvent>,
) {
    let dirs: std::collections::BTreeSet<PathBuf> = pending_of_run(journal.root(), run_uuid)
        .iter()
        .filter_map(|p| p.parent().map(PathBuf::from))
        .collect();
    for dir in dirs {
        undo(ops, journal.root(), Selection::Context(dir), How::because(reason), events).await;
    }
}

/// Acts on what the Lease keeper reports, once: a lost Lease makes the run read-only (the
/// watchdog owns its undos); a Lease someone else changed or deleted stops the run, which then
/// rolls itself back, since no watchdog will.
async fn watch_lease(
    mut news: mpsc::UnboundedReceiver<crate::deadman::LeaseNews>,
    stop: CancellationToken,
    control: Arc<Mutex<Control>>,
    events: mpsc::UnboundedSender<EngineEvent>,
) {
    use crate::deadman::LeaseNews;
    match news.recv().await {
        Some(LeaseNews::Lost(reason)) => {
            if let Ok(mut c) = control.lock() {
                c.read_only = Some(reason.clone());
            }
            let _ = events.send(EngineEvent::ReadOnly { reason });
            stop.cancel();
        }
        Some(LeaseNews::Tampered(reason)) => {
            if let Ok(mut c) = control.lock() {
                c.tampered = Some(reason.clone());
            }
            let _ = events.send(EngineEvent::Log(format!(
                "DEAD MAN'S SWITCH DISARMED: {reason}; stopping and rolling back every change of \
                 this run now"
            )));
            stop.cancel();
        }
        None => {}
    }
}

async fn wait_unpaused(
    stop: &CancellationToken,
    mut paused: watch::Receiver<bool>,
) -> Result<(), ()> {
    loop {
        if stop.is_cancelled() {
            return Err(());
        }
        if !*paused.borrow_and_update() {
            return Ok(());
        }
        tokio::select! {
            _ = stop.cancelled() => return Err(()),
            r = paused.changed() => if r.is_err() { return Ok(()) },
        }
    }
}

async fn control_loop(
    mut commands: mpsc::UnboundedReceiver<EngineCommand>,
    stop: CancellationToken,
    paused: watch::Sender<bool>,
    control: Arc<Mutex<Control>>,
    board: Arc<Board>,
    events: mpsc::UnboundedSender<EngineEvent>,
) {
    while let Some(command) = commands.recv().await {
        match command {
            EngineCommand::Pause => {
                let _ = paused.send(true);
                let line = if !board.set_paused(true) {
                    "already paused"
                } else if board.in_scenario() {
                    "paused: nothing new starts; the chaos window in progress runs to its \
                     scheduled end and is undone, then the run waits for resume"
                } else {
                    "paused: the next scenario waits for resume"
                };
                let _ = events.send(EngineEvent::Log(line.into()));
            }
            EngineCommand::Resume => {
                let _ = paused.send(false);
                let line = if board.set_paused(false) { "resumed" } else { "not paused" };
                let _ = events.send(EngineEvent::Log(line.into()));
            }
            EngineCommand::Stop => {
                if let Ok(mut c) = control.lock() {
                    c.stopped_by_operator = true;
                }
                let _ = events.send(EngineEvent::Log(
                    "stop requested: stopping and rolling back the current scenario".into(),
                ));
                stop.cancel();
            }
            EngineCommand::Emergency { reason } => {
                if let Ok(mut c) = control.lock() {
                    c.emergency = Some(reason.clone());
                }
                let _ = events.send(EngineEvent::Emergency { reason: reason.clone() });
                stop.cancel();
            }
            EngineCommand::Signal(n) => {
                let (seen, first) = control
                    .lock()
                    .map(|mut c| {
                        c.signals_seen += 1;
                        let first = *c.signal.get_or_insert(n);
                        (c.signals_seen, first)
                    })
                    .unwrap_or((1, n));
                match seen {
                    1 => {
                        let why = if n == libc::SIGPIPE {
                            "the output was closed (SIGPIPE)".to_string()
                        } else {
                            format!("signal {n}")
                        };
                        let _ = events.send(EngineEvent::Log(format!(
                            "{why}: stopping; the current scenario is rolled back"
                        )));
                        stop.cancel();
                    }
                    2 => {
                        let _ = events.send(EngineEvent::Log(format!(
                            "signal {n}: rollback in progress and will finish; send one more to exit at once (pending entries stay in the journal)"
                        )));
                    }
                    _ => {
                        crate::out::err_line(
                            "chaosdeck: third signal, exiting now; pending entries stay in the journal for execute-rollback",
                        );
                        // The code names the signal that stopped the run, like the normal path.
                        std::process::exit(128 + first);
                    }
                }
            }
        }
    }
}
