//! A fault's lifetime: apply it whole (or not at all), say what is in force, wait for the
//! deadline or a signal, remove everything carrying the tag, read again. `status` and `remove`
//! are the undo's view of the same fault.

use std::process::ExitCode;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use super::args::{Common, TagArgs, tagged_line};
use super::fault::Fault;
use super::state::{self, Place};

pub async fn run(fault: Fault, c: Common) -> Result<ExitCode, String> {
    state::check_tag(&c.tag)?;
    let place = Place::of(&c)?;
    // Before anything is applied: a `remove` exec'd at any moment finds where to look.
    state::save(&c.state_dir, &c.tag, &fault, &place)?;
    let ns = place.netns();
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("signals: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("signals: {e}"))?;
    fault.apply(ns.as_ref(), &c.tag)?;
    let held = fault.held(ns.as_ref(), &c.tag)?;
    for line in &held {
        println!("{line}");
    }
    println!("{}", tagged_line(held.len(), &c.tag));
    let why = tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(c.seconds)) => "deadline",
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    println!("chaosdeck-helper: {why}: removing what is tagged {}", c.tag);
    let left = fault.remove(ns.as_ref(), &c.tag)?;
    println!("{}", tagged_line(left, &c.tag));
    Ok(if left == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn loaded(t: &TagArgs) -> Result<Option<(Fault, Place)>, String> {
    state::check_tag(&t.tag)?;
    state::load(&t.state_dir, &t.tag)
}

pub fn status(t: &TagArgs) -> Result<ExitCode, String> {
    let held = match loaded(t)? {
        Some((fault, place)) => fault.held(place.netns().as_ref(), &t.tag)?,
        None => Vec::new(),
    };
    for line in &held {
        println!("{line}");
    }
    println!("{}", tagged_line(held.len(), &t.tag));
    Ok(ExitCode::SUCCESS)
}

pub fn remove(t: &TagArgs) -> Result<ExitCode, String> {
    let left = match loaded(t)? {
        Some((fault, place)) => fault.remove(place.netns().as_ref(), &t.tag)?,
        None => 0,
    };
    println!("{}", tagged_line(left, &t.tag));
    Ok(if left == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
