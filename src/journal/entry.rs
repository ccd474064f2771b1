//! One journal entry: what changed and the generic Kubernetes operations that undo it.
//!
//! The on-disk form is a comment header for humans (what changed, the kubectl commands that undo
//! it by hand) followed by a YAML body that is the only thing read back. Undo actions are plain
//! object operations, never scenario code, so any binary can replay them.

use serde::{Deserialize, Serialize};

use super::kubectl;
pub use super::undo::{ENTRY_LABEL, UndoAction, creatable};
pub use crate::refs::{ClusterIdentity, ObjectRef, object_ref_of};

/// Bumped when the body changes incompatibly; readers refuse newer formats instead of guessing.
pub const FORMAT_VERSION: u32 = 1;

/// Label put on every object chaosdeck creates.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "chaosdeck";
pub const RUN_UUID_LABEL: &str = "chaosdeck.io/run-uuid";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub format: u32,
    pub run_uuid: String,
    pub scenario_type: String,
    #[serde(default)]
    pub scenario_file: Option<String>,
    /// One sentence: what chaosdeck changed.
    pub step: String,
    pub created_at: String,
    pub writer: Writer,
    /// The cluster the change was made on; the executor refuses to apply the undo elsewhere.
    /// Absent in entries of older chaosdeck versions (treated like Krkn's: unrecorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterIdentity>,
    /// Applied in order; each is idempotent.
    pub undo: Vec<UndoAction>,
    /// Set when the API server refused the change outright (it was never made): the entry was
    /// retired at once instead of being undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applied: Option<NotApplied>,
    /// Where the entry is mirrored in the cluster (the dead man's switch), so whoever executes
    /// it removes the mirror too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<MirrorRef>,
    /// Set when someone else undid the change (the watchdog, from the mirror) and the entry was
    /// reconciled: who, when, and what they found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undone_by: Option<UndoneBy>,
}

/// The ConfigMap that mirrors an entry in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorRef {
    pub namespace: String,
    pub name: String,
}

/// Who undid an entry from its mirror, as recorded on the mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoneBy {
    pub by: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

/// Why an entry was retired without an undo: the change it journals was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotApplied {
    pub at: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writer {
    pub pid: u32,
    pub host: String,
}

impl Writer {
    pub fn current() -> Self {
        let host = hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
        Writer { pid: std::process::id(), host }
    }
}

impl Entry {
    /// One line describing the whole undo, e.g. `delete Pod default/cpu-hog-x`.
    pub fn undo_summary(&self) -> String {
        match self.undo.as_slice() {
            [] => "nothing to undo".to_string(),
            [one] => one.summary(),
            [first, rest @ ..] => format!("{} (+{} more)", first.summary(), rest.len()),
        }
    }

    /// The file as written: a header a human can act on, then the YAML body.
    pub fn render(&self, file_name: &str) -> Result<String, serde_saphyr::SerializeError> {
        let body = serde_saphyr::to_string(self)?;
        let mut out = String::with_capacity(body.len() + 512);
        out.push_str("#!/usr/bin/env -S chaosdeck execute-rollback --file\n");
        out.push_str(
            "# chaosdeck rollback journal entry. Pending while this file ends in .yaml;\n",
        );
        out.push_str("# renamed to .yaml.executed once undone.\n");
        push_comment(&mut out, "Change:  ", &self.step);
        push_comment(&mut out, "Undo:    ", &self.undo_summary());
        push_comment(
            &mut out,
            "Writer:  ",
            &format!("pid {} on {} at {}", self.writer.pid, self.writer.host, self.created_at),
        );
        if let Some(cluster) = &self.cluster {
            push_comment(&mut out, "Cluster: ", &cluster.describe());
        }
        if let Some(na) = &self.not_applied {
            push_comment(&mut out, NOT_APPLIED_PREFIX, &format!("{} ({})", na.reason, na.at));
        }
        if let Some(m) = &self.mirror {
            push_comment(
                &mut out,
                "Mirror:  ",
                &format!("configmap/{} -n {}", m.name, m.namespace),
            );
        }
        if let Some(u) = &self.undone_by {
            push_comment(&mut out, UNDONE_BY_PREFIX, &format!("{} at {}", u.by, u.at));
        }
        out.push_str("# By hand:\n");
        let context = self.cluster.as_ref().map(|c| c.context.as_str());
        for action in &self.undo {
            for line in kubectl::commands(action, context) {
                push_comment(&mut out, "  ", &line);
            }
        }
        push_comment(
            &mut out,
            "Or:      ",
            &format!("chaosdeck execute-rollback --file {file_name}"),
        );
        out.push_str(&body);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        Ok(out)
    }

