//! Turning the config's `chaos_scenarios` into loaded scenario files, before anything runs.

use std::path::PathBuf;

use crate::config::{Config, ConfigError};
use crate::scenarios::{self, ScenarioPlan};

pub struct PlannedFile {
    pub scenario_type: String,
    pub path: PathBuf,
    pub plan: Box<dyn ScenarioPlan>,
}

/// Loads every scenario file; unknown types and unreadable files are refused up front, all of
/// them at once, so nothing runs on a half-valid config.
pub fn load_plan(config: &Config) -> Result<Vec<PlannedFile>, Vec<ConfigError>> {
    load_plan_skipping(config, false).map(|(planned, _)| planned)
}

/// [`load_plan`], but with `skip_unsupported` a scenario type chaosdeck does not support is
/// left out instead of refused; each one left out is returned as `file:line: type (n files)`.
pub fn load_plan_skipping(
    config: &Config,
    skip_unsupported: bool,
) -> Result<(Vec<PlannedFile>, Vec<String>), Vec<ConfigError>> {
    let mut planned = Vec::new();
    let mut skipped = Vec::new();
    let mut errors = Vec::new();
    for group in &config.chaos_scenarios {
        let Some(kind) = scenarios::find(&group.scenario_type) else {
            if skip_unsupported {
                skipped.push(format!(
                    "{}:{}: {} ({} file{})",
                    config.path.display(),
                    group.line,
                    group.scenario_type,
                    group.files.len(),
                    if group.files.len() == 1 { "" } else { "s" }
                ));
                continue;
            }
            errors.push(ConfigError::At {
                path: config.path.clone(),
                line: group.line,
                column: 1,
                message: format!(
                    "scenario type {:?} is not supported by chaosdeck (--skip-unsupported runs \
                     the rest); supported: {}",
                    group.scenario_type,
                    scenarios::supported_names().join(", ")
                ),
            });
            continue;
        };
        for file in &group.files {
            if !file.exists {
                let tried: Vec<String> =
                    file.tried.iter().map(|p| p.display().to_string()).collect();
                errors.push(ConfigError::At {
                    path: config.path.clone(),
                    line: file.line,
                    column: file.column,
                    message: format!(
                        "scenario file {:?} not found (tried {})",
                        file.raw,
                        tried.join(", ")
                    ),
                });
                continue;
            }
            match kind.load(&file.path) {
                Ok(plan) => planned.push(PlannedFile {
                    scenario_type: group.scenario_type.clone(),
                    path: file.path.clone(),
                    plan,
                }),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() { Ok((planned, skipped)) } else { Err(errors) }
}
