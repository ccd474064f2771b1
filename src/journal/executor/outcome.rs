//! What happened to one entry ([`Outcome`]), and how a batch adds up ([`Tally`]).

use std::path::PathBuf;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Undone; renamed `.executed`. Notes say what was found (e.g. "already gone").
    Executed { notes: Vec<String> },
    /// Still pending; the error is recorded with the entry.
    Failed { error: String },
    /// A pending-named file that cannot be read as an entry: still pending, never executed.
    Invalid { reason: String },
    /// Not attempted because the cluster could not be reached (an earlier entry found out);
    /// still pending.
    NotAttempted { reason: String },
    /// Not attempted because a newer entry on the same object (or its namespace or owner) was
    /// not undone: undoing this older one first could restore a state the newer change still
    /// sits on top of (re-create an object while chaosdeck's replacement holds its name). Still
    /// pending; it runs once the newer one is undone.
    Blocked { reason: String },
    /// Not attempted: already executed by another process, or a Krkn file left to Krkn.
    Skipped { reason: String, still_pending: bool },
    /// Not attempted: the entry was made on another cluster than the one connected (or does
    /// not say which), or it asks for something that is not the undo of a change chaos makes
    /// ([`admissible`](crate::journal::admissible)). Still pending; nothing was recorded beside it.
    Refused { reason: String },
    /// Dry run: what would be done.
    Planned { steps: Vec<String> },
}

