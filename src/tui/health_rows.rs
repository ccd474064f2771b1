//! The health panel's state: one row per check with its last sample and a history by round,
//! and which rounds fell inside a chaos window (a scenario running).
//!
//! Owns: folding health events into rows. Must not draw (see `render::health_panel`) or probe.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use crate::health::{CheckInfo, Sample};

/// Rounds kept per row: far more than any terminal is wide.
pub const HISTORY: usize = 512;

#[derive(Debug, Clone, Default)]
pub struct HealthView {
    pub interval: Duration,
    pub rows: Vec<HealthRow>,
    /// Rounds sampled while a scenario was running.
    pub chaos_ticks: BTreeSet<u64>,
    /// A scenario is running now.
    pub chaos_now: bool,
    pub last_tick: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct HealthRow {
    pub info: CheckInfo,
    pub last: Option<Sample>,
    /// (round, ok), oldest first.
    pub history: VecDeque<(u64, bool)>,
}

impl HealthView {
    pub fn start(&mut self, checks: &[CheckInfo], interval: Duration) {
        let chaos_now = self.chaos_now;
        *self = HealthView {
            interval,
            rows: checks
                .iter()
                .map(|info| HealthRow { info: info.clone(), last: None, history: VecDeque::new() })
                .collect(),
            chaos_now,
            ..Default::default()
        };
    }

    /// Folds a sample in; returns the row's name when it changed between ok and failing.
    pub fn record(&mut self, sample: &Sample) -> Option<String> {
        if self.chaos_now {
            self.chaos_ticks.insert(sample.tick);
        }
        self.last_tick = Some(self.last_tick.map_or(sample.tick, |t| t.max(sample.tick)));
        let row = self.rows.get_mut(sample.check)?;
        let changed = row.last.as_ref().map(|l| l.ok) != Some(sample.ok);
        if row.history.len() == HISTORY {
            row.history.pop_front();
        }
        row.history.push_back((sample.tick, sample.ok));
        let was_known = row.last.is_some();
        row.last = Some(sample.clone());
        (changed && (was_known || !sample.ok)).then(|| row.info.name.clone())
    }

    pub fn failing(&self) -> usize {
        self.rows.iter().filter(|r| r.last.as_ref().is_some_and(|s| !s.ok)).count()
    }
}