    /// Reads a body written by [`Entry::render`] (the comment header is ignored by YAML).
    pub fn parse(text: &str) -> Result<Entry, EntryParseError> {
        let entry: Entry = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
            EntryParseError::Yaml { line, column, message: e.without_snippet().to_string() }
        })?;
        if entry.format > FORMAT_VERSION {
            return Err(EntryParseError::NewerFormat(entry.format));
        }
        if entry.undo.is_empty() {
            return Err(EntryParseError::NoUndo);
        }
        Ok(entry.printable())
    }

    /// The entry with every text a human reads (step, names, reasons, who) stripped of control
    /// characters: a file anyone may have edited must not drive the terminal it is shown on,
    /// nor forge a line in a log. Snapshots and patches stay as written (they are printed as
    /// JSON, which escapes them, and applied as data).
    fn printable(mut self) -> Entry {
        let clean = |s: &mut String| {
            if let std::borrow::Cow::Owned(c) = crate::refs::printable(s) {
                *s = c;
            }
        };
        for s in [
            &mut self.run_uuid,
            &mut self.scenario_type,
            &mut self.step,
            &mut self.created_at,
            &mut self.writer.host,
        ] {
            clean(s);
        }
        if let Some(f) = self.scenario_file.as_mut() {
            clean(f);
        }
        if let Some(c) = self.cluster.as_mut() {
            clean(&mut c.context);
            clean(&mut c.server);
            if let Some(uid) = c.kube_system_uid.as_mut() {
                clean(uid);
            }
        }
        if let Some(n) = self.not_applied.as_mut() {
            clean(&mut n.at);
            clean(&mut n.reason);
        }
        if let Some(m) = self.mirror.as_mut() {
            clean(&mut m.namespace);
            clean(&mut m.name);
        }
        if let Some(u) = self.undone_by.as_mut() {
            clean(&mut u.by);
            clean(&mut u.at);
            clean(&mut u.notes);
        }
        for action in &mut self.undo {
            for s in action.names_mut() {
                clean(s);
            }
        }
        self
    }
}

/// The header line of a retired entry whose change was refused (nothing to undo).
const NOT_APPLIED_PREFIX: &str = "Not applied: ";
/// The header line of an entry someone else undid (the watchdog).
const UNDONE_BY_PREFIX: &str = "Undone by: ";

/// What the comment header says, read without parsing the YAML body: enough to tell an
/// entry's state and writer (the engine's count of what is outstanding). Never what it undoes:
/// a header is a comment anyone editing the file can make say anything, so whatever shows an
/// undo reads it from the parsed body ([`Depth::Full`](super::scan::Depth)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub step: String,
    pub writer: Option<Writer>,
    /// The reason, when the change was refused and the entry retired as not applied.
    pub not_applied: Option<String>,
    /// `<who> at <when>`, when someone else (the watchdog) undid it.
    pub undone_by: Option<String>,
}

impl Header {
    /// Reads the header of a rendered entry; `None` when the file does not look like one (no
    /// header, or no `format:`/`undo:` keys in the body).
    pub fn read(text: &str) -> Option<Header> {
        Header::read_listing(text).map(|(header, _)| header)
    }

    /// [`Header::read`], and the raw value of the body's first top-level `scenario_file:` line,
    /// in one pass over the text (a listing reads thousands of entries).
    pub(crate) fn read_listing(text: &str) -> Option<(Header, Option<&str>)> {
        let mut step = None;
        let mut writer = None;
        let mut not_applied = None;
        let mut undone_by = None;
        let mut scenario_file = None;
        let (mut has_format, mut has_undo) = (false, false);
        for line in text.lines() {
            if let Some(comment) = line.strip_prefix("# ") {
                if let Some(rest) = comment.strip_prefix("Change:  ") {
                    step = Some(rest);
                } else if let Some(rest) = comment.strip_prefix("Writer:  pid ") {
                    let mut words = rest.split(' ');
                    let pid = words.next().and_then(|p| p.parse().ok());
                    let host = words.nth(1).map(str::to_string);
                    if let (Some(pid), Some(host)) = (pid, host) {
                        writer = Some(Writer { pid, host });
                    }
                } else if let Some(rest) = comment.strip_prefix(NOT_APPLIED_PREFIX) {
                    not_applied = Some(rest.to_string());
                } else if let Some(rest) = comment.strip_prefix(UNDONE_BY_PREFIX) {
                    undone_by = Some(rest.to_string());
                }
            } else if line.starts_with("format: ") {
                has_format = true;
            } else if line.starts_with("undo:") {
                has_undo = true;
            } else if let Some(rest) = line.strip_prefix("scenario_file: ") {
                scenario_file = scenario_file.or(Some(rest));
            }
        }
        if !(has_format && has_undo) {
            return None;
        }
        let header = Header {
            step: crate::refs::printable(step?).into_owned(),
            writer,
            not_applied,
            undone_by,
        };
        Some((header, scenario_file))
    }
}

