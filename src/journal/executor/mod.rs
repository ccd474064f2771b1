//! Applying undo actions: newest first, idempotent, one failure never stops the others.
//!
//! An entry becomes `.executed` only when every one of its actions succeeded or was found
//! already done (Krkn D4 marks failures executed; we never do). A failed entry stays pending
//! with its error recorded (Krkn D5 aborts the remaining files; we go on). The per-context
//! lock plus a re-check of the file under the lock means two processes never apply the same
//! entry twice; the rename and the error record go through `transitions` under that lock.
//!
//! Every selected entry gets exactly one outcome, and only `Executed` and a skip of an entry
//! another process executed mean "nothing left to do": a pending-named file that cannot be read is `Invalid`
//! (outstanding, never executed), and when the cluster cannot be reached the remaining entries
//! are `NotAttempted` rather than each waiting out its own timeout. An entry whose newer entry
//! on the same object was not undone is `Blocked`, never run out of order (D5 still holds for
//! every other entry).

//!
//! One job per file: `outcome` (what happened to an entry, in words and counts), `select`
//! (which entries, in which order), `driver` (the parallel schedule, the context locks, the
//! durability of a batch), `protocol` (one entry under its lock: re-check, trust, admission,
//! apply, mark), `apply` (the one loop that applies an entry's actions; each kind's requests
//! are `journal::undo`'s), `offline` (entries that need no cluster, and dry runs).

mod apply;
mod driver;
mod offline;
mod options;
mod outcome;
mod protocol;
mod select;

pub use super::patch_guard::first_mismatch;
pub use apply::{Unapplied, apply_entry};
pub use driver::execute;
pub use offline::{execute_offline, foreign, needs_cluster};
pub use options::{DEFAULT_PARALLEL, ExecuteOptions};
pub use outcome::{EntryOutcome, Outcome, Tally};
pub use protocol::{admissible_entry, revert_own};
pub use select::select;
