//! Turning a panic into a failure the run can handle.
//!
//! A panic inside a scenario or the run loop is caught where it happens (`catch_unwind` on the
//! future), so the run ends the way a failure does — rollback or a pending list, events out,
//! an exit code — instead of leaving a process that waits forever for a task that is gone.

use std::any::Any;

/// The message a panic carried.
pub fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}
