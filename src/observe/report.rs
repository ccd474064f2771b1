//! The run report: built from engine events while the run lasts, completed with the engine's
//! [`RunSummary`], written as JSON (`--report`) and as JUnit XML (`--junit`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use jiff::Timestamp;
use serde::Serialize;

use crate::engine::{EngineEvent, RunSummary, ScenarioResult};
use crate::journal::executor::Outcome;

use super::xml::escape as xml_escape;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run_uuid: String,
    /// The cluster the run acted on: context, API server and kube-system uid.
    pub cluster: Option<crate::refs::ClusterIdentity>,
    pub config: PathBuf,
    pub journal: Option<PathBuf>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub exit_code: u8,
    pub scenarios: Vec<ScenarioReport>,
    pub entries: Vec<EntryReport>,
    pub rollbacks: Vec<RollbackReport>,
    /// Journal entries of this run still pending when it ended (`RunSummary::outstanding`).
    pub pending: Vec<PathBuf>,
    /// The health checks (`health_checks` and the built-in readiness checks).
    pub health: super::health_report::HealthReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub index: usize,
    pub iteration: u64,
    pub scenario_type: String,
    pub file: PathBuf,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub duration_secs: Option<f64>,
    /// passed, failed, stopped, skipped, or unfinished.
    pub result: String,
    pub rolled_back: bool,
    pub error: Option<String>,
    /// What the scenario did, step by step (targets included), as the engine reported it.
    pub steps: Vec<String>,
    /// Journal entries written during this execution.
    pub entries: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryReport {
    pub path: PathBuf,
    /// The undo, described.
    pub undo: String,
    /// Position in `scenarios` of the execution that wrote it.
    pub scenario: Option<usize>,
    /// pending, retired, executed, or failed (undo failed, still pending).
    pub fate: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    pub reason: String,
    pub entries: usize,
    pub executed: usize,
    /// Entries this rollback could not undo (their undo failed, the file is invalid, or the
    /// cluster could not be reached); they stay pending. Entries another process executed
    /// first are neither executed nor failed here.
    pub failed: usize,
    pub duration_secs: Option<f64>,
}

/// Accumulates the report from events.
pub struct Recorder {
    report: Report,
    /// Scenario index → position in `report.scenarios` of its running execution.
    current: HashMap<usize, (usize, Instant)>,
    last_started: Option<usize>,
    entry_pos: HashMap<PathBuf, usize>,
    rollback_started: Option<Instant>,
    health: super::health_report::HealthRecorder,
}

impl Recorder {
    pub fn new(run_uuid: &str, config: &Path) -> Recorder {
        Recorder {
            report: Report {
                run_uuid: run_uuid.to_string(),
                cluster: None,
                config: config.to_path_buf(),
                journal: None,
                started_at: Timestamp::now(),
                finished_at: None,
                exit_code: 0,
                scenarios: Vec::new(),
                entries: Vec::new(),
                rollbacks: Vec::new(),
                pending: Vec::new(),
                health: Default::default(),
            },
            current: HashMap::new(),
            last_started: None,
            entry_pos: HashMap::new(),
            rollback_started: None,
            health: Default::default(),
        }
    }

    /// Names the cluster in the report.
    pub fn set_cluster(&mut self, cluster: crate::refs::ClusterIdentity) {
        self.report.cluster = Some(cluster);
    }

