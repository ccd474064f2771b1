//! `chaosdeck job -c config.yaml [--apply]`: a game day run as a Job in the cluster, from the
//! operator's own config and scenario files.
//!
//! Owns: checking that the config can run unattended (a real cluster, the dead man's switch
//! on, every scenario file valid), packing the files into a ConfigMap with the config's
//! paths rewritten to the Job's mount, and printing or creating the two objects. Must not
//! touch: the game day's own cluster changes (those are the Job's run, through the scenario
//! context) or any journal.

mod manifest;
mod paths;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};
use serde_json::Value;

use crate::config::{ClusterChoice, Config};
use crate::exit::BAD_INPUT as EXIT_BAD_INPUT;

/// What a ConfigMap may hold (the API server's limit is 1 MiB for the whole object).
const CONFIG_MAP_LIMIT: usize = 1_000_000;

#[derive(Args, Debug)]
pub struct JobArgs {
    /// The Krkn-style config of the game day (its dead man's switch must be on).
    #[arg(short = 'c', long, default_value = "config/config.yaml")]
    pub config: PathBuf,
    /// Name of the ConfigMap and the Job (default: chaosdeck-<config file name>-<UTC time>).
    #[arg(long)]
    pub name: Option<String>,
    /// Namespace of the ConfigMap and the Job: where the ServiceAccount lives.
    #[arg(long, default_value = "chaosdeck")]
    pub namespace: String,
    /// The ServiceAccount the game day runs as (deploy/rbac.yaml's, or `chaosdeck rbac`'s).
    #[arg(long, default_value = "chaosdeck")]
    pub service_account: String,
    /// The image (default: chaosdeck:<this version>, as `scripts/image build` tags it).
    #[arg(long)]
    pub image: Option<String>,
    /// The image of the helper pods the run starts for network and I/O faults (default:
    /// $CHAOSDECK_HELPER_IMAGE, else chaosdeck-helper:<this version>).
    #[arg(long)]
    pub helper_image: Option<String>,
    /// Create the ConfigMap and the Job instead of printing them.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: kubeconfig file (default: the config's kraken.kubeconfig_path, else
    /// $KUBECONFIG or ~/.kube/config).
    #[arg(long, requires = "apply")]
    pub kubeconfig: Option<PathBuf>,
    /// With --apply: kubeconfig context.
    #[arg(long, requires = "apply")]
    pub context: Option<String>,
    /// With --apply: confirms the cluster for scripts; must equal the context name.
    #[arg(long, value_name = "CONTEXT", requires = "apply")]
    pub yes_i_mean_it: Option<String>,
}

pub async fn run(args: JobArgs) -> Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let refuse = |why: String| {
        crate::out::err_line(format!("error: {}: {why}; no Job was made", args.config.display()));
        Ok(ExitCode::from(EXIT_BAD_INPUT))
    };
    if let ClusterChoice::Sandbox { .. } = config.cluster {
        return refuse(
            "targets the embedded sandbox, which lives only inside a chaosdeck process; a Job \
             runs against the cluster it is in (set chaosdeck.cluster: kubeconfig)"
                .into(),
        );
    }
    if !config.dead_man_switch.enabled {
        return refuse(
            "the dead man's switch is off; nobody is at a terminal to press `!` when the Job's \
             pod dies, so a Job needs it: add `dead_man_switch: {enabled: true}` under the \
             `chaosdeck:` section, and run the watchdog (deploy/watchdog.yaml)"
                .into(),
        );
    }
    if let Err(errors) = crate::engine::load_plan_skipping(&config, false) {
        for e in &errors {
            crate::out::err_line(format!("error: {e}"));
        }
        crate::out::err_line(format!("no Job was made: fix the {} error(s) above", errors.len()));
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    let files = match pack(&config) {
        Ok(files) => files,
        Err(why) => return refuse(why),
    };
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(&args.config),
    };
    if let Err(why) = check_name(&name) {
        crate::out::err_line(format!("error: --name {name:?}: {why}; no Job was made"));
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    let image =
        args.image.clone().unwrap_or_else(|| format!("chaosdeck:{}", env!("CARGO_PKG_VERSION")));
    let day = manifest::GameDay {
        name: &name,
        namespace: &args.namespace,
        service_account: &args.service_account,
        image: &image,
        helper_image: &args.helper_image.clone().unwrap_or_else(crate::helper::pod::helper_image),
        files: &files,
    };
    let objects = [manifest::config_map(&day), manifest::job(&day)];
    if !args.apply {
        for object in &objects {
            let text = serde_saphyr::to_string(object).wrap_err("cannot write the manifest")?;
            crate::out::line(format!("---\n{}", text.trim_end()));
        }
        return Ok(ExitCode::SUCCESS);
    }
    apply(&args, &config, &objects, &name).await
}

