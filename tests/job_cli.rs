//! `chaosdeck job` and `run --in-cluster` without a cluster: what the Job would run is
//! printed from the operator's files (paths rewritten to the mount, nothing else changed),
//! and what could not run unattended is refused with the reason, exit 2, before any cluster
//! is asked.

use std::path::Path;
use std::process::Command;

fn chaosdeck(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("chaosdeck"))
        .args(args)
        .current_dir(dir)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SCENARIO: &str = "application_outage:\n  duration: 2\n  namespace: shop\n  pod_selector: {app: frontend}\n  block: [Ingress]\n";

fn config(dir: &Path, deck: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::write(dir.join("scenarios/outage.yaml"), SCENARIO).unwrap();
    let text = format!(
        "kraken:\n    # outage.yaml stays in the comment\n    chaos_scenarios:\n        - application_outages_scenarios:\n            - scenarios/outage.yaml\n            - \"scenarios/outage.yaml\"\n{deck}"
    );
    std::fs::write(dir.join("game.yaml"), text).unwrap();
    dir.join("game.yaml")
}

#[test]
fn the_job_carries_the_config_with_its_paths_on_the_mount_and_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "chaosdeck:\n    cluster: kubeconfig\n    dead_man_switch: {enabled: true, lease_duration: 20}\n",
    );
    let (code, out, err) = chaosdeck(&["job", "-c", "game.yaml", "--name", "gd-1"], dir.path());
    assert_eq!(code, 0, "{err}");
    let docs: Vec<serde_json::Value> = out
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .collect();
    let (cm, job) = (&docs[0], &docs[1]);
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["immutable"], true, "what the Job runs cannot be edited after apply");
    let data = cm["data"].as_object().unwrap();
    assert_eq!(data.len(), 2, "the config and the one scenario file: {data:?}");
    assert_eq!(data["scenario-1-outage.yaml"], SCENARIO);
    assert_eq!(
        data["config.yaml"],
        "kraken:\n    # outage.yaml stays in the comment\n    chaos_scenarios:\n        - application_outages_scenarios:\n            - /etc/chaosdeck/job/scenario-1-outage.yaml\n            - /etc/chaosdeck/job/scenario-1-outage.yaml\nchaosdeck:\n    cluster: kubeconfig\n    dead_man_switch: {enabled: true, lease_duration: 20}\n"
    );
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["spec"]["backoffLimit"], 0, "a game day is never retried");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "chaosdeck");
    let c = &pod["containers"][0];
    assert_eq!(c["image"], format!("chaosdeck:{}", env!("CARGO_PKG_VERSION")));
    let args: Vec<&str> =
        c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(
        args,
        [
            "run",
            "--headless",
            "--in-cluster",
            "--yes-i-mean-it",
            "in-cluster",
            "-c",
            "/etc/chaosdeck/job/config.yaml",
            "--dir",
            "/var/lib/chaosdeck/journal"
        ]
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    // The run's helper pods use the helper image, by the name the cluster pulls it by.
    let helper_image = |c: &serde_json::Value| {
        let env = c["env"].as_array().unwrap();
        let var = env.iter().find(|v| v["name"] == "CHAOSDECK_HELPER_IMAGE").unwrap();
        var["value"].as_str().unwrap().to_string()
    };
    assert_eq!(helper_image(c), format!("chaosdeck-helper:{}", env!("CARGO_PKG_VERSION")));
    let named = ["job", "-c", "game.yaml", "--name", "gd-1", "--helper-image", "reg.example/h:1"];
    let (code, out, err) = chaosdeck(&named, dir.path());
    assert_eq!(code, 0, "{err}");
    let job: serde_json::Value =
        serde_saphyr::from_str(out.split("---\n").nth(2).unwrap()).unwrap();
    assert_eq!(helper_image(&job["spec"]["template"]["spec"]["containers"][0]), "reg.example/h:1");
}

#[test]
fn what_cannot_run_unattended_is_refused_before_any_cluster_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("chaosdeck:\n    cluster: kubeconfig\n", "the dead man's switch is off"),
        (
            "chaosdeck:\n    cluster: sandbox\n    dead_man_switch: {enabled: true}\n",
            "targets the embedded sandbox",
        ),
    ];
    for (deck, want) in cases {
        config(dir.path(), deck);
        let (code, out, err) = chaosdeck(&["job", "-c", "game.yaml"], dir.path());
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty(), "nothing printed: {out}");
        assert!(err.contains(want) && err.contains("no Job was made"), "{err}");
    }
    // A bad scenario file: named with its line, as `run` names it.
    config(
        dir.path(),
        "chaosdeck:\n    cluster: kubeconfig\n    dead_man_switch: {enabled: true}\n",
    );
    std::fs::write(
        dir.path().join("scenarios/outage.yaml"),
        "application_outage:\n  duration: [\n",
    )
    .unwrap();
    let (code, out, err) = chaosdeck(&["job", "-c", "game.yaml"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("outage.yaml:") && err.contains("no Job was made"), "{err}");
}

#[test]
fn run_in_cluster_outside_a_pod_says_so() {
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "chaosdeck:\n    cluster: kubeconfig\n    dead_man_switch: {enabled: true}\n",
    );
    let (code, _, err) =
        chaosdeck(&["run", "--headless", "--in-cluster", "-c", "game.yaml"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--in-cluster: not in a pod"), "{err}");
}
