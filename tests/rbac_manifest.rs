//! deploy/rbac.yaml holds exactly what the code declares: each scenario type's role the
//! permissions its plans' `needs()` take (forward and undo), the rollback role the undo
//! permissions of every entry, the run role what every run reads. A verb in the manifest that
//! no code path declares, or a declared one the manifest lacks, fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chaosdeck::cluster::access::Permission;
use chaosdeck::scenarios::{self, needs};
use serde_json::Value;

type Rule = (String, String, String);

fn manifest() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    text.split("\n---\n")
        .map(|doc| serde_saphyr::from_str::<Value>(doc).unwrap_or_else(|e| panic!("{doc}: {e}")))
        .collect()
}

/// Resource rules of every ClusterRole, as (verb, group, resource[/sub]).
fn roles() -> BTreeMap<String, (BTreeMap<String, String>, BTreeSet<Rule>)> {
    let mut out = BTreeMap::new();
    for doc in manifest().into_iter().filter(|d| d["kind"] == "ClusterRole") {
        let name = doc["metadata"]["name"].as_str().unwrap().to_string();
        let annotations: BTreeMap<String, String> =
            serde_json::from_value(doc["metadata"]["annotations"].clone()).unwrap_or_default();
        let mut rules = BTreeSet::new();
        for rule in doc["rules"].as_array().unwrap() {
            let Some(groups) = rule["apiGroups"].as_array() else { continue };
            for g in groups {
                for r in rule["resources"].as_array().unwrap() {
                    for v in rule["verbs"].as_array().unwrap() {
                        rules.insert((
                            v.as_str().unwrap().to_string(),
                            g.as_str().unwrap().to_string(),
                            r.as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
        }
        out.insert(name, (annotations, rules));
    }
    out
}

fn rule_of(p: &Permission) -> Rule {
    let resource = match p.subresource {
        Some(sub) => format!("{}/{sub}", p.resource),
        None => p.resource.clone(),
    };
    (p.verb.to_string(), p.group.clone(), resource)
}

const REVIEW: (&str, &str, &str) = ("create", "authorization.k8s.io", "selfsubjectaccessreviews");

/// The scenario files of tests/data/engine, by type.
fn files_of(scenario_type: &str) -> &'static [&'static str] {
    match scenario_type {
        "application_outages_scenarios" => &["app_outage.yaml"],
        "hog_scenarios" => &["cpu-hog.yml"],
        "service_hijacking_scenarios" => &["service_hijacking.yaml"],
        "syn_flood_scenarios" => &["syn_flood.yaml"],
        "http_load_scenarios" => &["http_load.yml"],
        "pod_disruption_scenarios" => &["pod.yml"],
        "node_scenarios" => &["node.yml", "node_drain.yml"],
        "pvc_scenarios" => &["pvc_fill.yaml", "pvc_fill_by_pod.yaml"],
        "container_scenarios" => &["container.yml", "container_never_restarts.yml"],
        "service_disruption_scenarios" => {
            &["service_disruption.yaml", "service_disruption_twice.yaml"]
        }
        "network_chaos_ng_scenarios" => &[
            "pod_network_filter.yaml",
            "node_network_filter.yaml",
            "pod_network_chaos.yaml",
            "node_network_chaos.yaml",
            "node_interface_down.yaml",
        ],
        "storage_throttle_scenarios" => &["storage_throttle.yaml"],
        other => panic!("no test data for {other}"),
    }
}

#[test]
fn each_scenario_role_holds_exactly_what_its_scenarios_declare() {
    let roles = roles();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/engine");
    for kind in scenarios::registry() {
        // A scenario's permissions may be split between a role bound per namespace (its
        // changes) and one bound cluster-wide (its reads of cluster-scoped kinds).
        let mine: Vec<(&String, &BTreeSet<Rule>)> = roles
            .iter()
            .filter(|(_, (a, _))| {
                a.get("chaosdeck.io/scenario-type").map(String::as_str) == Some(kind.name())
            })
            .map(|(name, (_, rules))| (name, rules))
            .collect();
        assert!(!mine.is_empty(), "deploy/rbac.yaml has no role for {}", kind.name());
        let rules: BTreeSet<Rule> = mine.iter().flat_map(|(_, r)| r.iter().cloned()).collect();
        let mut declared = BTreeSet::new();
        for file in files_of(kind.name()) {
            let plan = kind.load(&data.join(file)).unwrap();
            for need in plan.needs() {
                declared.extend(need.permissions().iter().map(rule_of));
            }
        }
        let names: Vec<&String> = mine.iter().map(|(n, _)| *n).collect();
        assert_eq!(rules, declared, "{names:?} ({}) differ from the declared needs", kind.name());
    }
}

#[test]
fn the_run_and_rollback_roles_hold_exactly_the_declared_permissions() {
    let roles = roles();
    let review = (REVIEW.0.to_string(), REVIEW.1.to_string(), REVIEW.2.to_string());
    let mut run: BTreeSet<Rule> = needs::run_permissions().iter().map(rule_of).collect();
    run.insert(review.clone());
    assert_eq!(roles["chaosdeck-run"].1, run);
    let mut rollback: BTreeSet<Rule> = needs::undo_permissions().iter().map(rule_of).collect();
    rollback.insert(review);
    assert_eq!(roles["chaosdeck-rollback"].1, rollback);
    let recreate: BTreeSet<Rule> = needs::recreate_permissions().iter().map(rule_of).collect();
    assert_eq!(roles["chaosdeck-rollback-recreate"].1, recreate);
    let exec: BTreeSet<Rule> = needs::exec_undo_permissions().iter().map(rule_of).collect();
    assert_eq!(roles["chaosdeck-rollback-exec"].1, exec);
}

/// Every binding of both manifests: (kind, namespace, role kind, role name).
fn bindings() -> Vec<(String, Option<String>, String, String)> {
    let watchdog = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/watchdog.yaml");
    let text = std::fs::read_to_string(&watchdog).unwrap();
    let watchdog_docs: Vec<Value> = text
        .split("\n---\n")
        .map(|doc| serde_saphyr::from_str::<Value>(doc).unwrap_or_else(|e| panic!("{doc}: {e}")))
        .collect();
    manifest()
        .into_iter()
        .chain(watchdog_docs)
        .filter(|d| matches!(d["kind"].as_str(), Some("ClusterRoleBinding" | "RoleBinding")))
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["metadata"]["namespace"].as_str().map(str::to_string),
                d["roleRef"]["kind"].as_str().unwrap().to_string(),
                d["roleRef"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_role_is_bound_to_the_example_service_account() {
    let bound: BTreeSet<String> = bindings().into_iter().map(|(_, _, _, role)| role).collect();
    for name in roles().keys() {
        assert!(bound.contains(name), "{name} is not bound");
    }
    assert!(manifest().iter().any(|d| d["kind"] == "ServiceAccount"));
}

/// Whoever may create namespaced objects in every namespace may create a privileged pod in
/// kube-system: no ClusterRoleBinding of the shipped manifests grants a create other than
/// access reviews and evictions.
#[test]
fn nothing_is_created_cluster_wide() {
    let roles = roles();
    let harmless = ["selfsubjectaccessreviews", "selfsubjectreviews", "pods/eviction"];
    for (kind, _, role_kind, role) in bindings() {
        if kind != "ClusterRoleBinding" {
            continue;
        }
        assert_eq!(role_kind, "ClusterRole");
        let (_, rules) =
            roles.get(&role).unwrap_or_else(|| panic!("{role} is not in deploy/rbac.yaml"));
        for (verb, _, resource) in rules {
            assert!(
                verb != "create" || harmless.contains(&resource.as_str()),
                "{role} is bound cluster-wide and may create {resource}"
            );
        }
    }
}

/// Rules of the Role `name` in deploy/watchdog.yaml, as (verb, group, resource).
fn watchdog_role(name: &str) -> (String, BTreeSet<Rule>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/watchdog.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = text
        .split("\n---\n")
        .map(|doc| serde_saphyr::from_str::<Value>(doc).unwrap_or_else(|e| panic!("{doc}: {e}")))
        .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("deploy/watchdog.yaml has no Role {name}"));
    let mut rules = BTreeSet::new();
    for rule in doc["rules"].as_array().unwrap() {
        for g in rule["apiGroups"].as_array().unwrap() {
            for r in rule["resources"].as_array().unwrap() {
                for v in rule["verbs"].as_array().unwrap() {
                    rules.insert((
                        v.as_str().unwrap().to_string(),
                        g.as_str().unwrap().to_string(),
                        r.as_str().unwrap().to_string(),
                    ));
                }
            }
        }
    }
    (doc["metadata"]["namespace"].as_str().unwrap().to_string(), rules)
}

#[test]
fn the_dead_man_switch_role_holds_exactly_what_a_run_under_it_asks_for() {
    let switch = chaosdeck::config::DeadManSwitch { enabled: true, ..Default::default() };
    let wanted = chaosdeck::deadman::run_permissions(&switch);
    let (namespace, rules) = watchdog_role("chaosdeck-dead-man-switch");
    assert!(wanted.iter().all(|p| p.namespace.as_deref() == Some(namespace.as_str())));
    let declared: BTreeSet<Rule> = wanted.iter().map(rule_of).collect();
    assert_eq!(rules, declared);
}

#[test]
fn the_health_role_holds_exactly_what_the_health_checks_read() {
    use chaosdeck::config::{CheckUrl, HealthChecks, HttpCheck};
    use chaosdeck::health::Target;
    let proxy = CheckUrl::Cluster("/api/v1/namespaces/shop/services/frontend:80/proxy/".into());
    let checks = HealthChecks {
        checks: vec![HttpCheck {
            url: proxy,
            bearer_token: None,
            auth: None,
            exit_on_failure: false,
            line: 1,
        }],
        ..Default::default()
    };
    let targets = [
        Target::pods_in("shop", vec![]),
        Target::Service { namespace: "shop".into(), name: "frontend".into() },
    ];
    let wanted = chaosdeck::health::permissions(&checks, &targets);
    let declared: BTreeSet<Rule> = wanted.iter().map(rule_of).collect();
    assert_eq!(roles()["chaosdeck-health"].1, declared);
}
