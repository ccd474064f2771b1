//! The shipped demo (`config/config.yaml`, embedded sandbox) in a real terminal (tmux): the
//! frontend's service-proxy health row turns red during the application outage and green
//! after its rollback. Sandbox-only: it is the demo, and its URL checks need the sandbox's
//! simulated service proxy.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn screen(&self) -> String {
        let out = self.cmd().args(["capture-pane", "-p", "-t", "demo"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until every `what` shows; the bound only stops a hang.
    fn wait_for(&self, what: &[&str], within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.screen();
            if what.iter().all(|w| screen.contains(w)) {
                return screen;
            }
            assert!(Instant::now() < deadline, "screen never showed {what:?}:\n{screen}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn keys(&self, keys: &str) {
        assert!(
            self.cmd().args(["send-keys", "-t", "demo", "-l", keys]).status().unwrap().success()
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

#[test]
#[ignore = "needs tmux"]
fn the_demo_health_row_goes_red_during_the_outage_and_green_after() {
    let journal = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/config.yaml");
    let tmux = Tmux { socket: format!("chaosdeck-health-{}", std::process::id()) };
    let bin = assert_cmd::cargo::cargo_bin("chaosdeck");
    let shell = format!(
        "{} run --config {} --dir {}; echo EXIT=$?; sleep 120",
        bin.display(),
        config.display(),
        journal.path().display()
    );
    let started = tmux
        .cmd()
        .args(["new-session", "-d", "-s", "demo", "-x", "120", "-y", "36"])
        .arg(shell)
        .env("NO_COLOR", "1")
        .status()
        .unwrap();
    assert!(started.success(), "tmux must be installed (.ci/run installs it)");

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
