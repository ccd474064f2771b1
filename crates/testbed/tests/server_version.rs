//! The test bed reports the version of the Kubernetes release it was built from, as a release
//! build does (`scripts/realcluster` links the version stamps): `kubectl version`, a client
//! nobody here wrote, parses it and prints it.

use std::process::Command;

use chaosdeck_testbed::{RealCluster, Workloads};

#[test]
#[ignore = "needs the real control plane (Go; scripts/realcluster)"]
fn kubectl_version_prints_the_servers_release() {
    let cluster = RealCluster::up(Workloads::Empty).unwrap();
    let out = Command::new(chaosdeck_testbed::binaries().join("kubectl"))
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .args(["version", "-o", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let server = &doc["serverVersion"];
    assert_eq!(server["major"], "1", "{doc}");
    assert_eq!(server["minor"], "36", "{doc}");
    assert!(server["gitVersion"].as_str().unwrap_or_default().starts_with("v1.36."), "{doc}");
    assert_eq!(server["gitVersion"], doc["clientVersion"]["gitVersion"], "same release: {doc}");
}
