//! The shipped demo (`config/config.yaml`, embedded sandbox) in a real terminal (tmux): the
//! frontend's service-proxy health row turns red during the application outage and green
//! after its rollback. Sandbox-only: it is the demo, and its URL checks need the sandbox's
//! simulated service proxy.

mod support;

use std::path::Path;
use std::time::Duration;

use support::tmux::Tmux;

#[test]
#[ignore = "needs tmux"]
fn the_demo_health_row_goes_red_during_the_outage_and_green_after() {
    let journal = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/config.yaml");
    let bin = assert_cmd::cargo::cargo_bin("chaosdeck");
    let shell = format!(
        "{} run --config {} --dir {}; echo EXIT=$?; sleep 120",
        bin.display(),
        config.display(),
        journal.path().display()
    );
    let socket = format!("chaosdeck-health-{}", std::process::id());
    let tmux = Tmux::start(socket, 120, 36, &shell, &[("NO_COLOR", "1")]);

    let red = tmux.wait_for(&["outage in shop", "✗ svc shop/frontend:80"], Duration::from_secs(60));
    assert!(red.contains("503"), "{red}");
    assert!(red.contains("1 failing"), "only the frontend is cut off:\n{red}");
    assert!(red.contains("✓ svc shop/cart:80"), "{red}");

    // After the outage's NetworkPolicy is removed, the next round answers 200 again.
    let green =
        tmux.wait_for(&["✓ svc shop/frontend:80", "healthy again"], Duration::from_secs(90));
    assert!(!green.contains("failing ·"), "{green}");
    assert!(green.contains("━"), "the outage's chaos window stays marked:\n{green}");

    // Still live (hog, pods): `q` asks and `s` stops, rolls back and quits. Finished: `q`
    // quits and `s` lands in the shell's `sleep`, harmlessly.
    tmux.keys("q");
    tmux.wait_for(&["stop"], Duration::from_secs(5));
    tmux.keys("s");
    let end = tmux.wait_for(&["EXIT="], Duration::from_secs(60));
    assert!(end.contains("nothing of this run is pending"), "{end}");
}