impl Outcome {
    /// The entry still needs an undo after this outcome (the cluster change may remain).
    pub fn left_outstanding(&self) -> bool {
        match self {
            Outcome::Executed { .. } | Outcome::Planned { .. } => false,
            Outcome::Failed { .. }
            | Outcome::Invalid { .. }
            | Outcome::NotAttempted { .. }
            | Outcome::Blocked { .. }
            | Outcome::Refused { .. } => true,
            Outcome::Skipped { still_pending, .. } => *still_pending,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryOutcome {
    pub path: PathBuf,
    pub file_name: String,
    pub summary: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl EntryOutcome {
    /// The outcome in words, the same everywhere: a head (`FAILED    <file>  <undo>`) and the
    /// lines that say why (empty when there is nothing more to say).
    pub fn lines(&self) -> (String, Vec<String>) {
        let (file, what) = (&self.file_name, &self.summary);
        match &self.outcome {
            Outcome::Executed { notes } if notes.is_empty() => {
                (format!("executed  {file}  {what}"), vec![])
            }
            Outcome::Executed { notes } => {
                (format!("executed  {file}  {what}  ({})", notes.join("; ")), vec![])
            }
            Outcome::Failed { error } => (format!("FAILED    {file}  {what}"), vec![error.clone()]),
            Outcome::Invalid { reason } => (
                format!("INVALID   {file}  not executed, still pending: {reason}"),
                vec![format!(
                    "fix the file (`chaosdeck show {}`), or undo its change by hand and mark it \
                     executed",
                    crate::journal::kubectl::shell_word(&self.path.to_string_lossy())
                )],
            ),
            Outcome::NotAttempted { reason } => {
                (format!("NOT DONE  {file}  {what}"), vec![reason.clone()])
            }
            Outcome::Blocked { reason } => {
                (format!("BLOCKED   {file}  {what}"), vec![reason.clone()])
            }
            Outcome::Skipped { reason, .. } => (format!("skipped   {file}  {reason}"), vec![]),
            Outcome::Refused { reason } => (format!("REFUSED   {file}  {reason}"), vec![]),
            Outcome::Planned { steps } => (format!("would undo {file}  {what}"), steps.clone()),
        }
    }

    /// [`EntryOutcome::lines`] as one line, for logs and the TUI.
    pub fn line(&self) -> String {
        let (head, why) = self.lines();
        if why.is_empty() { head } else { format!("{head}: {}", why.join("; ")) }
    }
}

/// How a batch of outcomes adds up; the one account the CLI, the engine and the TUI print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub executed: usize,
    pub failed: usize,
    pub invalid: usize,
    pub not_attempted: usize,
    /// Waiting for a newer entry on the same object that was not undone: left pending.
    pub blocked: usize,
    /// Made on another cluster (or not saying which), or not an undo of a chaos change: left
    /// pending.
    pub refused: usize,
    /// Skipped and done elsewhere (already executed by another process).
    pub skipped_done: usize,
    /// Skipped and still pending (Krkn files that need Krkn).
    pub skipped_pending: usize,
}

impl Tally {
    pub fn of(outcomes: &[EntryOutcome]) -> Tally {
        let mut t = Tally::default();
        for o in outcomes {
            match &o.outcome {
                Outcome::Executed { .. } => t.executed += 1,
                Outcome::Failed { .. } => t.failed += 1,
                Outcome::Invalid { .. } => t.invalid += 1,
                Outcome::NotAttempted { .. } => t.not_attempted += 1,
                Outcome::Blocked { .. } => t.blocked += 1,
                Outcome::Refused { .. } => t.refused += 1,
                Outcome::Skipped { still_pending: true, .. } => t.skipped_pending += 1,
                Outcome::Skipped { still_pending: false, .. } => t.skipped_done += 1,
                Outcome::Planned { .. } => {}
            }
        }
        t
    }

    pub fn skipped(&self) -> usize {
        self.skipped_done + self.skipped_pending
    }

    /// Entries whose change may still be in the cluster because this batch could not undo
    /// them (failed, invalid, not attempted, blocked, refused); skipped Krkn files are counted
    /// apart.
    pub fn not_undone(&self) -> usize {
        self.failed + self.invalid + self.not_attempted + self.blocked + self.refused
    }

    /// `N executed, M failed, K invalid (not executed), S skipped[, U not attempted ...]`;
    /// the invalid and not-attempted parts appear when there are any.
    pub fn line(&self) -> String {
        let mut line = format!("{} executed, {} failed", self.executed, self.failed);
        if self.invalid > 0 {
            line.push_str(&format!(", {} invalid (not executed)", self.invalid));
        }
        if self.refused > 0 {
            line.push_str(&format!(
                ", {} refused (another cluster, or not an undo of a chaos change)",
                self.refused
            ));
        }
        line.push_str(&format!(", {} skipped", self.skipped()));
        if self.not_attempted > 0 {
            line.push_str(&format!(", {} not attempted (cluster unreachable)", self.not_attempted));
        }
        if self.blocked > 0 {
            line.push_str(&format!(
                ", {} blocked (a newer entry on the same object was not undone)",
                self.blocked
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(outcome: Outcome) -> EntryOutcome {
        EntryOutcome { path: "x".into(), file_name: "x".into(), summary: String::new(), outcome }
    }

    #[test]
    fn the_tally_counts_what_was_not_undone_and_keeps_done_elsewhere_apart() {
        let outcomes = [
            out(Outcome::Executed { notes: vec![] }),
            out(Outcome::Failed { error: "e".into() }),
            out(Outcome::Invalid { reason: "r".into() }),
            out(Outcome::NotAttempted { reason: "r".into() }),
            out(Outcome::Skipped { reason: "another process".into(), still_pending: false }),
            out(Outcome::Skipped { reason: "left to Krkn".into(), still_pending: true }),
        ];
        let t = Tally::of(&outcomes);
        assert_eq!(t.not_undone(), 3);
        assert_eq!((t.skipped_done, t.skipped_pending), (1, 1));
        assert_eq!(
            t.line(),
            "1 executed, 1 failed, 1 invalid (not executed), 2 skipped, \
             1 not attempted (cluster unreachable)"
        );
        let plain = Tally::of(&outcomes[..1]);
        assert_eq!(plain.line(), "1 executed, 0 failed, 0 skipped");
        assert!(!outcomes[4].outcome.left_outstanding());
        assert!(outcomes[5].outcome.left_outstanding());
    }
}
