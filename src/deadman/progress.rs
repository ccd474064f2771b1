//! A run's progress in a few KiB, as its Lease carries it (annotation [`PROGRESS_ANNOTATION`]):
//! the engine's state, each scenario file's row and each health row's last sample. The run
//! folds its engine's events into it (`observe::progress`), the Lease keeper writes it with each
//! renewal, and `chaosdeck attach` reads it to draw the Scenarios and Health panels of a run on
//! another machine.
//!
//! Owns: the record, its encoding and size bound, and decoding what a Lease holds — which is
//! hostile until checked: only its author and the watchdog may write it (deploy/watchdog.yaml),
//! and decoding still bounds every count and length and keeps only printable text. Must not
//! read or write the cluster.

use serde::{Deserialize, Serialize};

use crate::scenario_status::ScenarioRow;

/// The Lease annotation holding [`Progress::encode`].
pub const PROGRESS_ANNOTATION: &str = "chaosdeck.io/progress";
/// The policies allow 4 KiB per annotation; the encoding stays under it.
pub const MAX_BYTES: usize = 4000;
/// Rows of each kind kept when decoding (a game day's config names far fewer).
const MAX_ROWS: usize = 64;
/// Characters kept of a step or a health detail when there is room.
const TEXT: usize = 120;
/// ... and when there is not.
const SHORT_TEXT: usize = 24;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The engine state's label (`running`, `paused`, …), empty before the engine said.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub scenarios: Vec<ScenarioRow>,
    #[serde(default)]
    pub health: Vec<HealthLine>,
    /// The health rounds' interval.
    #[serde(default)]
    pub health_interval_ms: u64,
    /// The run's exit code, once it finished.
    #[serde(default)]
    pub exit_code: Option<u8>,
    /// Rows left out to stay under [`MAX_BYTES`].
    #[serde(default)]
    pub left_out: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthLine {
    pub name: String,
    /// [`crate::health::CheckKind::as_str`].
    pub kind: String,
    /// The round of the last sample (none yet: `None`).
    #[serde(default)]
    pub tick: Option<u64>,
    #[serde(default)]
    pub ok: bool,
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub detail: String,
}

pub(crate) fn cut(text: &str, chars: usize) -> String {
    let clean = crate::refs::printable(text);
    match clean.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &clean[..at]),
        None => clean.into_owned(),
    }
}

impl Progress {
    /// JSON of at most [`MAX_BYTES`]: texts shortened first, then rows left out (counted in
    /// `left_out`), health rows before scenario rows.
    pub fn encode(&self) -> String {
        let mut out = self.clone();
        out.shorten(TEXT);
        let mut text = serde_json::to_string(&out).unwrap_or_default();
        if text.len() > MAX_BYTES {
            out.shorten(SHORT_TEXT);
            text = serde_json::to_string(&out).unwrap_or_default();
        }
        while text.len() > MAX_BYTES {
            if out.health.pop().is_none() && out.scenarios.pop().is_none() {
                return String::new();
            }
            out.left_out += 1;
            text = serde_json::to_string(&out).unwrap_or_default();
        }
        text
    }

    /// What a Lease's annotation says, bounded and printable; why not when it is not a progress.
    pub fn decode(text: &str) -> Result<Progress, String> {
        if text.len() > MAX_BYTES {
            return Err(format!("{} bytes, more than the {MAX_BYTES} a run writes", text.len()));
        }
        let mut p: Progress =
            serde_json::from_str(text).map_err(|e| format!("not a progress record ({e})"))?;
        p.scenarios.truncate(MAX_ROWS);
        p.health.truncate(MAX_ROWS);
        p.state = cut(&p.state, 16);
        p.shorten(TEXT);
        for s in &mut p.scenarios {
            s.scenario_type = cut(&s.scenario_type, 64);
            s.file = cut(&s.file, 64);
        }
        for h in &mut p.health {
            h.name = cut(&h.name, 64);
            h.kind = cut(&h.kind, 16);
        }
        Ok(p)
    }

    fn shorten(&mut self, chars: usize) {
        for s in &mut self.scenarios {
            s.step = cut(&s.step, chars);
        }
        for h in &mut self.health {
            h.detail = cut(&h.detail, chars);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Progress {
        let line = |i| ScenarioRow {
            scenario_type: format!("type_{i}"),
            file: format!("f{i}.yaml"),
            step: "é".repeat(500),
            ..ScenarioRow::default()
        };
        Progress { scenarios: (0..n).map(line).collect(), ..Progress::default() }
    }

    #[test]
    fn the_encoding_fits_an_annotation_however_many_rows() {
        let text = rows(200).encode();
        assert!(text.len() <= MAX_BYTES, "{}", text.len());
        let back = Progress::decode(&text).unwrap();
        assert!(back.left_out > 0 && back.scenarios.len() + back.left_out == 200);
        assert!(back.scenarios[0].step.chars().count() <= SHORT_TEXT + 1);
    }

    #[test]
    fn decoding_bounds_and_cleans_what_a_lease_holds() {
        assert!(Progress::decode(&"x".repeat(MAX_BYTES + 1)).unwrap_err().contains("bytes"));
        assert!(Progress::decode("{\"scenarios\": 3}").unwrap_err().contains("not a progress"));
        let hostile = r#"{"state":"running\u001b[2J","scenarios":[{"scenario_type":"t","file":"f",
            "status":"running","step":"a\u001b]0;owned\u0007b"}]}"#;
        let p = Progress::decode(hostile).unwrap();
        assert!(!p.state.contains('\u{1b}') && !p.scenarios[0].step.contains('\u{1b}'), "{p:?}");
        let unknown = r#"{"scenarios":[{"scenario_type":"t","file":"f","status":"won"}]}"#;
        assert!(Progress::decode(unknown).is_err());
    }
}