fn push_comment(out: &mut String, prefix: &str, text: &str) {
    // A newline inside a value must not end the comment and inject YAML; no other control
    // character may reach whoever reads the file with `cat`.
    let text = crate::refs::printable_lines(text);
    for (i, line) in text.lines().enumerate() {
        out.push_str("# ");
        out.push_str(if i == 0 { prefix } else { "         " });
        out.push_str(line);
        out.push('\n');
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EntryParseError {
    #[error("line {line}, column {column}: {message}")]
    Yaml { line: u64, column: u64, message: String },
    #[error("written in format {0}, newer than this chaosdeck understands ({FORMAT_VERSION})")]
    NewerFormat(u32),
    #[error("the entry lists no undo action")]
    NoUndo,
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use serde_json::json;

    pub fn sample() -> Entry {
        Entry {
            format: FORMAT_VERSION,
            run_uuid: "7b5842f8-c142-4e90-8235-02cb0e1ec634".into(),
            scenario_type: "service_hijacking_scenarios".into(),
            scenario_file: Some("config/scenarios/service_hijacking.yaml".into()),
            step: "pointed Service default/nginx at the hijack pod".into(),
            created_at: "2026-11-22T03:00:00Z".into(),
            writer: Writer { pid: 42, host: "laptop".into() },
            cluster: Some(ClusterIdentity {
                context: "kind-staging".into(),
                server: "https://127.0.0.1:6443/".into(),
                kube_system_uid: Some("0b1c7e7a-4c55-4b8e-9d4c-6f0b8a7c2d11".into()),
            }),
            undo: vec![
                UndoAction::Patch {
                    target: ObjectRef::new("v1", "Service", Some("default"), "nginx"),
                    restore: json!({"spec": {"selector": {"app": "nginx", "hijack": null}}}),
                    guard: json!({"spec": {"selector": {"hijack": "sh-abcde"}}}),
                },
                UndoAction::Delete {
                    target: ObjectRef::new("v1", "Pod", Some("default"), "hijack-abcde"),
                    uid: Some("0b7d".into()),
                    require_labels: BTreeMap::new(),
                },
                UndoAction::Create {
                    object: json!({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "solo", "namespace": "default"},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
                },
            ],
            not_applied: None,
            mirror: None,
            undone_by: None,
        }
    }

    #[test]
    fn render_then_parse_round_trips() {
        let entry = sample();
        let text = entry.render("x.yaml").unwrap();
        assert!(text.starts_with("#!"));
        // The by-hand lines name the entry's cluster: pasted elsewhere, they do not act there.
        let context = &entry.cluster.as_ref().unwrap().context;
        assert!(text.contains(&format!(
            "kubectl --context {context} patch service/nginx -n default --type merge"
        )));
        assert_eq!(Entry::parse(&text).unwrap(), entry);
    }

    #[test]
    fn header_carries_what_listing_needs() {
        let entry = sample();
        let header = Header::read(&entry.render("x.yaml").unwrap()).unwrap();
        assert_eq!(header.step, entry.step);
        assert_eq!(header.writer, Some(entry.writer.clone()));
        assert_eq!(Header::read("format: 1\nundo: []\n"), None);
    }

    #[test]
    fn a_refused_change_reads_back_as_not_applied_with_its_reason() {
        let mut entry = sample();
        entry.not_applied = Some(NotApplied {
            at: "2026-11-22T03:00:01Z".into(),
            reason: "the API server refused the create (HTTP 403): forbidden".into(),
        });
        let text = entry.render("x.yaml").unwrap();
        assert_eq!(Entry::parse(&text).unwrap(), entry);
        let header = Header::read(&text).unwrap();
        assert_eq!(
            header.not_applied.as_deref(),
            Some("the API server refused the create (HTTP 403): forbidden (2026-11-22T03:00:01Z)")
        );
        assert_eq!(Header::read(&sample().render("x.yaml").unwrap()).unwrap().not_applied, None);
    }

    #[test]
    fn multi_line_step_cannot_inject_yaml() {
        let mut entry = sample();
        entry.step = "first\nrun_uuid: evil".into();
        let text = entry.render("x.yaml").unwrap();
        assert_eq!(Entry::parse(&text).unwrap().run_uuid, entry.run_uuid);
    }

    #[test]
    fn control_characters_in_an_entry_never_reach_a_reader() {
        let mut entry = sample();
        entry.step = "restored\x1b[2J\x1b]0;owned\x07".into();
        if let UndoAction::Delete { target, .. } = &mut entry.undo[1] {
            target.name = "pod\x1b[31m".into();
        }
        let text = entry.render("x.yaml").unwrap();
        // The header is stripped; the body keeps the value, escaped by YAML (`\e`).
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
        let back = Entry::parse(&text).unwrap();
        assert!(!back.step.contains('\x1b') && !back.step.contains('\x07'), "{}", back.step);
        assert!(!back.undo_summary().contains('\x1b'));
        assert!(!back.undo[1].summary().contains('\x1b'), "{}", back.undo[1].summary());
    }

    #[test]
    fn malformed_bodies_are_reported_with_a_line() {
        let err = Entry::parse("format: 1\nrun_uuid: [\n").unwrap_err();
        assert!(matches!(err, EntryParseError::Yaml { line, .. } if line >= 1), "{err}");
        let mut newer = sample();
        newer.format = 99;
        let text = newer.render("x.yaml").unwrap();
        assert_eq!(Entry::parse(&text).unwrap_err(), EntryParseError::NewerFormat(99));
    }
}
