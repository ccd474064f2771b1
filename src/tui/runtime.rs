//! The UI loop: keys, engine events, journal changes (file watcher) and executor progress in,
//! frames out. Nothing here blocks: scans and undos run as tasks and report back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use notify::Watcher;
use tokio::sync::mpsc;

use crate::cluster::ClusterOps;
use crate::engine::{EngineCommand, EngineEvent};
use crate::journal::lock::DEFAULT_PATIENCE;
use crate::journal::rollback::{self, Event as RollbackEvent, How, Selection};
use crate::journal::scan::JournalTree;
use crate::journal::transitions::Marked;
use crate::journal::{Depth, scan_with, transitions};

use super::app::{App, Effect, Inspected};
use super::update::{apply_event, apply_rollback, handle_key, on_scanned};

/// What the UI is attached to.
pub struct Session {
    pub app: App,
    pub journal: PathBuf,
    pub ops: Option<Arc<ClusterOps>>,
    /// Present in run mode.
    pub engine:
        Option<(mpsc::UnboundedReceiver<EngineEvent>, mpsc::UnboundedSender<EngineCommand>)>,
    /// Present in attach mode: what the attached run's mirrors and Lease say.
    pub feed: Option<mpsc::UnboundedReceiver<Feed>>,
    /// Runs before `!`'s rollback (attach: stop the Job running the game day, so it makes no
    /// new change meanwhile); its lines go to the log.
    pub before_emergency: Option<EmergencyHook>,
}

/// What another source tells the UI (`chaosdeck attach`).
#[derive(Debug, Clone)]
pub enum Feed {
    Log(String),
    /// The header's description of the attached run (its Lease).
    Attached(String),
    /// The attached run's progress, as its Lease carries it.
    Progress(crate::deadman::progress::Progress),
    /// The attached run no longer says what it does (why): its last progress is stale.
    RunGone(String),
}

pub type EmergencyHook =
    Arc<dyn Fn() -> futures::future::BoxFuture<'static, Vec<String>> + Send + Sync>;

enum Internal {
    Scanned(JournalTree),
    FsChanged,
    Inspected(Inspected),
    Log(String),
    /// An event of a rollback `x` or `!` started (the rollback service's, as the engine's).
    Rollback(RollbackEvent),
    Done,
}

/// Runs the UI until the operator quits; returns the app (its exit code, state).
pub async fn run(session: Session) -> std::io::Result<App> {
    let Session { mut app, journal, ops, engine, mut feed, before_emergency } = session;
    let hook = before_emergency.as_ref();
    let (mut engine_rx, engine_tx) = match engine {
        Some((rx, tx)) => (Some(rx), Some(tx)),
        None => (None, None),
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Internal>();
    let _watcher = watch(&journal, tx.clone());
    spawn_scan(&journal, tx.clone());
    let (mut terminal, _guard) = super::terminal::enter()?;
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut dirty = true;
    let mut fs_dirty = false;
    let mut last_scan = Instant::now();
    loop {
        if dirty {
            terminal.draw(|f| super::render::draw(f, &mut app))?;
            dirty = false;
        }
        if app.quit {
            break;
        }
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(Event::Key(key))) if key.kind == KeyEventKind::Press => {
                    for effect in handle_key(&mut app, key) {
                        perform(effect, &mut app, &journal, ops.as_ref(), engine_tx.as_ref(), hook, &tx);
                    }
                    dirty = true;
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => app.push_log(format!("terminal input error: {e}")),
                None => break,
            },
            event = recv_engine(&mut engine_rx) => match event {
                Some(event) => {
                    if apply_event(&mut app, &event) {
                        fs_dirty = true;
                    }
                    dirty = true;
                }
                None => engine_rx = None,
            },
            fed = recv_feed(&mut feed) => match fed {
                Some(Feed::Log(line)) => {
                    app.push_log(line);
                    dirty = true;
                }
                Some(Feed::Attached(text)) => {
                    app.header.attached = Some(text);
                    dirty = true;
                }
                Some(Feed::Progress(progress)) => {
                    super::progress_view::apply(&mut app, &progress);
                    dirty = true;
                }
                Some(Feed::RunGone(why)) => {
                    super::progress_view::gone(&mut app, &why);
                    dirty = true;
                }
                None => feed = None,
            },
            msg = rx.recv() => match msg {
                Some(Internal::Scanned(tree)) => {
                    for effect in on_scanned(&mut app, tree) {
                        perform(effect, &mut app, &journal, ops.as_ref(), engine_tx.as_ref(), hook, &tx);
                    }
                    dirty = true;
                }
                Some(Internal::FsChanged) => fs_dirty = true,
                Some(Internal::Inspected(i)) => {
                    // Reading the same entry again (it changed state) keeps the operator's place.
                    let same = app.inspected.as_ref().is_some_and(|old| {
                        old.path == i.path || transitions::executed_path(&old.path) == i.path
                    });
                    if !same {
                        app.inspector_scroll = 0;
                    }
                    app.inspected = Some(i);
                    dirty = true;
                }
                Some(Internal::Log(line)) => {
                    app.push_log(line);
                    dirty = true;
                }
                Some(Internal::Rollback(event)) => {
                    if apply_rollback(&mut app, &event) {
                        fs_dirty = true;
                    }
                    dirty = true;
                }
                Some(Internal::Done) => {
                    fs_dirty = true;
                    dirty = true;
                }
                None => {}
            },
            _ = tick.tick() => {
                // Debounced rescan: at most one every 200 ms, so changes show within a second.
                if fs_dirty && last_scan.elapsed() >= Duration::from_millis(200) {
                    fs_dirty = false;
                    last_scan = Instant::now();
                    spawn_scan(&journal, tx.clone());
                }
                if app.run_is_live() {
                    dirty = true;
                }
            }
        }
    }
    drop(terminal);
    Ok(app)
}

