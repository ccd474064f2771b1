//! SIGINT, SIGTERM and SIGHUP become engine commands, at any moment of the run (Krkn D6 drops
//! them between scenarios). Escalation lives in the engine: first = stop and roll back,
//! second = warn, third = exit at once (the journal is consistent at every instant).

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::events::EngineCommand;

/// Installs the handlers and forwards each delivery; fails only if the OS refuses.
pub fn forward(commands: mpsc::UnboundedSender<EngineCommand>) -> std::io::Result<()> {
    for (kind, number) in [
        (SignalKind::interrupt(), libc::SIGINT),
        (SignalKind::terminate(), libc::SIGTERM),
        (SignalKind::hangup(), libc::SIGHUP),
    ] {
        let mut stream = signal(kind)?;
        let commands = commands.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if commands.send(EngineCommand::Signal(number)).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}
