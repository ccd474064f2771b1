//! The end of a run under the dead man's switch.
//!
//! Nothing of the run outstanding: the Lease is released and the watchdog has nothing to do.
//! Entries still pending (left by the operator, or an undo failed): the Lease stays held while
//! this process lives and expires after it, so the watchdog undoes them then — a chaos change
//! is never left in a cluster nobody watches. Read-only (the Lease was lost): the watchdog is
//! undoing the run; wait for it, then reconcile the local journal so it shows who undid what.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::deadman::RunSwitch;
use crate::deadman::reconcile::reconcile;
use crate::journal::Journal;
use crate::journal::rollback::pending_of_run;

use super::events::EngineEvent;

/// How long a read-only run waits for the watchdog beyond the Lease's own duration.
const WATCHDOG_PATIENCE: Duration = Duration::from_secs(60);

pub async fn finish(
    run: RunSwitch,
    read_only: Option<&str>,
    tampered: bool,
    journal: &Journal,
    run_uuid: &str,
    events: &mpsc::UnboundedSender<EngineEvent>,
) {
    let log = |line: String| {
        let _ = events.send(EngineEvent::Log(line));
    };
    if read_only.is_some() {
        wait_for_watchdog(&run, journal, run_uuid, &log).await;
        return;
    }
    let outstanding = pending_of_run(journal.root(), run_uuid).len();
    if tampered {
        // Its Lease is not this run's any more: nothing to release, nothing to hold.
        log(format!(
            "dead man's switch: not protecting this run (its Lease was tampered with); {outstanding} \
             of its entries still pending{}",
            if outstanding > 0 { ": undo them with `chaosdeck execute-rollback`" } else { "" }
        ));
        return;
    }
    if outstanding == 0 {
        match run.keeper.release().await {
            Ok(()) => log("dead man's switch: nothing pending; Lease released".into()),
            Err(e) => log(format!("dead man's switch: {e}; the watchdog will find nothing to do")),
        }
    } else {
        log(format!(
            "dead man's switch: {outstanding} entr{} of this run pending; the Lease {} is held \
             while chaosdeck runs and the watchdog undoes them {} s after it exits",
            if outstanding == 1 { "y" } else { "ies" },
            run.keeper.name(),
            run.lease_duration.as_secs()
        ));
    }
}

async fn wait_for_watchdog(
    run: &RunSwitch,
    journal: &Journal,
    run_uuid: &str,
    log: &impl Fn(String),
) {
    let patience = run.lease_duration * 2 + WATCHDOG_PATIENCE;
    let deadline = tokio::time::Instant::now() + patience;
    log(format!(
        "read-only: waiting up to {} s for the watchdog to undo this run, then reconciling",
        patience.as_secs()
    ));
    loop {
        let last_error = match reconcile(&run.reconcile_store, journal.root(), Some(run_uuid)).await
        {
            Ok(done) => {
                for line in done.lines {
                    log(format!("reconcile: {line}"));
                }
                None
            }
            Err(e) => Some(e),
        };
        let outstanding = pending_of_run(journal.root(), run_uuid).len();
        if outstanding == 0 {
            log("reconcile: every entry of this run was undone by the watchdog".into());
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            log(format!(
                "reconcile: {outstanding} entr{} still pending after {} s{}; run `chaosdeck \
                 reconcile` later, or `chaosdeck execute-rollback -r {run_uuid}`",
                if outstanding == 1 { "y" } else { "ies" },
                patience.as_secs(),
                last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default()
            ));
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
