//! File and directory names of the journal: how they are minted and how they are read back.
//!
//! Context directory: `<ctx_ts_ns>-<run_uuid>`; entry file:
//! `<scenario_type>_<ts_ns>_<suffix>.yaml` (Krkn's shape with `.yaml` for `.py`). Timestamps come
//! from a process-wide clock that never repeats a value, so two entries minted in the same
//! nanosecond by two tasks still get distinct, ordered names (Krkn D1/D2). Across processes the
//! random suffix plus no-replace renames keep names unique.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

/// Extension of a pending chaosdeck entry.
pub const ENTRY_EXT: &str = ".yaml";
/// Appended to an entry (ours or Krkn's) once it has been undone.
pub const EXECUTED_EXT: &str = ".executed";
/// Appended to an entry's name for the sidecar that records its last failed undo.
pub const ERROR_EXT: &str = ".error";
/// Krkn's pending version files.
pub const KRKN_EXT: &str = ".py";
/// The per-context lock file of older versions; the lock is now `flock` on the directory
/// itself. Leftovers are skipped when scanning (never deleted: they may be someone's).
pub const LEGACY_LOCK_FILE: &str = ".lock";
/// chaosdeck's own directory at the journal root, for what must not go into Krkn's context
/// directories (error records of Krkn files). Hidden, and not `<digits>-<uuid>`, so Krkn's
/// `list-rollback` skips it silently; Krkn's `execute-rollback` search logs one "does not match
/// expected pattern" warning for it per run, as it does for any name at the root that is not a
/// context directory — no name avoids that except a context-shaped one, which Krkn would list
/// as an empty run and warn about file by file. Inside the root, the records travel with the
/// journal when it is copied.
pub const CHAOSDECK_DIR: &str = ".chaosdeck";
/// Under [`CHAOSDECK_DIR`]: `<context>/<file>.error` for Krkn files whose undo failed.
pub const KRKN_ERRORS_DIR: &str = "krkn-errors";
/// Journal-wide audit log (emergency rollbacks, manual marks).
pub const AUDIT_FILE: &str = "audit.log";

static LAST_TS: AtomicU64 = AtomicU64::new(0);

/// Nanoseconds since the epoch, strictly increasing within this process.
pub fn unique_timestamp_ns() -> u64 {
    let now =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut prev = LAST_TS.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST_TS.compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => prev = seen,
        }
    }
}

/// Eight random lowercase letters, the shape Krkn uses for its suffix.
pub fn random_suffix() -> String {
    let mut rng = rand::rng();
    (0..8).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect()
}

pub fn context_dir_name(ts_ns: u64, run_uuid: &str) -> String {
    format!("{ts_ns}-{run_uuid}")
}

pub fn entry_file_name(scenario_type: &str, ts_ns: u64, suffix: &str) -> String {
    format!("{scenario_type}_{ts_ns}_{suffix}{ENTRY_EXT}")
}

/// A context directory name, parsed with Krkn's rule: `<digits>-<run_uuid>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextName {
    pub ts_ns: u64,
    pub run_uuid: String,
}

pub fn parse_context_dir(name: &str) -> Option<ContextName> {
    let (ts, run_uuid) = name.split_once('-')?;
    if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) || run_uuid.is_empty() {
        return None;
    }
    Some(ContextName { ts_ns: ts.parse().ok()?, run_uuid: run_uuid.to_string() })
}

/// Whose format a version file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Chaosdeck,
    Krkn,
}

/// An entry file name split into its parts (`stem` is the name without any extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryName {
    pub flavor: Flavor,
    pub scenario_type: String,
    pub ts_ns: u64,
    pub suffix: String,
    pub executed: bool,
}

impl EntryName {
    /// The label value that ties a cluster object to this entry: `<ts>-<suffix>` (≤ 63 chars).
    pub fn id(&self) -> String {
        format!("{}-{}", self.ts_ns, self.suffix)
    }

