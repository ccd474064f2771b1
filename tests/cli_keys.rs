//! `keys.yaml` through the real binary: a bad file stops chaosdeck with exit code 2 (bad
//! input) and names the file and line, before any terminal or cluster is touched.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

/// `chaosdeck inspect` with `text` as `$XDG_CONFIG_HOME/chaosdeck/keys.yaml`.
fn inspect_with_keys(tmp: &Path, text: &str) -> assert_cmd::assert::Assert {
    let dir = tmp.join("config/chaosdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keys.yaml"), text).unwrap();
    Command::cargo_bin("chaosdeck")
        .unwrap()
        .env("XDG_CONFIG_HOME", tmp.join("config"))
        .env("HOME", tmp.join("home"))
        .args(["inspect", "--dir"])
        .arg(tmp.join("journal"))
        .assert()
}

fn keys_file(tmp: &Path) -> String {
    tmp.join("config/chaosdeck/keys.yaml").display().to_string()
}

#[test]
fn unknown_action_exits_2_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    inspect_with_keys(tmp.path(), "help: \"?\"\n# spare\nexplode: x\n").code(2).stderr(
        predicate::str::contains(format!("{}:3: unknown action `explode`", keys_file(tmp.path()))),
    );
    inspect_with_keys(tmp.path(), "help: \"?\"\nemergancy: E\n").code(2).stderr(
        predicate::str::contains(format!(
            "{}:2: unknown action `emergancy` (did you mean `emergency`?)",
            keys_file(tmp.path())
        )),
    );
}

#[test]
fn unparsable_key_exits_2_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    inspect_with_keys(tmp.path(), "execute: [u]\nstop: Ctrl-s\n").code(2).stderr(
        predicate::str::contains(format!("{}:2: cannot read key `Ctrl-s`", keys_file(tmp.path()))),
    );
}

#[test]
fn yaml_error_exits_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    inspect_with_keys(tmp.path(), "help: [\"?\"\nquit: q\n")
        .code(2)
        .stderr(predicate::str::contains(format!("{}:", keys_file(tmp.path()))))
        .stderr(predicate::str::contains("not a YAML map"));
}

#[test]
fn emergency_on_another_actions_key_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    inspect_with_keys(tmp.path(), "emergency: q\n")
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:1: key `q` is bound to both",
            keys_file(tmp.path())
        )))
        .stderr(predicate::str::contains("emergency key must not share"));
}

#[test]
fn without_xdg_config_home_the_file_is_read_from_home() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("home/.config/chaosdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keys.yaml"), "quit: x\n").unwrap();
    Command::cargo_bin("chaosdeck")
        .unwrap()
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", tmp.path().join("home"))
        .args(["inspect", "--dir"])
        .arg(tmp.path().join("journal"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:1: key `x` is bound to both `quit` and `execute`",
            dir.join("keys.yaml").display()
        )));
}
