//! Bringing what the watchdog did home: entries it undid are retired in the local journal with
//! who and when (through `journal::transitions`, under the context lock), then their mirrors go.
//! A mirror's "undone" is believed only where the API server enforces that nobody but the
//! watchdog can have written it (deploy/watchdog.yaml's policies); elsewhere it is reported
//! and changes nothing.

use std::path::{Component, Path, PathBuf};

use crate::journal::lock::{DEFAULT_PATIENCE, lock_context};
use crate::journal::transitions::Marked;

use super::mirror::{self, Mirror, MirrorState};
use super::store::MirrorStore;

/// What a reconcile found, one line per entry in `lines`.
#[derive(Debug, Default, Clone)]
pub struct Reconciled {
    /// Local entries retired as undone by the watchdog.
    pub retired: usize,
    /// Mirrors the watchdog tried and failed to undo (their entries stay pending here).
    pub failed: usize,
    /// Mirrors of this journal still waiting for the watchdog.
    pub waiting: usize,
    /// Bad mirrors or local files that could not be changed.
    pub errors: usize,
    /// Mirrors that say "undone" where nothing vouches that the watchdog wrote it: their
    /// entries stay pending.
    pub unverified: usize,
    pub lines: Vec<String>,
}

/// The local entry a mirror names, if the name is a plain `<context>/<file>` inside `root`
/// (a mirror is cluster data: it must not point anywhere else).
fn local_path(root: &Path, file: &str) -> Option<PathBuf> {
    let rel = Path::new(file);
    let parts: Vec<Component> = rel.components().collect();
    match parts.as_slice() {
        [Component::Normal(_), Component::Normal(_)] => Some(root.join(rel)),
        _ => None,
    }
}

fn executed_exists(pending: &Path) -> bool {
    std::fs::symlink_metadata(crate::journal::transitions::executed_path(pending)).is_ok()
}

/// Reconciles the journal at `root` with the mirrors in `store`'s namespace. Only mirrors of
/// entries in this journal are touched; `run_uuid` narrows it to one run.
pub async fn reconcile(
    store: &MirrorStore,
    root: &Path,
    run_uuid: Option<&str>,
) -> Result<Reconciled, String> {
    let mut out = Reconciled::default();
    // Asked when an executed mirror first needs believing, once.
    let mut trusted: Option<Result<(), String>> = None;
    for cm in store.list().await? {
        let Ok(m) = mirror::read(&cm) else { continue };
        if run_uuid.is_some_and(|r| r != m.run_uuid) {
            continue;
        }
        let Some(pending) = local_path(root, &m.file) else { continue };
        let pending_here = std::fs::symlink_metadata(&pending).is_ok();
        if !pending_here && !executed_exists(&pending) {
            // Another journal's entry (another machine or directory): not ours to touch.
            continue;
        }
        match m.state {
            MirrorState::Executed if pending_here => {
                if trusted.is_none() {
                    trusted = Some(store.policy_enforced().await);
                }
                match trusted.clone().unwrap_or(Ok(())) {
                    Ok(()) => out_retire(store, &m, &pending, true, &mut out).await,
                    Err(why) => {
                        out.unverified += 1;
                        out.lines.push(format!(
                            "{}: its mirror says {} undid it, which is not trusted ({why}); \
                             still pending — undo it with execute-rollback",
                            m.file,
                            m.undone_by.as_ref().map(|u| u.by.as_str()).unwrap_or("someone")
                        ));
                    }
                }
            }
            MirrorState::Executed => out_retire(store, &m, &pending, false, &mut out).await,
            MirrorState::Failed if pending_here => {
                out.failed += 1;
                out.lines.push(format!(
                    "{}: the watchdog could not undo it ({}); still pending",
                    m.file,
                    m.outcome.clone().unwrap_or_default()
                ));
            }
            MirrorState::Pending | MirrorState::Failed if pending_here => out.waiting += 1,
            // Executed here already (by this operator): the mirror is stale.
            _ => {
                if let Err(e) = store.remove(&m).await {
                    out.errors += 1;
                    out.lines.push(format!("{}: {e}", m.file));
                }
            }
        }
    }
    Ok(out)
}

async fn out_retire(
    store: &MirrorStore,
    m: &Mirror,
    pending: &Path,
    pending_here: bool,
    out: &mut Reconciled,
) {
    if pending_here {
        let Some(undone) = m.undone_by.clone() else {
            out.errors += 1;
            out.lines.push(format!("{}: executed mirror without who/when; left alone", m.file));
            return;
        };
        let Some(dir) = pending.parent() else { return };
        let marked = match lock_context(dir, DEFAULT_PATIENCE).await {
            Ok(lock) => lock.mark_undone_elsewhere(pending, &undone),
            Err(e) => Err(e),
        };
        match marked {
            Ok(Marked::Renamed) => {
                out.retired += 1;
                out.lines.push(format!(
                    "{}: undone by {} at {}{}",
                    m.file,
                    undone.by,
                    undone.at,
                    if undone.notes.is_empty() || undone.notes == "undone" {
                        String::new()
                    } else {
                        format!(" ({})", undone.notes)
                    }
                ));
            }
            Ok(Marked::AlreadyExecuted) => {}
            Err(e) => {
                out.errors += 1;
                out.lines.push(format!("{}: {e}", m.file));
                return;
            }
        }
    }
    if let Err(e) = store.remove(m).await {
        out.errors += 1;
        out.lines.push(format!("{}: {e}", m.file));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mirror_names_only_a_file_inside_the_journal() {
        let root = Path::new("/j");
        assert_eq!(local_path(root, "1-run/a.yaml"), Some(PathBuf::from("/j/1-run/a.yaml")));
        for bad in ["../etc/passwd", "/etc/passwd", "1-run/../../x", "a.yaml", "a/b/c.yaml", ""] {
            assert_eq!(local_path(root, bad), None, "{bad}");
        }
    }
}