    pub fn observe(&mut self, event: &EngineEvent) {
        self.health.observe(event);
        let r = &mut self.report;
        match event {
            EngineEvent::RunStarted { run_uuid, journal, .. } => {
                r.run_uuid = run_uuid.clone();
                r.journal = Some(journal.clone());
            }
            EngineEvent::ScenarioStarted { index, iteration, scenario_type, file, .. } => {
                let pos = r.scenarios.len();
                r.scenarios.push(ScenarioReport {
                    index: *index,
                    iteration: *iteration,
                    scenario_type: scenario_type.clone(),
                    file: file.clone(),
                    started_at: Timestamp::now(),
                    finished_at: None,
                    duration_secs: None,
                    result: "unfinished".into(),
                    rolled_back: false,
                    error: None,
                    steps: Vec::new(),
                    entries: Vec::new(),
                });
                self.current.insert(*index, (pos, Instant::now()));
                self.last_started = Some(pos);
            }
            EngineEvent::ScenarioStep { index, text } => {
                if let Some((pos, _)) = self.current.get(index) {
                    r.scenarios[*pos].steps.push(text.clone());
                }
            }
            EngineEvent::ScenarioFinished { index, result } => {
                if let Some((pos, started)) = self.current.remove(index) {
                    let s = &mut r.scenarios[pos];
                    s.finished_at = Some(Timestamp::now());
                    s.duration_secs = Some(started.elapsed().as_secs_f64());
                    let (word, rolled_back, error) = describe(result);
                    s.result = word.into();
                    s.rolled_back = rolled_back;
                    s.error = error;
                }
            }
            EngineEvent::EntryWritten { path, summary } => {
                let scenario = self.last_started.filter(|p| r.scenarios[*p].finished_at.is_none());
                if let Some(p) = scenario {
                    r.scenarios[p].entries.push(path.clone());
                }
                self.entry_pos.insert(path.clone(), r.entries.len());
                r.entries.push(EntryReport {
                    path: path.clone(),
                    undo: summary.clone(),
                    scenario,
                    fate: "pending".into(),
                    detail: None,
                });
            }
            EngineEvent::EntryRetired { path } => self.fate(path, "retired", None),
            EngineEvent::Rollback(event) => {
                use crate::journal::rollback::Event;
                match event {
                    Event::Entry(out) if matches!(out.outcome, Outcome::Executed { .. }) => {
                        self.fate(&out.path, "executed", Some(out.summary.clone()))
                    }
                    Event::Entry(out) if out.outcome.left_outstanding() => {
                        self.fate(&out.path, "failed", Some(out.line()))
                    }
                    Event::Started { reason, entries } => {
                        r.rollbacks.push(RollbackReport {
                            reason: reason.clone(),
                            entries: *entries,
                            executed: 0,
                            failed: 0,
                            duration_secs: None,
                        });
                        self.rollback_started = Some(Instant::now());
                    }
                    Event::Finished(tally) => {
                        if let Some(last) = r.rollbacks.last_mut() {
                            last.executed = tally.executed;
                            last.failed = tally.not_undone();
                            last.duration_secs =
                                self.rollback_started.take().map(|t| t.elapsed().as_secs_f64());
                        }
                    }
                    _ => {}
                }
            }
            EngineEvent::RunFinished { exit_code, .. } => {
                r.exit_code = *exit_code;
                r.finished_at = Some(Timestamp::now());
            }
            _ => {}
        }
    }

    fn fate(&mut self, path: &Path, fate: &str, detail: Option<String>) {
        // An emergency rollback may undo entries of earlier runs: those are not this run's.
        if let Some(pos) = self.entry_pos.get(path) {
            let e = &mut self.report.entries[*pos];
            e.fate = fate.into();
            e.detail = detail;
        }
    }

    /// The report so far, completed with the engine's own account of the run.
    pub fn report(&self, summary: &RunSummary) -> Report {
        let mut report = self.report.clone();
        report.run_uuid = summary.run_uuid.clone();
        report.journal = Some(summary.journal.clone());
        report.exit_code = summary.exit_code;
        report.pending = summary.outstanding.clone();
        report.health = self.health.report();
        if report.finished_at.is_none() {
            report.finished_at = Some(Timestamp::now());
        }
        report
    }
}

fn describe(result: &ScenarioResult) -> (&'static str, bool, Option<String>) {
    match result {
        ScenarioResult::Passed => ("passed", false, None),
        ScenarioResult::Failed { error, rolled_back } => {
            ("failed", *rolled_back, Some(error.clone()))
        }
        ScenarioResult::Stopped { rolled_back } => ("stopped", *rolled_back, None),
        ScenarioResult::Skipped { reason } => ("skipped", false, Some(reason.clone())),
    }
}