async fn recv_engine(rx: &mut Option<mpsc::UnboundedReceiver<EngineEvent>>) -> Option<EngineEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn recv_feed(rx: &mut Option<mpsc::UnboundedReceiver<Feed>>) -> Option<Feed> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn watch(root: &Path, tx: mpsc::UnboundedSender<Internal>) -> Option<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // Only changes count: our own scans open and read every file, and reacting to those
        // accesses would rescan forever.
        if res.is_ok_and(|e| changes_journal(&e.kind)) {
            let _ = tx.send(Internal::FsChanged);
        }
    })
    .ok()?;
    watcher.watch(root, notify::RecursiveMode::Recursive).ok()?;
    Some(watcher)
}

fn changes_journal(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::ModifyKind;
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

fn spawn_scan(root: &Path, tx: mpsc::UnboundedSender<Internal>) {
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || match scan_with(&root, Depth::Full) {
        Ok(tree) => {
            let _ = tx.send(Internal::Scanned(tree));
        }
        Err(e) => {
            let _ =
                tx.send(Internal::Log(format!("cannot read the journal {}: {e}", root.display())));
        }
    });
}

fn perform(
    effect: Effect,
    app: &mut App,
    journal: &Path,
    ops: Option<&Arc<ClusterOps>>,
    engine: Option<&mpsc::UnboundedSender<EngineCommand>>,
    hook: Option<&EmergencyHook>,
    tx: &mpsc::UnboundedSender<Internal>,
) {
    match effect {
        Effect::Engine(command) => match engine {
            Some(engine) => {
                let _ = engine.send(command);
            }
            None => app.push_log("no engine in inspect mode"),
        },
        Effect::Rescan => spawn_scan(journal, tx.clone()),
        Effect::Inspect(path) => {
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || {
                if let Some(inspected) = super::inspect::load(path) {
                    let _ = tx.send(Internal::Inspected(inspected));
                }
            });
        }
        Effect::MarkExecuted(paths) => {
            // Under the context lock, which another process may hold for a while: off the UI
            // loop. The audit line is written first; without it nothing is marked.
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || {
                for path in paths {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let line = match transitions::mark_by_hand(
                        &path,
                        "marked in the TUI",
                        DEFAULT_PATIENCE,
                    ) {
                        Ok(Marked::Renamed) => {
                            format!("marked executed: {name} (audit-logged)")
                        }
                        Ok(Marked::AlreadyExecuted) => {
                            format!("{name} was already executed by another process")
                        }
                        Err(e) => format!("cannot mark {name}: {e}"),
                    };
                    let _ = tx.send(Internal::Log(line));
                }
                let _ = tx.send(Internal::Done);
            });
        }
        Effect::Execute(paths) => {
            let how = How::because("the operator's x");
            spawn_execute(journal, ops, Selection::Paths(paths), how, tx);
        }
        Effect::EmergencyAll { reason } => {
            let how = How::because(reason).audited("emergency rollback (inspect)");
            let Some(hook) = hook.cloned() else {
                spawn_execute(journal, ops, Selection::All, how, tx);
                return;
            };
            // The hook first (the rollback would race a game day still making changes).
            let (journal, ops, tx) = (journal.to_path_buf(), ops.cloned(), tx.clone());
            tokio::spawn(async move {
                for line in hook().await {
                    let _ = tx.send(Internal::Log(line));
                }
                spawn_execute(&journal, ops.as_ref(), Selection::All, how, &tx);
            });
        }
    }
}

/// Undoes what `selection` takes, newest first, on a task, through the rollback service; its
/// events come back as the engine's do. Without a cluster connection, what needs none is still
/// reported and the rest is said not attempted.
fn spawn_execute(
    journal: &Path,
    ops: Option<&Arc<ClusterOps>>,
    selection: Selection,
    how: How,
    tx: &mpsc::UnboundedSender<Internal>,
) {
    let root = journal.to_path_buf();
    let ops = ops.cloned();
    let tx = tx.clone();
    tokio::spawn(async move {
        let selected =
            match tokio::task::spawn_blocking(move || rollback::select(&root, selection)).await {
                Ok(Ok(selected)) => selected,
                Ok(Err(e)) => {
                    let _ = tx.send(Internal::Log(format!("cannot read the journal: {e}")));
                    return;
                }
                Err(e) => {
                    let _ = tx.send(Internal::Log(format!("journal scan task failed: {e}")));
                    return;
                }
            };
        let target = ops.as_deref().ok_or(NO_CLUSTER);
        rollback::undo(target, &selected, &how, |event| {
            let _ = tx.send(Internal::Rollback(event));
        })
        .await;
        let _ = tx.send(Internal::Done);
    });
}

/// Why `x`/`!` in `inspect` without a cluster connection undo nothing.
const NO_CLUSTER: &str =
    "no cluster connection: start `chaosdeck inspect` with --kubeconfig to undo entries";
