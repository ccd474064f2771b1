//! The command line: argument definitions and one handler per subcommand.
//!
//! Owns: parsing arguments, printing results, mapping outcomes to exit codes ([`crate::exit`]).
//! Must not hold journal or cluster logic of its own: it calls `journal`, `config` and
//! `cluster`.

mod attach;
mod check;
mod embedded;
mod execute;
mod failure;
mod health_setup;
mod inspect;
mod job;
pub mod list;
mod location;
mod mark;
mod permissions;
mod rbac;
mod reconcile;
mod run;
mod show;
mod target;
mod watchdog;

use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use embedded::SandboxArgs;

/// Exit code for bad input (config, arguments, journal paths).
pub use crate::exit::BAD_INPUT as EXIT_BAD_INPUT;
pub use location::JournalLocation;

#[derive(Parser, Debug)]
#[command(
    name = "chaosdeck",
    version,
    about = "Kubernetes chaos game days with a durable rollback journal",
    after_help = crate::exit::HELP
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `run`'s options, for `chaosdeck -c config.yaml` without the word `run`.
    #[command(flatten)]
    pub run: run::RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the scenarios of a config (the default subcommand).
    Run(run::RunArgs),
    /// Open the terminal UI on a journal with no engine (leftover state after a crash).
    Inspect(inspect::InspectArgs),
    /// List journal contexts and entries with their state and undo.
    #[command(name = "list-rollback")]
    ListRollback(list::ListArgs),
    /// Undo pending entries, newest first.
    #[command(name = "execute-rollback")]
    ExecuteRollback(execute::ExecuteArgs),
    /// Show one entry: what it undoes, the kubectl equivalent, its last error, the raw file.
    Show(show::ShowArgs),
    /// Mark one entry executed without touching the cluster (after undoing it by hand).
    #[command(name = "mark-executed")]
    MarkExecuted(mark::MarkArgs),
    /// Validate every entry of a journal.
    Check(check::CheckArgs),
    /// Ask the API server whether the credentials hold every permission `run` (for the
    /// config's scenarios) and `execute-rollback` need; exit 2 when some are missing.
    #[command(name = "check-permissions")]
    CheckPermissions(permissions::CheckPermissionsArgs),
    /// Print the Roles and RoleBindings a config's scenarios need, per namespace (YAML for
    /// `kubectl apply -f -`).
    Rbac(rbac::RbacArgs),
    /// The terminal UI on a run in the cluster (a `chaosdeck job`), from its mirrors and
    /// Lease: `x`/`!` undo as the run's author; `!` stops its Job first.
    Attach(attach::AttachArgs),
    /// A game day as a Job in the cluster: print (or create, with --apply) a ConfigMap with
    /// the config and its scenario files and a Job that runs them with the dead man's switch.
    Job(job::JobArgs),
    /// Serve the embedded sandbox cluster on loopback until Ctrl-C.
    Sandbox(SandboxCommand),
    /// Watch the runs' Leases and undo the mirrored entries of a run whose Lease expired (the
    /// dead man's switch; deploy/watchdog.yaml runs it in the cluster).
    Watchdog(watchdog::WatchdogArgs),
    /// The program chaosdeck's helper pod runs on a node (network faults tagged with their
    /// entry id, removed at their deadline); not for interactive use.
    #[command(hide = true)]
    Helper(crate::helper::HelperArgs),
    /// Retire the local entries the watchdog undid, recording who and when.
    Reconcile(reconcile::ReconcileArgs),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `chaosdeck sandbox`, optionally with a watchdog beside it (the dead man's switch demo: kill
/// a run that uses this sandbox and watch it restore itself).
#[derive(Args, Debug)]
pub struct SandboxCommand {
    #[command(flatten)]
    pub args: SandboxArgs,
    /// Also run `chaosdeck watchdog` in this process against the sandbox.
    #[arg(long)]
    pub watchdog: bool,
}

async fn serve_sandbox(cmd: SandboxCommand) -> color_eyre::Result<()> {
    if !cmd.watchdog {
        return embedded::serve(cmd.args, None).await;
    }
    let start: embedded::AfterStart = Box::new(|client: kube::Client, server: String| {
        Box::pin(async move {
            let metrics = std::sync::Arc::new(crate::deadman::metrics::WatchdogMetrics::new());
            watchdog::spawn(
                client,
                &server,
                crate::config::DEFAULT_DEAD_MAN_NAMESPACE,
                Some("sandbox-watchdog".into()),
                std::time::Duration::from_secs(30),
                metrics,
                tokio_util::sync::CancellationToken::new(),
            )
            .await;
        })
    });
    embedded::serve(cmd.args, Some(start)).await
}

/// Runs the parsed command line; the returned code is the process exit code.
pub fn main_with(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Run(cli.run));
    let prints_only = match &command {
        Command::ListRollback(_)
        | Command::Rbac(_)
        | Command::Show(_)
        | Command::Check(_)
        | Command::Completions { .. } => true,
        Command::ExecuteRollback(args) => args.dry_run,
        _ => false,
    };
    if prints_only {
        // `chaosdeck list-rollback | head` should end quietly, as other tools do, not panic on
        // a closed pipe. Only for commands that make no cluster change.
        // SAFETY: restoring the default disposition of one signal before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    if let Command::Completions { shell } = command {
        clap_complete::generate(shell, &mut Cli::command(), "chaosdeck", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    // A listing touches no cluster: starting the runtime's worker threads would cost more
    // than some listings take.
    if let Command::ListRollback(args) = command {
        return finish(list::run(args));
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            crate::out::err_line(format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(crate::exit::ENVIRONMENT);
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Run(args) => run::run(args).await,
            Command::Inspect(args) => inspect::run(args).await,
            Command::ListRollback(args) => list::run(args),
            Command::ExecuteRollback(args) => execute::run(args).await,
            Command::Show(args) => show::run(args),
            Command::MarkExecuted(args) => mark::run(args),
            Command::Check(args) => check::run(args),
            Command::CheckPermissions(args) => permissions::check(args).await,
            Command::Rbac(args) => rbac::run(args),
            Command::Sandbox(cmd) => serve_sandbox(cmd).await.map(|()| ExitCode::SUCCESS),
            Command::Watchdog(args) => watchdog::run(args).await,
            Command::Job(args) => job::run(args).await,
            Command::Attach(args) => attach::run(args).await,
            Command::Reconcile(args) => reconcile::run(args).await,
            Command::Helper(args) => crate::helper::run(args).await,
            Command::Completions { .. } => Ok(ExitCode::SUCCESS),
        }
    });
    finish(result)
}

fn finish(result: color_eyre::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            crate::out::err_line(format!("error: {e:#}"));
            ExitCode::from(failure::exit_code_of(&e))
        }
    }
}