    pub fn pending_file_name(&self) -> String {
        let ext = match self.flavor {
            Flavor::Chaosdeck => ENTRY_EXT,
            Flavor::Krkn => KRKN_EXT,
        };
        format!("{}_{}_{}{ext}", self.scenario_type, self.ts_ns, self.suffix)
    }
}

/// Parses `<scenario_type>_<ts>_<suffix>.yaml[.executed]` or Krkn's `.py[.executed]`
/// (Krkn §1.3: at least three `_` parts, digits, an 8-character alphanumeric suffix).
pub fn parse_entry_file(name: &str) -> Option<EntryName> {
    let (base, executed) = match name.strip_suffix(EXECUTED_EXT) {
        Some(base) => (base, true),
        None => (name, false),
    };
    let (stem, flavor) = if let Some(stem) = base.strip_suffix(ENTRY_EXT) {
        (stem, Flavor::Chaosdeck)
    } else if let Some(stem) = base.strip_suffix(KRKN_EXT) {
        (stem, Flavor::Krkn)
    } else {
        return None;
    };
    let mut parts = stem.rsplitn(3, '_');
    let suffix = parts.next()?;
    let ts = parts.next()?;
    let scenario_type = parts.next()?;
    let suffix_ok = suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_alphanumeric());
    let ts_ok = !ts.is_empty() && ts.bytes().all(|b| b.is_ascii_digit());
    if !suffix_ok || !ts_ok || scenario_type.is_empty() {
        return None;
    }
    Some(EntryName {
        flavor,
        scenario_type: scenario_type.to_string(),
        ts_ns: ts.parse().ok()?,
        suffix: suffix.to_string(),
        executed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_krkn_fixture_names() {
        let n = parse_entry_file("application_outages_scenarios_1795315097812653975_mbmixfdj.py")
            .unwrap();
        assert_eq!(n.flavor, Flavor::Krkn);
        assert_eq!(n.scenario_type, "application_outages_scenarios");
        assert_eq!(n.ts_ns, 1795315097812653975);
        assert_eq!(n.suffix, "mbmixfdj");
        assert!(!n.executed);
        let e = parse_entry_file("x_scenarios_1_augxihhy.py.executed").unwrap();
        assert!(e.executed);
        let c =
            parse_context_dir("1795315098641937822-7b5842f8-c142-4e90-8235-02cb0e1ec634").unwrap();
        assert_eq!(c.run_uuid, "7b5842f8-c142-4e90-8235-02cb0e1ec634");
    }

    #[test]
    fn rejects_names_outside_the_rules() {
        for bad in [
            "hog_scenarios_12_short.yaml",
            "hog_scenarios_1x2_abcdefgh.yaml",
            "_12_abcdefgh.yaml",
            "hog_scenarios_12_abcdefgh.txt",
            "notes.yaml",
        ] {
            assert!(parse_entry_file(bad).is_none(), "{bad}");
        }
        assert!(parse_context_dir("abc-uuid").is_none());
        assert!(parse_context_dir("123-").is_none());
        assert!(parse_context_dir("123").is_none());
    }

    #[test]
    fn minted_names_round_trip() {
        let ts = unique_timestamp_ns();
        let sfx = random_suffix();
        let name = entry_file_name("hog_scenarios", ts, &sfx);
        let parsed = parse_entry_file(&name).unwrap();
        assert_eq!((parsed.scenario_type.as_str(), parsed.ts_ns), ("hog_scenarios", ts));
        assert_eq!(parsed.pending_file_name(), name);
    }

    #[test]
    fn timestamps_strictly_increase_across_threads() {
        let per_thread = 2000;
        let handles: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(move || {
                    (0..per_thread).map(|_| unique_timestamp_ns()).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            let v = h.join().unwrap();
            assert!(v.windows(2).all(|w| w[0] < w[1]), "per-thread order");
            all.extend(v);
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "no timestamp handed out twice");
    }
}
