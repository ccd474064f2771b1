//! The health panel without a terminal (TestBackend): a service check green before the
//! outage, red during it (its chaos window marked), green after the rollback, at 80×24 and
//! 160×48; and the log lines its changes write.

use std::time::Duration;

use chaosdeck::engine::{EngineEvent, EngineState, ScenarioResult};
use chaosdeck::health::{CheckInfo, CheckKind, Sample};
use chaosdeck::tui::app::{App, Header, Mode};
use chaosdeck::tui::theme::Theme;
use chaosdeck::tui::update::apply_event;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const RUN: &str = "5e0c7a3d-91b4-4f62-8d1e-6a2f9c40b7e5";

fn render(app: &mut App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| chaosdeck::tui::render::draw(f, app)).unwrap();
    terminal.backend().to_string()
}

fn check(name: &str, kind: CheckKind) -> CheckInfo {
    CheckInfo { name: name.into(), kind, exit_on_failure: false }
}

/// One round: every check passes except the frontend's when `frontend_down`.
fn round(app: &mut App, tick: u64, frontend_down: bool) {
    let answers = [
        if frontend_down { (false, Some(503), "503") } else { (true, Some(200), "200") },
        (true, Some(200), "200"),
        (true, None, "2/2 ready"),
        (true, None, "3/3 ready"),
    ];
    for (check, (ok, code, detail)) in answers.into_iter().enumerate() {
        let latency = Duration::from_millis(2 + check as u64);
        let sample = Sample { check, tick, ok, code, latency, detail: detail.into() };
        apply_event(app, &EngineEvent::HealthSample(sample));
    }
}

fn app() -> App {
    let header = Header {
        context: "chaosdeck-sandbox".into(),
        server: "http://127.0.0.1:6443".into(),
        is_sandbox: true,
        run_uuid: Some(RUN.into()),
        auto_rollback: true,
        iterations: 1,
        config: Some("config/config.yaml".into()),
        ..Default::default()
    };
    let mut app = App::new(Mode::Run, header, Theme { color: false });
    app.clock = || "12:00:00".into();
    apply_event(
        &mut app,
        &EngineEvent::RunStarted {
            run_uuid: RUN.into(),
            journal: "journal".into(),
            scenarios: vec![
                ("application_outages_scenarios".into(), "config/scenarios/app_outage.yaml".into()),
                ("hog_scenarios".into(), "config/scenarios/cpu-hog.yml".into()),
            ],
        },
    );
    apply_event(
        &mut app,
        &EngineEvent::HealthStarted {
            checks: vec![
                check("svc shop/frontend:80", CheckKind::Http),
                check("svc shop/cart:80", CheckKind::Http),
                check("deploy shop/cart", CheckKind::Workload),
                check("deploy shop/frontend", CheckKind::Workload),
            ],
            interval: Duration::from_secs(2),
        },
    );
    apply_event(&mut app, &EngineEvent::State(EngineState::Running));
    app.run_started = std::time::Instant::now().checked_sub(Duration::from_secs(75));
    app
}

/// The panel's row of the frontend check (the log may name it too).
fn frontend_row(screen: &str) -> &str {
    screen
        .lines()
        .find(|l| l.contains("svc shop/frontend:80") && !l.contains("health:"))
        .unwrap_or_default()
}

#[test]
fn a_service_check_goes_green_red_green_across_the_outage() {
    let mut a = app();
    // The baseline round, before any chaos.
    round(&mut a, 0, false);
    apply_event(
        &mut a,
        &EngineEvent::ScenarioStarted {
            index: 0,
            iteration: 1,
            scenario_type: "application_outages_scenarios".into(),
            file: "app_outage.yaml".into(),
            expected: Duration::from_secs(20),
        },
    );
    round(&mut a, 1, false);
    let green = render(&mut a, 80, 24);
    assert!(frontend_row(&green).contains("✓ svc shop/frontend:80"), "{green}");
    insta::assert_snapshot!("health_green_80x24", green);
    insta::assert_snapshot!("health_green_160x48", render(&mut a, 160, 48));

    for tick in 2..8 {
        round(&mut a, tick, true);
    }
    let red = render(&mut a, 80, 24);
    assert!(frontend_row(&red).contains("✗ svc shop/frontend:80"), "{red}");
    assert!(frontend_row(&red).contains("503"), "{red}");
    assert!(red.contains("1 failing"), "{red}");
    insta::assert_snapshot!("health_red_80x24", red);
    insta::assert_snapshot!("health_red_160x48", render(&mut a, 160, 48));

    apply_event(
        &mut a,
        &EngineEvent::ScenarioFinished { index: 0, result: ScenarioResult::Passed },
    );
    for tick in 8..11 {
        round(&mut a, tick, false);
    }
    let after = render(&mut a, 80, 24);
    assert!(frontend_row(&after).contains("✓ svc shop/frontend:80"), "{after}");
    assert!(!after.contains("failing"), "{after}");
    insta::assert_snapshot!("health_green_again_80x24", after);
    insta::assert_snapshot!("health_green_again_160x48", render(&mut a, 160, 48));
    // The chaos window covers exactly the rounds sampled while the scenario ran.
    assert_eq!(
        a.health.chaos_ticks.iter().copied().collect::<Vec<_>>(),
        (1..8).collect::<Vec<_>>()
    );
}

#[test]
fn changes_between_passing_and_failing_are_logged_once() {
    let mut a = app();
    round(&mut a, 0, false);
    round(&mut a, 1, true);
    round(&mut a, 2, true);
    round(&mut a, 3, false);
    let health_lines: Vec<&String> = a.log.iter().filter(|l| l.starts_with("health:")).collect();
    assert_eq!(
        health_lines,
        [
            "health: svc shop/frontend:80 FAILING (503)",
            "health: svc shop/frontend:80 healthy again (200)"
        ]
    );
}

#[test]
fn without_checks_the_panel_is_not_drawn() {
    let header = Header { iterations: 1, ..Default::default() };
    let mut a = App::new(Mode::Run, header, Theme { color: false });
    assert!(!render(&mut a, 80, 24).contains("Health"));
}
