//! One mirror: a ConfigMap holding one journal entry exactly as it is on disk, plus its state.
//!
//! ConfigMaps hold at most 1 MiB, so each entry gets its own. The entry text is the whole
//! contract: the watchdog parses it with the same parser as the local journal, so the undo
//! actions and their guards are the ones the operator's file shows.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

use crate::cluster::Caller;
use crate::journal::WrittenEntry;
use crate::journal::entry::{
    Entry, MANAGED_BY_LABEL, MANAGED_BY_VALUE, MirrorRef, RUN_UUID_LABEL, UndoneBy,
};
pub use crate::journal::mirror_link::{
    AUTHOR_ANNOTATION, AUTHOR_GROUPS_ANNOTATION, MIRROR_LABEL, MIRROR_LABEL_VALUE,
    OUTCOME_ANNOTATION, STATE_LABEL, UNDONE_AT_ANNOTATION, UNDONE_BY_ANNOTATION,
};
use crate::refs::printable;

/// Bumped when the mirror's layout changes; a watchdog skips formats it does not know.
pub const MIRROR_FORMAT: &str = "1";
pub const FORMAT_ANNOTATION: &str = "chaosdeck.io/mirror-format";
/// `<context directory>/<file name>` of the local entry.
pub const FILE_ANNOTATION: &str = "chaosdeck.io/file";
pub const ATTEMPTS_ANNOTATION: &str = "chaosdeck.io/attempts";
pub const ENTRY_KEY: &str = "entry.yaml";

/// The most an entry may hold in a mirror; deploy/watchdog.yaml's policy refuses bigger ones,
/// so a flood of large ConfigMaps cannot be made to look like mirrors. An entry re-creating a
/// pod is a few KiB.
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;
/// The most an outcome annotation holds (the policy allows 4 KiB per annotation).
pub const MAX_OUTCOME_CHARS: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorState {
    Pending,
    /// Undone by the watchdog (or found already undone).
    Executed,
    /// The watchdog's undo failed; retried later.
    Failed,
}

impl MirrorState {
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorState::Pending => "pending",
            MirrorState::Executed => "executed",
            MirrorState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<MirrorState> {
        match s {
            "pending" => Some(MirrorState::Pending),
            "executed" => Some(MirrorState::Executed),
            "failed" => Some(MirrorState::Failed),
            _ => None,
        }
    }
}

/// The ConfigMap that mirrors `written` (which must name its mirror), written by `author` (the
/// API server checks that this is who creates it).
pub fn build(written: &WrittenEntry, author: &Caller) -> Result<ConfigMap, String> {
    let mirror = written
        .entry
        .mirror
        .as_ref()
        .ok_or_else(|| format!("internal: {} names no mirror", written.path.display()))?;
    let file_name = written.name.pending_file_name();
    let text = written
        .entry
        .render(&file_name)
        .map_err(|e| format!("cannot render {} for its mirror: {e}", written.path.display()))?;
    if text.len() > MAX_ENTRY_BYTES {
        return Err(format!(
            "{} is {} bytes, more than a mirror can hold ({MAX_ENTRY_BYTES})",
            written.path.display(),
            text.len()
        ));
    }
    let context = written
        .path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(ConfigMap {
        metadata: ObjectMeta {
            name: Some(mirror.name.clone()),
            namespace: Some(mirror.namespace.clone()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
                (MIRROR_LABEL.to_string(), MIRROR_LABEL_VALUE.to_string()),
                (RUN_UUID_LABEL.to_string(), written.entry.run_uuid.clone()),
                (STATE_LABEL.to_string(), MirrorState::Pending.as_str().to_string()),
            ])),
            annotations: Some(BTreeMap::from([
                (FORMAT_ANNOTATION.to_string(), MIRROR_FORMAT.to_string()),
                (FILE_ANNOTATION.to_string(), format!("{context}/{file_name}")),
                (AUTHOR_ANNOTATION.to_string(), author.username.clone()),
                (AUTHOR_GROUPS_ANNOTATION.to_string(), author.encoded_groups()),
            ])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(ENTRY_KEY.to_string(), text)])),
        ..ConfigMap::default()
    })
}

/// The entry's timestamp from a mirror's name (`chaosdeck-<ts>-<suffix>`): newest first means
/// highest first.
pub fn order_of(name: &str) -> Option<u64> {
    name.strip_prefix("chaosdeck-")?.split('-').next()?.parse().ok()
}

/// A mirror as the watchdog and reconcile read it.
#[derive(Debug, Clone)]
pub struct Mirror {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub resource_version: String,
    pub run_uuid: String,
    /// The entry's timestamp (ns): newest first means highest first.
    pub order: u64,
    pub entry: Entry,
    pub state: MirrorState,
    /// `<context directory>/<file name>` of the local entry.
    pub file: String,
    /// Who created the mirror, as the API server checked it at admission.
    pub author: Caller,
    pub undone_by: Option<UndoneBy>,
    pub outcome: Option<String>,
    pub attempts: u32,
}

impl Mirror {
    pub fn reference(&self) -> MirrorRef {
        MirrorRef { namespace: self.namespace.clone(), name: self.name.clone() }
    }
}

