//! What the controllers of one sandbox share: the store, the timers in flight (and [`after`],
//! which starts one), the pod IPs.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::{Obj, Store};

/// A timed step of a pod's lifecycle ([`super::kubelet`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Start,
    Finish,
    Terminate,
    Restart,
}

/// Shared by the reconcile loop and the timer tasks it spawns.
pub struct Ctx {
    pub store: Arc<Store>,
    pub ready_delay: Duration,
    pub stop: CancellationToken,
    /// uids of pods with a timer in flight, per kind of timer, so each is started once.
    pub timers: Mutex<HashSet<(String, Step)>>,
    pub ip_counter: Mutex<u32>,
}

impl Ctx {
    pub fn next_pod_ip(&self) -> String {
        let mut n = self.ip_counter.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        format!("10.244.{}.{}", (*n >> 8) & 0xff, *n & 0xff)
    }
}

/// Nodes by name, shared by the controllers of one pass.
pub type Nodes<'a> = HashMap<&'a str, &'a Obj>;

/// Runs `action` after `delay` unless the sandbox stops first; one timer per (pod, step).
/// Returns whether a new timer was started.
pub fn after(
    ctx: &Arc<Ctx>,
    uid: &str,
    step: Step,
    delay: Duration,
    action: impl FnOnce(&Ctx) + Send + 'static,
) -> bool {
    let key = (uid.to_string(), step);
    {
        let mut timers = ctx.timers.lock().unwrap_or_else(|p| p.into_inner());
        if !timers.insert(key.clone()) {
            return false;
        }
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = ctx.stop.cancelled() => {}
            _ = tokio::time::sleep(delay) => action(&ctx),
        }
        ctx.timers.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    });
    true
}
