//! The rollback journal: one durable, human-readable file per cluster change, written before
//! the change is made, and the executor that undoes them.
//!
//! Owns: the on-disk layout (`<dir>/<ctx_ts>-<run_uuid>/<scenario_type>_<ts>_<suffix>.yaml`,
//! plus `<dir>/.chaosdeck/` for what must not go into Krkn's context directories), the entry
//! format, durable writes, scanning, filters, per-context locks (`flock` on the context
//! directory, no lock file), the audit log and the executor. Every state change of an existing
//! entry (executed, failed, amended, not applied) goes through `transitions` under the context
//! lock. Must not contain scenario logic: undo actions are generic object operations, applied
//! through `cluster`.

pub mod admissible;
pub mod audit;
pub mod before_after;
pub mod describe;
pub mod entry;
pub mod error;
pub mod executor;
pub mod filter;
mod fsio;
pub mod krkn;
pub mod kubectl;
pub mod live;
pub mod lock;
pub mod mirror_link;
pub mod names;
mod patch_guard;
pub mod placed_file;
pub mod rollback;
pub mod runs;
pub mod scan;
pub mod schedule;
pub mod shell;
pub mod transitions;
pub mod trust;
pub mod undo;
pub mod writer;

pub use entry::{Entry, ObjectRef, UndoAction};
pub use error::JournalError;
pub use filter::Filter;
pub use scan::{Depth, EntryState, JournalTree, scan, scan_with};
pub use writer::{Context, EntryDraft, Journal, WrittenEntry};
