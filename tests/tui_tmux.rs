//! The real binary in a real terminal (tmux): a long application outage against the sandbox
//! and a real control plane, the emergency key, and kube-rs to check the NetworkPolicy is gone.

mod support;

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use support::tmux::Tmux;
use support::world::World;

/// The NetworkPolicies chaosdeck manages in `shop`, read with kube-rs (not chaosdeck's client).
async fn managed_policies(w: &World) -> Vec<String> {
    let api: kube::Api<NetworkPolicy> = kube::Api::namespaced(w.client(), "shop");
    let params = kube::api::ListParams::default().labels("app.kubernetes.io/managed-by=chaosdeck");
    let list = api.list(&params).await.unwrap();
    list.items.into_iter().filter_map(|p| p.metadata.name).collect()
}

crate::on_both_targets! {
    #[ignore = "needs tmux"]
    async fn emergency_key_in_a_real_terminal_undoes_the_outage(target) {
        let w = World::new(target).await;
        let config = w.config("application_outages_scenarios", &["long_outage.yaml"], true, 0);
        let bin = assert_cmd::cargo::cargo_bin("chaosdeck");
        let shell = format!(
            "{} run --config {} {}; echo EXIT=$?; sleep 120",
            bin.display(),
            config.display(),
            w.confirmation().join(" ")
        );
        // One server per test: the sandbox and real variants may run at once.
        let socket = format!("chaosdeck-test-{}-{target:?}", std::process::id());
        let tmux = Tmux::start(socket, 120, 36, &shell, &[("NO_COLOR", "1")]);

        tmux.wait_for(
            &["application_outages_scenarios", "[pending]", "1 pending"],
            Duration::from_secs(30),
        );
        let policies = managed_policies(&w).await;
        assert!(!policies.is_empty(), "the outage must be in place");

        tmux.keys("!");
        let screen = tmux.wait_for(&["[executed]", "0 pending"], Duration::from_secs(30));
        assert!(screen.contains("EMERGENCY"), "{screen}");
        let policies = managed_policies(&w).await;
        assert!(policies.is_empty(), "the NetworkPolicy must be gone: {policies:?}");

        tmux.keys("q");
        let screen = tmux.wait_for(&["EXIT=1"], Duration::from_secs(20));
        assert!(screen.contains("nothing of this run is pending"), "{screen}");
        let audit = std::fs::read_to_string(w.journal().join("audit.log")).unwrap();
        assert!(audit.contains("operator emergency key"), "{audit}");
        w.shutdown().await;
    }
}

/// `execute-rollback` on a terminal draws a progress bar (done / failed / remaining, rate,
/// ETA) under the outcome lines; piped, it prints the outcome lines only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs tmux"]
async fn execute_rollback_shows_a_progress_bar_on_a_terminal_and_plain_lines_when_piped() {
    use chaosdeck::journal::Journal;
    let w = World::new(support::cluster::Target::Sandbox).await;
    let journal = Journal::open(w.journal()).unwrap();
    for round in ["tty", "pipe"] {
        let ctx = journal.begin_context(&format!("run-{round}")).unwrap();
        for i in 0..20 {
            let draft = support::delete_pod_draft("hog_scenarios", "default", &format!("gone-{i}"));
            ctx.write(ctx.mint("hog_scenarios"), draft).unwrap();
        }
        let bin = assert_cmd::cargo::cargo_bin("chaosdeck");
        let args = format!(
            "execute-rollback --dir {} --kubeconfig {} -r run-{round} --cluster-mismatch-ok chaosdeck-sandbox",
            w.journal().display(),
            w.kubeconfig().display()
        );
        if round == "tty" {
            let shell = format!("{} {args}; echo EXIT=$?; sleep 60", bin.display());
            let socket = format!("chaosdeck-bar-{}", std::process::id());
            let tmux = Tmux::start(socket, 150, 40, &shell, &[]);
            let screen = tmux.wait_for(&["EXIT=0"], Duration::from_secs(30));
            assert!(screen.contains("20/20 done, 0 failed, 0 remaining"), "{screen}");
            assert!(screen.contains("ETA"), "{screen}");
            assert!(screen.contains("20 executed, 0 failed"), "{screen}");
        } else {
            let out = Command::new(&bin).args(args.split(' ')).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{text}");
            assert_eq!(text.matches("executed  ").count(), 20, "{text}");
            assert!(
                !text.contains("remaining") && !text.contains("ETA"),
                "no bar when piped:\n{text}"
            );
        }
    }
    w.shutdown().await;
}