/// Reads a ConfigMap as a mirror; `Err` says why it is not one the watchdog may act on (it is
/// then skipped, never executed and never deleted).
pub fn read(cm: &ConfigMap) -> Result<Mirror, String> {
    let meta = &cm.metadata;
    let name = meta.name.clone().unwrap_or_default();
    let labels = meta.labels.clone().unwrap_or_default();
    let annotations = meta.annotations.clone().unwrap_or_default();
    let label = |k: &str| labels.get(k).map(String::as_str);
    if label(MANAGED_BY_LABEL) != Some(MANAGED_BY_VALUE)
        || label(MIRROR_LABEL) != Some(MIRROR_LABEL_VALUE)
    {
        return Err(format!(
            "labels are not a chaosdeck mirror's ({MANAGED_BY_LABEL}={MANAGED_BY_VALUE}, \
             {MIRROR_LABEL}={MIRROR_LABEL_VALUE})"
        ));
    }
    match annotations.get(FORMAT_ANNOTATION).map(String::as_str) {
        Some(MIRROR_FORMAT) => {}
        Some(other) => {
            return Err(format!(
                "mirror format {other:?} is not one this watchdog knows ({MIRROR_FORMAT})"
            ));
        }
        None => return Err(format!("no {FORMAT_ANNOTATION} annotation")),
    }
    let state = label(STATE_LABEL).and_then(MirrorState::parse).ok_or_else(|| {
        format!("{STATE_LABEL} is {:?}, not pending/executed/failed", label(STATE_LABEL))
    })?;
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get(ENTRY_KEY))
        .ok_or_else(|| format!("no data key {ENTRY_KEY}"))?;
    let entry = Entry::parse(text).map_err(|e| format!("{ENTRY_KEY}: {e}"))?;
    let run_uuid = label(RUN_UUID_LABEL).unwrap_or_default().to_string();
    if run_uuid != entry.run_uuid {
        return Err(format!(
            "label {RUN_UUID_LABEL}={run_uuid:?} does not match the entry's run {}",
            entry.run_uuid
        ));
    }
    let namespace = meta.namespace.clone().unwrap_or_default();
    // The entry must name this very object: a copied or renamed mirror is not trusted.
    let named = entry.mirror.as_ref().is_some_and(|m| m.name == name && m.namespace == namespace);
    if !named {
        return Err(format!("the entry names another mirror ({:?})", entry.mirror));
    }
    let order = order_of(&name).ok_or_else(|| {
        format!("name {:?} is not chaosdeck-<timestamp>-<suffix>", printable(&name))
    })?;
    let author =
        match (annotations.get(AUTHOR_ANNOTATION), annotations.get(AUTHOR_GROUPS_ANNOTATION)) {
            (Some(user), Some(groups)) if !user.is_empty() => {
                Caller::from_annotations(user, groups)
            }
            _ => {
                return Err(format!(
                    "no {AUTHOR_ANNOTATION} and {AUTHOR_GROUPS_ANNOTATION} annotations: nobody \
                 vouches for who wrote it"
                ));
            }
        };
    // Cluster data on its way to terminals, logs and files.
    let text = |s: &String| printable(s).into_owned();
    let undone_by =
        match (annotations.get(UNDONE_BY_ANNOTATION), annotations.get(UNDONE_AT_ANNOTATION)) {
            (Some(by), Some(at)) => Some(UndoneBy {
                by: text(by),
                at: text(at),
                notes: annotations.get(OUTCOME_ANNOTATION).map(text).unwrap_or_default(),
            }),
            _ => None,
        };
    Ok(Mirror {
        name,
        namespace,
        uid: meta.uid.clone().unwrap_or_default(),
        resource_version: meta.resource_version.clone().unwrap_or_default(),
        run_uuid,
        order,
        entry,
        state,
        file: annotations.get(FILE_ANNOTATION).map(text).unwrap_or_default(),
        author,
        undone_by,
        outcome: annotations.get(OUTCOME_ANNOTATION).map(text),
        attempts: annotations.get(ATTEMPTS_ANNOTATION).and_then(|a| a.parse().ok()).unwrap_or(0),
    })
}

/// `cm` with the state, who/when and outcome of an attempt set (the resourceVersion kept, so
/// a replace only lands on the version that was read).
pub fn with_outcome(
    cm: &ConfigMap,
    state: MirrorState,
    by: &str,
    at: &str,
    outcome: &str,
) -> ConfigMap {
    let mut cm = cm.clone();
    let labels = cm.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(STATE_LABEL.to_string(), state.as_str().to_string());
    let annotations = cm.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let attempts = annotations
        .get(ATTEMPTS_ANNOTATION)
        .and_then(|a| a.parse::<u32>().ok())
        .unwrap_or(0)
        .saturating_add(1);
    annotations.insert(ATTEMPTS_ANNOTATION.to_string(), attempts.to_string());
    let outcome: String = printable(outcome).chars().take(MAX_OUTCOME_CHARS).collect();
    annotations.insert(OUTCOME_ANNOTATION.to_string(), outcome);
    if state == MirrorState::Executed {
        annotations.insert(UNDONE_BY_ANNOTATION.to_string(), by.to_string());
        annotations.insert(UNDONE_AT_ANNOTATION.to_string(), at.to_string());
    }
    cm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_up_and_stop_at_the_largest_number() {
        let mut cm = ConfigMap::default();
        let attempts = |cm: &ConfigMap| {
            cm.metadata.annotations.as_ref().and_then(|a| a.get(ATTEMPTS_ANNOTATION)).cloned()
        };
        cm = with_outcome(&cm, MirrorState::Failed, "w", "t", "x");
        assert_eq!(attempts(&cm).as_deref(), Some("1"));
        cm.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(ATTEMPTS_ANNOTATION.into(), u32::MAX.to_string());
        cm = with_outcome(&cm, MirrorState::Failed, "w", "t", "x");
        assert_eq!(attempts(&cm), Some(u32::MAX.to_string()), "anyone can write the annotation");
    }
}
