//! A game day at the keyboard, through the real binary in a real terminal (tmux, 80×24) and
//! in pipes: pause that tells the truth, a summary that survives the exit, a second run that is
//! told about the first, the header at 80×24, `x` without a cluster, dry runs that look like
//! one and do not wait, the cluster named wherever someone acts, and the smaller items.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::cluster::Target;
use support::tmux::Tmux;
use support::world::{Lines, World, wait_exit};

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("chaosdeck")
}

fn socket(name: &str) -> String {
    format!("chaosdeck-gameday-{}-{name}", std::process::id())
}

/// The first line of the screen: the header.
fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or_default()
}

/// `p` during a 300 s outage: the header says `pausing` (the window runs on, nothing new
/// starts), the log says what a pause does, and one more `p` resumes. At 80×24 the header keeps
/// the context, the state, the pending count and the emergency key throughout. After `q` `s`,
/// the run's summary stays on the screen above the shell's next line.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs tmux"]
async fn pause_tells_the_truth_at_80x24_and_the_summary_survives_the_exit() {
    let w = World::new(Target::Sandbox).await;
    let config = w.config("application_outages_scenarios", &["long_outage.yaml"], true, 0);
    let shell =
        format!("{} run --config {}; echo EXIT=$?; sleep 120", bin().display(), config.display());
    let tmux = Tmux::start(socket("pause"), 80, 24, &shell, &[("NO_COLOR", "1")]);

    let screen = tmux.wait_for(&["running 1/1", "1 pending"], Duration::from_secs(30));
    for wanted in ["sandbox", "1 pending", "! undo ALL"] {
        assert!(header(&screen).contains(wanted), "{screen}");
    }
    tmux.keys("p");
    // The header changes with the engine's state and the log line follows it: wait for both.
    let screen = tmux.wait_for(&["pausing", "paused: nothing new starts"], Duration::from_secs(10));
    assert!(
        header(&screen).contains("! undo ALL") && header(&screen).contains("1 pending"),
        "{screen}"
    );
    assert!(screen.contains("paused: nothing new starts"), "{screen}");
    tmux.keys("p");
    let screen = tmux.wait_for(&["resumed"], Duration::from_secs(10));
    assert!(header(&screen).contains("running"), "one press resumes:\n{screen}");

    tmux.keys("q");
    tmux.wait_for(&["A run is live"], Duration::from_secs(10));
    tmux.keys("s");
    let screen = tmux.wait_for(&["EXIT=1"], Duration::from_secs(30));
    let lines: Vec<&str> = screen.lines().collect();
    let finished = lines.iter().position(|l| l.contains(" finished"));
    let exit = lines.iter().position(|l| l.contains("EXIT=1"));
    assert!(
        matches!((finished, exit), (Some(f), Some(e)) if f < e),
        "the summary must stay above the shell's next line:\n{screen}"
    );
    assert!(screen.contains("nothing of this run is pending"), "{screen}");
    assert_eq!(w.outstanding(), 0);
    w.shutdown().await;
}

/// A second run on a journal another run is using is told so, by run, before it starts.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_on_the_same_journal_names_the_first() {
    let w = World::new(Target::Sandbox).await;
    let long = w.config("application_outages_scenarios", &["long_outage.yaml"], true, 0);
    let mut first = w.run(&long, None);
    let mut lines = Lines::of(&mut first);
    assert!(lines.wait_for("outage in shop", Duration::from_secs(30)), "{}", lines.rest());
    let first_uuid = w.tree().contexts[0].name.run_uuid.clone();

    let short = w.config("application_outages_scenarios", &["app_outage.yaml"], true, 0);
    let dry_run_stderr = || {
        let out = Command::new(bin())
            .args(["run", "--headless", "--dry-run", "--config"])
            .arg(&short)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = dry_run_stderr();
    let named = format!("another chaosdeck run is live on this journal: run {}", &first_uuid[..8]);
    assert!(err.contains(&named), "{err}");
    assert!(err.contains("undoes every pending entry of this journal"), "{err}");

    // SAFETY: kill(2) on our own child, not yet waited for.
    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    assert!(wait_exit(&mut first, Duration::from_secs(30)).is_some());
    let err = dry_run_stderr();
    assert!(!err.contains("another chaosdeck run is live"), "the first run ended:\n{err}");
    w.shutdown().await;
}

