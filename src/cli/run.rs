//! `chaosdeck run`: for now, validate the config and print the plan (the engine comes next).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::Result;

use super::EXIT_BAD_INPUT;
use crate::config::{ClusterChoice, Config};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The Krkn-style config file.
    #[arg(short = 'c', long, default_value = "config/config.yaml")]
    pub config: PathBuf,
    /// Plain log lines instead of the terminal UI.
    #[arg(long)]
    pub headless: bool,
}

impl Default for RunArgs {
    fn default() -> Self {
        RunArgs { config: PathBuf::from("config/config.yaml"), headless: false }
    }
}

pub async fn run(args: RunArgs) -> Result<ExitCode> {
    let config = Config::load(&args.config)?;
    if let Some(note) = config.ignored_note() {
        eprintln!("note: {note}");
    }
    println!("config:     {}", config.path.display());
    match &config.cluster {
        ClusterChoice::Sandbox { seed } => println!("cluster:    embedded sandbox (seed {seed})"),
        ClusterChoice::Kubeconfig { context } => println!(
            "cluster:    kubeconfig {} context {}",
            config
                .kubeconfig_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "$KUBECONFIG".into()),
            context.as_deref().unwrap_or("(current)")
        ),
    }
    println!("journal:    {}", config.journal_dir().display());
    println!("rollback:   auto_rollback {}", config.auto_rollback);
    println!(
        "iterations: {}{}, wait {} s between scenario files",
        config.tunings.iterations,
        if config.tunings.daemon_mode { " (daemon mode: until stopped)" } else { "" },
        config.tunings.wait_duration_secs
    );
    let mut missing = 0;
    for group in &config.chaos_scenarios {
        println!("scenario:   {}", group.scenario_type);
        for f in &group.files {
            if f.exists {
                println!("              {}", f.path.display());
            } else {
                missing += 1;
                let tried: Vec<String> = f.tried.iter().map(|p| p.display().to_string()).collect();
                println!(
                    "              {}:{}:{}: scenario file {:?} not found (tried {})",
                    config.path.display(),
                    f.line,
                    f.column,
                    f.raw,
                    tried.join(", ")
                );
            }
        }
    }
    if missing > 0 {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    println!("\nThe scenario engine is not built yet: nothing was changed in any cluster.");
    Ok(ExitCode::SUCCESS)
}
