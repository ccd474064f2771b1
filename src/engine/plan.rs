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
    let mut planned = Vec::new();
    let mut errors = Vec::new();
    for group in &config.chaos_scenarios {
        let Some(kind) = scenarios::find(&group.scenario_type) else {
            errors.push(ConfigError::At {
                path: config.path.clone(),
                line: group.line,
                column: 1,
                message: format!(
                    "scenario type {:?} is not supported by chaosdeck; supported: {}",
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
    if errors.is_empty() { Ok(planned) } else { Err(errors) }
}
