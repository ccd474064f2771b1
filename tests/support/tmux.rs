//! A private tmux server running one command in a session of a given size: the real binary in
//! a real terminal, read back with `capture-pane`.

use std::process::Command;
use std::time::{Duration, Instant};

const SESSION: &str = "deck";

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `shell` in a `cols`×`rows` session on the server `socket` (one per test: tests
    /// run at once), with `env` added to its environment.
    pub fn start(socket: String, cols: u16, rows: u16, shell: &str, env: &[(&str, &str)]) -> Tmux {
        let tmux = Tmux { socket };
        let (cols, rows) = (cols.to_string(), rows.to_string());
        let started = tmux
            .cmd()
            .args(["new-session", "-d", "-s", SESSION, "-x", &cols, "-y", &rows, shell])
            .envs(env.iter().copied())
            .status()
            .unwrap();
        assert!(started.success(), "tmux must be installed (.ci/run installs it)");
        tmux
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        // No user or system tmux.conf: a developer's key bindings or options must not change
        // what the tests see.
        c.args(["-f", "/dev/null", "-L", &self.socket]);
        c
    }

    pub fn screen(&self) -> String {
        let out = self.cmd().args(["capture-pane", "-p", "-t", SESSION]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until every `what` shows; the bound only stops a hang.
    pub fn wait_for(&self, what: &[&str], within: Duration) -> String {
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

    pub fn keys(&self, keys: &str) {
        assert!(
            self.cmd().args(["send-keys", "-t", SESSION, "-l", keys]).status().unwrap().success()
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}
