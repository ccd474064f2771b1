//! What the controllers of one sandbox share: the store, the timers in flight, the pod IPs.

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
