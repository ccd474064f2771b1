//! The health part of the run report: per check, how many rounds, how many failed (and how
//! many of those inside a chaos window), latency, and each outage from its first failing round
//! to the round it answered again.
//!
//! Owns: folding health events into [`HealthReport`] and its JUnit testcases. Must not probe.

use std::fmt::Write as _;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::engine::EngineEvent;

#[derive(Debug, Clone, Default, Serialize)]
pub struct HealthReport {
    pub interval_secs: u64,
    pub checks: Vec<HealthCheckReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthCheckReport {
    pub name: String,
    /// http, workload or service.
    pub kind: String,
    pub exit_on_failure: bool,
    pub samples: u64,
    pub failures: u64,
    pub failures_during_chaos: u64,
    pub max_latency_ms: u64,
    pub mean_latency_ms: u64,
    /// The last answer (`200`, `3/3 ready`, an error).
    pub last: Option<String>,
    pub outages: Vec<Outage>,
    #[serde(skip)]
    latency_total: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outage {
    pub started_at: Timestamp,
    /// `None`: still failing when the run ended.
    pub ended_at: Option<Timestamp>,
    pub detail: String,
    /// A scenario was running when it started.
    pub during_chaos: bool,
}

/// Accumulates [`HealthReport`] from events.
#[derive(Default)]
pub struct HealthRecorder {
    report: HealthReport,
    chaos_now: bool,
}

impl HealthRecorder {
    pub fn observe(&mut self, event: &EngineEvent) {
        match event {
            EngineEvent::ScenarioStarted { .. } => self.chaos_now = true,
            EngineEvent::ScenarioFinished { .. } => self.chaos_now = false,
            EngineEvent::HealthStarted { checks, interval } => {
                self.report = HealthReport {
                    interval_secs: interval.as_secs(),
                    checks: checks
                        .iter()
                        .map(|c| HealthCheckReport {
                            name: c.name.clone(),
                            kind: c.kind.as_str().into(),
                            exit_on_failure: c.exit_on_failure,
                            samples: 0,
                            failures: 0,
                            failures_during_chaos: 0,
                            max_latency_ms: 0,
                            mean_latency_ms: 0,
                            last: None,
                            outages: Vec::new(),
                            latency_total: Duration::ZERO,
                        })
                        .collect(),
                };
            }
            EngineEvent::HealthSample(s) => {
                let Some(c) = self.report.checks.get_mut(s.check) else { return };
                c.samples += 1;
                c.latency_total += s.latency;
                let ms = u64::try_from(s.latency.as_millis()).unwrap_or(u64::MAX);
                c.max_latency_ms = c.max_latency_ms.max(ms);
                let mean = c.latency_total.as_millis() / u128::from(c.samples);
                c.mean_latency_ms = u64::try_from(mean).unwrap_or(u64::MAX);
                c.last = Some(s.detail.clone());
                let open = c.outages.last_mut().filter(|o| o.ended_at.is_none());
                if s.ok {
                    if let Some(o) = open {
                        o.ended_at = Some(Timestamp::now());
                    }
                    return;
                }
                c.failures += 1;
                if self.chaos_now {
                    c.failures_during_chaos += 1;
                }
                if open.is_none() {
                    c.outages.push(Outage {
                        started_at: Timestamp::now(),
                        ended_at: None,
                        detail: s.detail.clone(),
                        during_chaos: self.chaos_now,
                    });
                }
            }
            _ => {}
        }
    }

    pub fn report(&self) -> HealthReport {
        self.report.clone()
    }
}

fn escape(text: &str) -> String {
    super::xml::escape(text)
}

/// A JUnit testsuite with one testcase per check; a check with `exit_on_failure` that failed
/// is a `<failure>` (it was declared a requirement), the others say what happened in
/// `<system-out>` only.
pub fn junit_suite(report: &HealthReport, run_uuid: &str) -> String {
    let mut out = String::new();
    let failures = report.checks.iter().filter(|c| c.exit_on_failure && c.failures > 0).count();
    let _ = writeln!(
        out,
        "  <testsuite name=\"chaosdeck health {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        escape(run_uuid),
        report.checks.len()
    );
    for c in &report.checks {
        let _ = writeln!(
            out,
            "    <testcase classname=\"health.{}\" name=\"{}\" time=\"0\">",
            escape(&c.kind),
            escape(&c.name)
        );
        if c.exit_on_failure && c.failures > 0 {
            let detail = c.outages.first().map(|o| o.detail.as_str()).unwrap_or_default();
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"health\">{} of {} rounds failed</failure>",
                escape(detail),
                c.failures,
                c.samples
            );
        }
        let _ = writeln!(
            out,
            "      <system-out>{} rounds, {} failed ({} during chaos), {} outage(s), latency mean {} ms max {} ms</system-out>",
            c.samples,
            c.failures,
            c.failures_during_chaos,
            c.outages.len(),
            c.mean_latency_ms,
            c.max_latency_ms
        );
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{CheckInfo, CheckKind, Sample};

    fn sample(check: usize, tick: u64, ok: bool, detail: &str) -> EngineEvent {
        EngineEvent::HealthSample(Sample {
            check,
            tick,
            ok,
            code: detail.parse().ok(),
            latency: Duration::from_millis(10 * (tick + 1)),
            detail: detail.into(),
        })
    }

    fn started() -> EngineEvent {
        EngineEvent::HealthStarted {
            checks: vec![
                CheckInfo {
                    name: "svc a/web:80".into(),
                    kind: CheckKind::Http,
                    exit_on_failure: true,
                },
                CheckInfo {
                    name: "deploy a/web".into(),
                    kind: CheckKind::Workload,
                    exit_on_failure: false,
                },
            ],
            interval: Duration::from_secs(2),
        }
    }

    fn scenario_started() -> EngineEvent {
        EngineEvent::ScenarioStarted {
            index: 0,
            iteration: 1,
            scenario_type: "application_outages_scenarios".into(),
            file: "o.yaml".into(),
            expected: Duration::from_secs(1),
        }
    }

    #[test]
    fn outages_are_counted_and_placed_in_or_out_of_chaos() {
        let mut r = HealthRecorder::default();
        r.observe(&started());
        r.observe(&sample(0, 0, true, "200"));
        r.observe(&scenario_started());
        r.observe(&sample(0, 1, false, "503"));
        r.observe(&sample(0, 2, false, "503"));
        r.observe(&EngineEvent::ScenarioFinished {
            index: 0,
            result: crate::engine::ScenarioResult::Passed,
        });
        r.observe(&sample(0, 3, true, "200"));
        r.observe(&sample(1, 3, false, "1/3 ready"));
        let report = r.report();
        assert_eq!(report.interval_secs, 2);
        let web = &report.checks[0];
        assert_eq!((web.samples, web.failures, web.failures_during_chaos), (4, 2, 2));
        assert_eq!(web.outages.len(), 1);
        assert!(web.outages[0].during_chaos && web.outages[0].ended_at.is_some());
        assert_eq!(web.outages[0].detail, "503");
        assert_eq!((web.max_latency_ms, web.mean_latency_ms), (40, 25));
        assert_eq!(web.last.as_deref(), Some("200"));
        let deploy = &report.checks[1];
        assert_eq!(deploy.kind, "workload");
        assert_eq!((deploy.failures, deploy.failures_during_chaos), (1, 0));
        assert!(!deploy.outages[0].during_chaos && deploy.outages[0].ended_at.is_none());

        let xml = junit_suite(&report, "u-1");
        // A required check that failed is a failure; an informational one is not.
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("<failure message=\"503\" type=\"health\">2 of 4 rounds failed"),
            "{xml}"
        );
        assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    }

    #[test]
    fn the_json_report_and_junit_carry_the_health_section() {
        let mut rec = super::super::Recorder::new("u-1", std::path::Path::new("c.yaml"));
        rec.observe(&started());
        rec.observe(&sample(0, 0, false, "503"));
        let summary = crate::engine::RunSummary {
            run_uuid: "u-1".into(),
            journal: "j".into(),
            results: Vec::new(),
            outstanding: Vec::new(),
            exit_code: 1,
        };
        let report = rec.report(&summary);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["health"]["checks"][0]["name"], "svc a/web:80");
        assert_eq!(json["health"]["checks"][0]["failures"], 1);
        assert!(json["health"]["checks"][0].get("latency_total").is_none());
        let xml = super::super::report::junit(&report);
        assert!(xml.contains("<testsuite name=\"chaosdeck health u-1\""), "{xml}");
        assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");
    }
}
