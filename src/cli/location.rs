//! `--dir` and `-c`: which journal a subcommand reads.

use std::path::PathBuf;

use clap::Args;

use crate::out;

/// Where the journal is: `--dir`, else the config's `rollback_versions_directory`, else the
/// default for that config (Krkn's for a Krkn config), else chaosdeck's per-user default.
#[derive(Args, Debug, Clone, Default)]
pub struct JournalLocation {
    /// Config file whose `kraken.rollback_versions_directory` names the journal. A config with
    /// no `chaosdeck:` section is Krkn's: when it names no directory, Krkn's default
    /// ~/.krkn/rollback is used.
    #[arg(short = 'c', long = "config", conflicts_with = "dir")]
    pub config: Option<PathBuf>,
    /// Journal directory: chaosdeck's (default ~/.local/state/chaosdeck/rollback) or Krkn's
    /// (Krkn's default ~/.krkn/rollback; older Krkn releases used /tmp/kraken-rollback).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

impl JournalLocation {
    /// The journal directory. A `--dir` that does not exist is bad input (a typo must not read
    /// as "nothing pending"); without `--dir` or `-c`, chaosdeck's default journal, and a note
    /// when the sandbox demo's journal holds pending entries.
    pub fn resolve(&self) -> color_eyre::Result<PathBuf> {
        if let Some(dir) = &self.dir {
            if !dir.is_dir() {
                color_eyre::eyre::bail!(
                    "the journal directory {} does not exist{}: nothing is journaled there. \
                     chaosdeck journals into {} (real clusters) and {} (the sandbox demo); \
                     Krkn into {}",
                    dir.display(),
                    if dir.exists() { " as a directory" } else { "" },
                    crate::config::default_dir().display(),
                    crate::config::sandbox_default_dir().display(),
                    crate::config::krkn_default_dir().display()
                );
            }
            return Ok(dir.clone());
        }
        if let Some(config) = &self.config {
            let config = crate::config::Config::load(config)?;
            let dir = config.rollback_dir_to_read();
            let legacy = std::path::Path::new(crate::config::KRKN_LEGACY_DEFAULT_DIR);
            if config.rollback_versions_directory.is_none()
                && !config.has_chaosdeck_section
                && !dir.exists()
                && legacy.is_dir()
            {
                crate::out::err_line(format!(
                    "note: {} is a Krkn config naming no rollback directory, so Krkn's default {} \
                     is used; it does not exist, but {} (older Krkn releases' default) does: \
                     pass --dir {} to read that one",
                    config.path.display(),
                    dir.display(),
                    legacy.display(),
                    legacy.display()
                ));
            }
            return Ok(dir);
        }
        note_other_journal(&crate::config::sandbox_default_dir(), "the sandbox demo's journal");
        Ok(crate::config::default_dir())
    }
}

/// Says on stderr that `dir`, a journal not being read, holds entries still pending: the default
/// journal being empty must not read as "all clear" when the demo's has work.
fn note_other_journal(dir: &std::path::Path, what: &str) {
    let Ok(tree) = crate::journal::scan_with(dir, crate::journal::Depth::Headers) else { return };
    let pending = tree.outstanding();
    if pending > 0 {
        out::err_line(format!(
            "note: {} ({what}) holds {pending} pending entr{}; this reads {}: pass --dir {} \
             to read that one",
            dir.display(),
            if pending == 1 { "y" } else { "ies" },
            crate::config::default_dir().display(),
            dir.display()
        ));
    }
}