/// The config (paths rewritten) and each scenario file once, by ConfigMap key.
fn pack(config: &Config) -> Result<BTreeMap<String, String>, String> {
    let config_text =
        std::fs::read_to_string(&config.path).map_err(|e| format!("cannot read it again: {e}"))?;
    let mut files = BTreeMap::new();
    let mut keys: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut edits = Vec::new();
    for file in config.chaos_scenarios.iter().flat_map(|g| &g.files) {
        let key = match keys.get(&file.path) {
            Some(key) => key.clone(),
            None => {
                let key = scenario_key(keys.len() + 1, &file.path);
                let text = std::fs::read_to_string(&file.path)
                    .map_err(|e| format!("cannot read {}: {e}", file.path.display()))?;
                files.insert(key.clone(), text);
                keys.insert(file.path.clone(), key.clone());
                key
            }
        };
        edits.push((file, format!("{}/{key}", manifest::MOUNT)));
    }
    let shown = config.path.display().to_string();
    files.insert(manifest::CONFIG_KEY.to_string(), paths::rewrite(&config_text, &edits, &shown)?);
    let size: usize = files.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > CONFIG_MAP_LIMIT {
        return Err(format!(
            "the config and its scenario files come to {size} bytes, more than a ConfigMap \
             holds ({CONFIG_MAP_LIMIT})"
        ));
    }
    Ok(files)
}

/// `scenario-<n>-<file name>`, with the characters a ConfigMap key may not hold replaced.
fn scenario_key(n: usize, path: &std::path::Path) -> String {
    let base = path.file_name().map(|b| b.to_string_lossy().into_owned()).unwrap_or_default();
    let base: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
        .collect();
    let mut key = format!("scenario-{n}-{base}");
    key.truncate(253);
    key
}

fn default_name(config: &std::path::Path) -> String {
    let stem = config.file_stem().map(|s| s.to_string_lossy().to_lowercase()).unwrap_or_default();
    let mut stem: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    stem.truncate(24);
    let stem = stem.trim_matches('-');
    let when = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S");
    if stem.is_empty() { format!("chaosdeck-{when}") } else { format!("chaosdeck-{stem}-{when}") }
}

/// A Job's name becomes its pods' `job-name` label: a DNS label of at most 63 characters.
fn check_name(name: &str) -> Result<(), String> {
    let ok_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if name.is_empty()
        || name.len() > 63
        || !ok_chars
        || name.starts_with('-')
        || name.ends_with('-')
    {
        return Err("not a DNS label (a-z, 0-9, '-', at most 63 characters)".into());
    }
    Ok(())
}

/// Creates the ConfigMap, then the Job; a Job the API server refuses takes its ConfigMap
/// back out, so a failed apply leaves nothing behind.
async fn apply(
    args: &JobArgs,
    config: &Config,
    objects: &[Value; 2],
    name: &str,
) -> Result<ExitCode> {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, DeleteParams, PostParams};
    let cluster = super::target::ClusterArgs {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        cluster_mismatch_ok: None,
    };
    let (client, target) = match cluster.connect(Some(config)).await {
        Ok(found) => found,
        Err(e) => {
            crate::out::err_line(format!("error: {e:#}"));
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    crate::out::err_line(format!("cluster: context {} at {}", target.context, target.server));
    if !super::run::confirmed(&target, args.yes_i_mean_it.as_deref())? {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    let ns = args.namespace.as_str();
    let config_map: ConfigMap =
        serde_json::from_value(objects[0].clone()).wrap_err("internal: the ConfigMap")?;
    let job: Job = serde_json::from_value(objects[1].clone()).wrap_err("internal: the Job")?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let jobs: Api<Job> = Api::namespaced(client, ns);
    let made = config_maps.create(&PostParams::default(), &config_map).await;
    if let Err(e) = made {
        crate::out::err_line(format!(
            "error: cannot create ConfigMap {ns}/{name}: {}; no Job was made",
            crate::deadman::store::api_error(&e)
        ));
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    if let Err(e) = jobs.create(&PostParams::default(), &job).await {
        let back = config_maps.delete(name, &DeleteParams::default()).await;
        crate::out::err_line(format!(
            "error: cannot create Job {ns}/{name}: {}; {}",
            crate::deadman::store::api_error(&e),
            match back {
                Ok(_) => format!("ConfigMap {ns}/{name} removed again"),
                Err(e) => format!(
                    "ConfigMap {ns}/{name} is left and could not be removed ({})",
                    crate::deadman::store::api_error(&e)
                ),
            }
        ));
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    crate::out::line(format!("created ConfigMap {ns}/{name} and Job {ns}/{name}"));
    crate::out::line(format!("follow it: kubectl logs -n {ns} -f job/{name}"));
    crate::out::line(format!("or in the terminal UI: chaosdeck attach --job {ns}/{name}"));
    Ok(ExitCode::SUCCESS)
}
