//! The filter's lifetime: add every rule (or none: a failure takes back what was added), say
//! what is in force, wait for the deadline or a signal, remove every rule carrying the tag,
//! read the tables again. `status` and `remove` are the undo's view of the same rules.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

use super::args::{Backend, DEFAULT_STATE_DIR, TagArgs, tagged_line};
use super::rules::{Rule, deletion, tagged};
use super::state::{self, Place};
use super::tables::Tables;

#[derive(Args, Debug)]
pub struct FilterArgs {
    /// The entry id: every rule's comment is `chaosdeck-<tag>`.
    #[arg(long)]
    pub tag: String,
    /// The target pod's uid (its network namespace is found through the node's /proc).
    #[arg(long)]
    pub pod_uid: String,
    /// Seconds after which the rules are removed, whatever else happens.
    #[arg(long = "for")]
    pub seconds: u64,
    #[arg(long = "chain", required = true)]
    pub chains: Vec<String>,
    #[arg(long = "protocol", required = true)]
    pub protocols: Vec<String>,
    #[arg(long = "port", required = true)]
    pub ports: Vec<u16>,
    #[arg(long, value_enum, default_value = "kernel")]
    pub backend: Backend,
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// The node's /proc (hostPID).
    #[arg(long, default_value = "/proc", hide = true)]
    pub proc_root: PathBuf,
}

impl FilterArgs {
    fn rules(&self) -> Result<Vec<Rule>, String> {
        let mut rules = Vec::new();
        for chain in &self.chains {
            if !matches!(chain.as_str(), "INPUT" | "OUTPUT") {
                return Err(format!("chain {chain:?} is not INPUT or OUTPUT"));
            }
            for protocol in &self.protocols {
                if !matches!(protocol.as_str(), "tcp" | "udp") {
                    return Err(format!("protocol {protocol:?} is not tcp or udp"));
                }
                for &port in &self.ports {
                    if port == 0 {
                        return Err("port 0 is not a port".into());
                    }
                    rules.push(Rule {
                        chain: chain.clone(),
                        protocol: protocol.clone(),
                        port,
                        tag: self.tag.clone(),
                    });
                }
            }
        }
        Ok(rules)
    }
}

/// Removes every rule tagged `tag`, then reads the tables again: how many are left.
fn remove_tagged(tables: &dyn Tables, tag: &str) -> Result<usize, String> {
    let lines = tables.list()?;
    let mut errors = Vec::new();
    for line in tagged(&lines, tag) {
        match deletion(line) {
            Some(args) => {
                if let Err(e) = tables.change(&args) {
                    errors.push(e);
                }
            }
            None => errors.push(format!("cannot read back {line:?}")),
        }
    }
    let left = tagged(&tables.list()?, tag).len();
    if left > 0 && !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(left)
}

fn print_tagged(tables: &dyn Tables, tag: &str) -> Result<usize, String> {
    let lines = tables.list()?;
    let mine = tagged(&lines, tag);
    for line in &mine {
        println!("{line}");
    }
    Ok(mine.len())
}

pub async fn run(args: FilterArgs) -> Result<ExitCode, String> {
    state::check_tag(&args.tag)?;
    let rules = args.rules()?;
    let place = Place::of_pod(args.backend, &args.state_dir, &args.proc_root, &args.pod_uid)?;
    // Before the first rule: a `remove` exec'd at any moment finds where to look.
    state::save(&args.state_dir, &args.tag, &place)?;
    let tables = place.tables();
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("signals: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("signals: {e}"))?;
    for rule in &rules {
        let mut add = vec!["-A".to_string(), rule.chain.clone()];
        add.extend(rule.spec());
        if let Err(e) = tables.change(&add) {
            let left = remove_tagged(tables.as_ref(), &args.tag);
            return Err(format!("{e}; took back the rules already added ({left:?} left)"));
        }
    }
    let count = print_tagged(tables.as_ref(), &args.tag)?;
    println!("{}", tagged_line(count, &args.tag));
    let why = tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(args.seconds)) => "deadline",
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    println!("chaosdeck-helper: {why}: removing the rules tagged {}", args.tag);
    let left = remove_tagged(tables.as_ref(), &args.tag)?;
    println!("{}", tagged_line(left, &args.tag));
    Ok(if left == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn place_of(t: &TagArgs) -> Result<Option<Place>, String> {
    state::check_tag(&t.tag)?;
    state::load(&t.state_dir, &t.tag)
}

pub fn status(t: &TagArgs) -> Result<ExitCode, String> {
    let count = match place_of(t)? {
        Some(place) => print_tagged(place.tables().as_ref(), &t.tag)?,
        None => 0,
    };
    println!("{}", tagged_line(count, &t.tag));
    Ok(ExitCode::SUCCESS)
}

pub fn remove(t: &TagArgs) -> Result<ExitCode, String> {
    let left = match place_of(t)? {
        Some(place) => remove_tagged(place.tables().as_ref(), &t.tag)?,
        None => 0,
    };
    println!("{}", tagged_line(left, &t.tag));
    Ok(if left == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