/// JUnit XML: one testsuite for the run, one testcase per scenario file execution.
pub fn junit(report: &Report) -> String {
    let count = |word: &str| report.scenarios.iter().filter(|s| s.result == word).count();
    let failures = count("failed");
    let errors = count("stopped") + count("unfinished");
    let skipped = count("skipped");
    let total: f64 = report.scenarios.iter().filter_map(|s| s.duration_secs).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"chaosdeck\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total:.3}\">",
        report.scenarios.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"chaosdeck run {}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total:.3}\" timestamp=\"{}\">",
        xml_escape(&report.run_uuid),
        report.scenarios.len(),
        report.started_at
    );
    let _ = writeln!(
        out,
        "    <properties><property name=\"config\" value=\"{}\"/><property name=\"run_uuid\" value=\"{}\"/></properties>",
        xml_escape(&report.config.display().to_string()),
        xml_escape(&report.run_uuid)
    );
    for s in &report.scenarios {
        let name = format!("[{}] {} (iteration {})", s.index, s.file.display(), s.iteration);
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&s.scenario_type),
            xml_escape(&name),
            s.duration_secs.unwrap_or(0.0)
        );
        let message = s.error.as_deref().unwrap_or_default();
        let body = match s.result.as_str() {
            "passed" => None,
            "failed" => Some(format!(
                "<failure message=\"{}\" type=\"failed\">rolled back: {}</failure>",
                xml_escape(message),
                s.rolled_back
            )),
            "skipped" => Some(format!("<skipped message=\"{}\"/>", xml_escape(message))),
            other => Some(format!(
                "<error message=\"{other}\" type=\"{other}\">rolled back: {}</error>",
                s.rolled_back
            )),
        };
        let steps = s.steps.join("\n");
        match body {
            None if steps.is_empty() => out.push_str("/>\n"),
            body => {
                out.push_str(">\n");
                if let Some(body) = body {
                    let _ = writeln!(out, "      {body}");
                }
                if !steps.is_empty() {
                    let _ = writeln!(out, "      <system-out>{}</system-out>", xml_escape(&steps));
                }
                out.push_str("    </testcase>\n");
            }
        }
    }
    out.push_str("  </testsuite>\n");
    if !report.health.checks.is_empty() {
        out.push_str(&super::health_report::junit_suite(&report.health, &report.run_uuid));
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_scenario_becomes_an_escaped_junit_failure_and_its_entry_stays_pending() {
        let mut r = Recorder::new("u-1", Path::new("config.yaml"));
        r.observe(&EngineEvent::ScenarioStarted {
            index: 0,
            iteration: 1,
            scenario_type: "pod_disruption_scenarios".into(),
            file: "pod.yml".into(),
            expected: std::time::Duration::from_secs(1),
        });
        r.observe(&EngineEvent::EntryWritten { path: "e.yaml".into(), summary: "delete".into() });
        r.observe(&EngineEvent::ScenarioFinished {
            index: 0,
            result: ScenarioResult::Failed {
                error: "a <bad> & \"odd\" pod".into(),
                rolled_back: false,
            },
        });
        let summary = RunSummary {
            run_uuid: "u-1".into(),
            journal: "j".into(),
            results: Vec::new(),
            outstanding: vec!["e.yaml".into()],
            exit_code: 1,
        };
        let report = r.report(&summary);
        assert_eq!(report.scenarios[0].result, "failed");
        assert_eq!(report.entries[0].fate, "pending");
        assert_eq!(report.entries[0].scenario, Some(0));
        assert_eq!(report.pending, vec![PathBuf::from("e.yaml")]);
        let xml = junit(&report);
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("message=\"a &lt;bad&gt; &amp; &quot;odd&quot; pod\""), "{xml}");
    }
}