/// A dry run of two files with a 30 s wait between them: no wait, `would run` for each, and
/// `DRY RUN` on the header of the UI.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs tmux"]
async fn a_dry_run_says_so_and_does_not_wait() {
    let w = World::new(Target::Sandbox).await;
    let config = w.config(
        "application_outages_scenarios",
        &["app_outage.yaml", "long_outage.yaml"],
        true,
        30,
    );
    let out = Command::new(bin())
        .args(["run", "--headless", "--dry-run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("engine Waiting"), "a dry run waited:\n{text}");
    assert_eq!(text.matches("would run").count(), 4, "two events and two summary lines:\n{text}");
    assert!(!text.contains("passed"), "{text}");

    let shell =
        format!("{} run --dry-run --config {}; sleep 60", bin().display(), config.display());
    let tmux = Tmux::start(socket("dry"), 80, 24, &shell, &[("NO_COLOR", "1")]);
    let screen = tmux.wait_for(&["DRY RUN", "would run"], Duration::from_secs(30));
    assert!(header(&screen).starts_with(" DRY RUN"), "{screen}");
    w.shutdown().await;
}

/// The by-hand kubectl lines carry `--context`; `show`, `list-rollback --json` and the run
/// report name the cluster.
#[tokio::test(flavor = "multi_thread")]
async fn the_cluster_is_named_wherever_someone_acts() {
    let w = World::new(Target::Sandbox).await;
    let config = w.config("application_outages_scenarios", &["long_outage.yaml"], true, 0);
    let report = w.journal().with_file_name("report.json");
    let mut cmd = Command::new(bin());
    cmd.args(["run", "--headless", "--report"]).arg(&report).arg("--config").arg(&config);
    let mut run = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = Lines::of(&mut run);
    assert!(lines.wait_for("outage in shop", Duration::from_secs(30)), "{}", lines.rest());
    // The context as the test cluster's kubeconfig names it (no kubectl: this test runs
    // without outside programs).
    let context = w.cluster.context().to_string();
    let (_, entry) = w.tree().entries().map(|(c, e)| (c.clone(), e.clone())).next().unwrap();

    let show = Command::new(bin()).arg("show").arg(&entry.path).output().unwrap();
    let show = String::from_utf8_lossy(&show.stdout).into_owned();
    assert!(show.contains(&format!("cluster:   context {context} at http")), "{show}");
    assert!(show.contains(&format!("kubectl --context {context} delete")), "{show}");
    let raw = std::fs::read_to_string(&entry.path).unwrap();
    assert!(raw.contains(&format!("#   kubectl --context {context} delete")), "{raw}");
    let json = Command::new(bin())
        .args(["list-rollback", "--json", "--dir"])
        .arg(w.journal())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["contexts"][0]["entries"][0]["cluster"]["context"], context.as_str());

    // SAFETY: kill(2) on our own child, not yet waited for.
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    assert!(wait_exit(&mut run, Duration::from_secs(30)).is_some());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["cluster"]["context"], context.as_str());
    assert!(report["cluster"]["server"].as_str().unwrap().starts_with("http"));
    w.shutdown().await;
}

/// `chaosdeck -c config` runs (no `run` needed); `--skip-unsupported` runs the rest of a Krkn
/// list and names what it skipped; without it the config is refused naming the flag.
#[test]
fn run_is_the_default_and_unsupported_types_can_be_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("outage.yaml");
    std::fs::write(&scenario, "application_outage:\n  duration: 1\n  namespace: shop\n").unwrap();
    let config = tmp.path().join("config.yaml");
    std::fs::write(
        &config,
        "kraken:\n  chaos_scenarios:\n    - application_outages_scenarios:\n        - outage.yaml\n    - zone_outages_scenarios:\n        - zone.yaml\n        - zone2.yaml\nchaosdeck:\n  cluster: sandbox\n",
    )
    .unwrap();
    let refused = Command::new(bin())
        .args(["-c"])
        .arg(&config)
        .args(["--headless", "--dry-run"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains("\"zone_outages_scenarios\" is not supported")
            && err.contains("--skip-unsupported"),
        "{err}"
    );
    let ran = Command::new(bin())
        .args(["-c"])
        .arg(&config)
        .args(["--headless", "--dry-run", "--skip-unsupported"])
        .env("XDG_STATE_HOME", tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&ran.stderr);
    let out = String::from_utf8_lossy(&ran.stdout);
    assert_eq!(ran.status.code(), Some(0), "{err}{out}");
    assert!(err.contains(&format!("skipped (--skip-unsupported, not supported by chaosdeck): {}:5: zone_outages_scenarios (2 files)", config.display())), "{err}");
    assert!(out.contains("would run") && out.contains("application_outages_scenarios"), "{out}");
}

/// Below 60×16 the panels give way to a notice; the header and its emergency key stay.
#[test]
#[ignore = "needs tmux"]
fn a_terminal_too_small_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let shell = format!("{} inspect --dir {}; sleep 30", bin().display(), tmp.path().display());
    let tmux = Tmux::start(socket("small"), 40, 12, &shell, &[("NO_COLOR", "1")]);
    let screen = tmux.wait_for(&["terminal too small: 40×12"], Duration::from_secs(20));
    assert!(header(&screen).contains("! ALL") && header(&screen).contains("0 pending"), "{screen}");
    tmux.keys("q");
}

/// The `# Or:` line of an entry gives its bare file name; `execute-rollback --file <name>`
/// finds it in whichever default journal holds it (it used to look in one and say "not a
/// pending entry").
#[test]
fn an_entrys_own_or_line_works_as_given() {
    let state = tempfile::tempdir().unwrap();
    let sandbox_journal = state.path().join("chaosdeck/sandbox-rollback");
    let journal = chaosdeck::journal::Journal::open(&sandbox_journal).unwrap();
    let ctx = journal.begin_context("7b5842f8-c142-4e90-8235-02cb0e1ec634").unwrap();
    let written = ctx
        .write(
            ctx.mint("hog_scenarios"),
            support::delete_pod_draft("hog_scenarios", "default", "hog-1"),
        )
        .unwrap();
    let raw = std::fs::read_to_string(&written.path).unwrap();
    let or = raw.lines().find(|l| l.starts_with("# Or:")).unwrap();
    let name = or.rsplit(' ').next().unwrap();
    let out = Command::new(bin())
        .args(["execute-rollback", "--dry-run", "--file", name])
        .env("XDG_STATE_HOME", state.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("1 entry would be undone") && text.contains(name), "{text}");
}
