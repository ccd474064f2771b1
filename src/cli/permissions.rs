//! The permission preflight of `chaosdeck run` and `chaosdeck check-permissions`: the
//! permissions the loaded scenarios declare (and, for check-permissions, those of
//! `execute-rollback`), each asked of the API server, the missing ones listed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};

use super::embedded::{ClusterError, cluster_of};
use crate::cluster::ClusterTarget;
use crate::cluster::access::{self, Permission, Verdict};
use crate::config::Config;
use crate::engine::{self, PlannedFile};
use crate::exit::BAD_INPUT as EXIT_BAD_INPUT;
use crate::scenarios::needs;

/// Exit code when a permission is missing: nothing was changed, as for bad input.
pub const EXIT_MISSING: u8 = crate::exit::BAD_INPUT;

#[derive(Args, Debug)]
pub struct CheckPermissionsArgs {
    /// The Krkn-style config file whose scenarios are checked.
    #[arg(short = 'c', long, default_value = "config/config.yaml")]
    pub config: PathBuf,
    /// Kubeconfig file (overrides the config; implies a real cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,
}

/// Every permission the run of `plan` under `config` needs: its scenarios' declared
/// operations (forward and undo), the run's own reads, the dead man's switch's Lease and
/// mirrors when it is on, and the health checks' reads.
pub fn run_permissions(plan: &[PlannedFile], config: &Config) -> Vec<Permission> {
    let needs: Vec<needs::Need> = plan.iter().flat_map(|f| f.plan.needs()).collect();
    let mut all = needs::permissions_of(&needs);
    let switch = &config.dead_man_switch;
    if switch.enabled {
        all.extend(crate::deadman::run_permissions(switch));
    }
    all.extend(crate::health::permissions(
        &config.health_checks,
        &super::health_setup::targets(plan),
    ));
    access::normalize(all)
}

/// One line per missing permission, the same in `run` and `check-permissions`.
pub fn missing_line(v: &Verdict) -> String {
    format!("  missing: {}   (check: {})", v.permission, v.permission.can_i())
}

fn granted_line(v: &Verdict) -> String {
    if v.reason.is_empty() {
        format!("  granted: {}", v.permission)
    } else {
        format!("  granted: {}   ({})", v.permission, v.reason)
    }
}

/// Asks the API server about `wanted`; the error says which server did not answer.
pub async fn review(
    client: &kube::Client,
    target: &ClusterTarget,
    wanted: &[Permission],
) -> Result<Vec<Verdict>> {
    access::review(client, wanted).await.wrap_err_with(|| {
        format!(
            "cannot check permissions at {} (context {}): the SelfSubjectAccessReview request \
             failed",
            target.server, target.context
        )
    })
}

/// The preflight of `run`: `Ok(None)` when every permission is held; otherwise the lines to
/// print (the caller exits [`EXIT_MISSING`] before anything is written or changed).
pub async fn preflight(
    client: &kube::Client,
    target: &ClusterTarget,
    plan: &[PlannedFile],
    config: &Config,
) -> Result<Option<Vec<String>>> {
    let verdicts = review(client, target, &run_permissions(plan, config)).await?;
    let missing: Vec<String> = verdicts.iter().filter(|v| !v.allowed).map(missing_line).collect();
    Ok((!missing.is_empty()).then_some(missing))
}

pub async fn check(args: CheckPermissionsArgs) -> Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let plan = match engine::load_plan(&config) {
        Ok(plan) => plan,
        Err(errors) => {
            for e in &errors {
                crate::out::err_line(format!("error: {e}"));
            }
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let found = cluster_of(&config, args.kubeconfig.as_deref(), args.context.as_deref()).await;
    let (mut sandbox, client, target) = match found {
        Ok(found) => found,
        Err(ClusterError::Sandbox(e) | ClusterError::Connect(e)) => return Err(e),
    };
    let sections = [
        (format!("chaosdeck run -c {}", config.path.display()), run_permissions(&plan, &config)),
        (
            "chaosdeck execute-rollback / inspect (every entry, all namespaces; re-creating a \
             deleted pod is granted per namespace, with the run's above)"
                .to_string(),
            access::normalize(needs::undo_permissions()),
        ),
    ];
    let mut missing = 0;
    crate::out::line(format!("cluster: context {} at {}", target.context, target.server));
    for (title, wanted) in &sections {
        let verdicts = review(&client, &target, wanted).await;
        let verdicts = match verdicts {
            Ok(v) => v,
            Err(e) => {
                if let Some(embedded) = sandbox.take() {
                    embedded.stop().await;
                }
                return Err(e);
            }
        };
        let gaps = verdicts.iter().filter(|v| !v.allowed).count();
        missing += gaps;
        crate::out::line(format!("{title}: {} permission(s), {gaps} missing", verdicts.len()));
        for v in &verdicts {
            crate::out::line(if v.allowed { granted_line(v) } else { missing_line(v) });
        }
    }
    if let Some(embedded) = sandbox {
        embedded.stop().await;
    }
    if missing > 0 {
        crate::out::line(format!(
            "{missing} permission(s) missing: `chaosdeck rbac -c {}` prints the Roles and \
             RoleBindings this config needs (deploy/rbac.yaml has the roles)",
            config.path.display()
        ));
        Ok(ExitCode::from(EXIT_MISSING))
    } else {
        crate::out::line("every permission is granted");
        Ok(ExitCode::SUCCESS)
    }
}
