//! Process exit codes, one meaning each (listed in `chaosdeck --help`).

/// Everything asked for was done.
pub const OK: u8 = 0;
/// A scenario or an undo failed, or the run was stopped: the journal says what is pending.
pub const FAILED: u8 = 1;
/// Bad input: arguments, config, scenario or journal files. Nothing was changed.
pub const BAD_INPUT: u8 = 2;
/// The environment failed: the cluster unreachable or refusing us, a port taken, an I/O error,
/// a journal busy with another process.
pub const ENVIRONMENT: u8 = 3;
/// A bug in chaosdeck (a panic). The run ended like a failure; the journal is intact.
pub const INTERNAL: u8 = 4;

/// The table for `--help`.
pub const HELP: &str = "Exit codes: 0 done; 1 a scenario or an undo failed, or the run was \
stopped (pending entries are listed); 2 bad input (arguments, config, scenario or journal \
files), nothing changed; 3 environment (cluster unreachable or refusing, port taken, I/O error, \
journal busy); 4 internal error (a bug; the run ended like a failure, the journal is intact); \
128+N stopped by signal N.";
