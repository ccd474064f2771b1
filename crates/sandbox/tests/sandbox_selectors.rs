//! Label selector grammar against the sandbox, checked by property tests: random label sets
//! and random selectors (rendered with random spacing and `=`/`==` spellings) must select
//! exactly what an independent reference evaluator selects, through kube-rs LIST calls.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chaosdeck_sandbox::selectors::LabelSelector;
use chaosdeck_sandbox::{Sandbox, SandboxOptions, Seed};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams};
use proptest::prelude::*;
use serde_json::json;

#[derive(Debug, Clone)]
enum Req {
    Eq(String, String, bool),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// The reference: written from the Kubernetes documentation, separately from the sandbox.
fn reference(req: &Req, labels: &BTreeMap<String, String>) -> bool {
    match req {
        Req::Eq(k, v, _) => labels.get(k) == Some(v),
        Req::NotEq(k, v) => labels.get(k) != Some(v),
        Req::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
        Req::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
        Req::Exists(k) => labels.contains_key(k),
        Req::NotExists(k) => !labels.contains_key(k),
    }
}

fn render(req: &Req, pad: &str) -> String {
    match req {
        Req::Eq(k, v, double) => format!("{k}{pad}{}{pad}{v}", if *double { "==" } else { "=" }),
        Req::NotEq(k, v) => format!("{k}{pad}!={pad}{v}"),
        Req::In(k, vs) => format!("{k} in{pad}({})", vs.join(&format!(",{pad}"))),
        Req::NotIn(k, vs) => format!("{k} notin ({pad}{}{pad})", vs.join(",")),
        Req::Exists(k) => k.clone(),
        Req::NotExists(k) => format!("!{k}"),
    }
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["app", "tier", "env", "example.com/team", "a.b-c_d"])
        .prop_map(String::from)
}

fn value() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["web", "db", "x-1", "A.b_c", "7"]).prop_map(String::from)
}

fn req() -> impl Strategy<Value = Req> {
    prop_oneof![
        (key(), value(), any::<bool>()).prop_map(|(k, v, d)| Req::Eq(k, v, d)),
        (key(), value()).prop_map(|(k, v)| Req::NotEq(k, v)),
        (key(), prop::collection::vec(value(), 1..3)).prop_map(|(k, v)| Req::In(k, v)),
        (key(), prop::collection::vec(value(), 1..3)).prop_map(|(k, v)| Req::NotIn(k, v)),
        key().prop_map(Req::Exists),
        key().prop_map(Req::NotExists),
    ]
}

fn label_set() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(key(), value(), 0..4)
}

struct World {
    rt: tokio::runtime::Runtime,
    client: kube::Client,
    _sandbox: Sandbox,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sandbox = rt
            .block_on(Sandbox::start(SandboxOptions { seed: Seed::Empty, ..Default::default() }))
            .expect("sandbox");
        // kube's client spawns its buffer task, so it is built inside the runtime.
        let client = rt.block_on(async { sandbox.client() }).expect("client");
        World { rt, client, _sandbox: sandbox }
    })
}

proptest! {
    // No regression files: the tests directory only holds sources and fixtures here.
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn list_selection_matches_the_reference(
        sets in prop::collection::vec(label_set(), 1..7),
        reqs in prop::collection::vec(req(), 1..4),
        pad in prop::sample::select(vec!["", " ", "  "]),
    ) {
        let w = world();
        let selector = reqs.iter().map(|r| render(r, pad)).collect::<Vec<_>>().join(&format!(",{pad}"));
        let expected: Vec<String> = sets
            .iter()
            .enumerate()
            .filter(|(_, l)| reqs.iter().all(|r| reference(r, l)))
            .map(|(i, _)| format!("cm-{i}"))
            .collect();
        let got = w.rt.block_on(async {
            let nss: Api<Namespace> = Api::all(w.client.clone());
            let ns = nss
                .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"generateName": "prop-"}})).expect("ns"))
                .await
                .expect("namespace")
                .metadata
                .name
                .expect("generated name");
            let cms: Api<ConfigMap> = Api::namespaced(w.client.clone(), &ns);
            for (i, labels) in sets.iter().enumerate() {
                let cm = json!({"metadata": {"name": format!("cm-{i}"), "labels": labels}});
                cms.create(&PostParams::default(), &serde_json::from_value(cm).expect("cm")).await.expect("create");
            }
            let mut names: Vec<String> = cms
                .list(&ListParams::default().labels(&selector))
                .await
                .expect("list")
                .items
                .into_iter()
                .filter_map(|c| c.metadata.name)
                .collect();
            names.sort();
            names
        });
        prop_assert_eq!(got, expected, "selector {:?}", selector);
    }

    #[test]
    fn parser_round_trips_and_never_panics(input in "[a-z!=(), ]{0,24}") {
        // Arbitrary text either parses or is an error; a parse renders back to an equivalent
        // selector.
        if let Ok(sel) = LabelSelector::parse(&input) {
            let again = LabelSelector::parse(&sel.as_query());
            prop_assert_eq!(again.as_ref().ok(), Some(&sel), "{:?} -> {:?}", input, sel.as_query());
        }
    }
}

#[test]
fn grammar_edge_cases_over_http() {
    let w = world();
    w.rt.block_on(async {
        let cms: Api<ConfigMap> = Api::namespaced(w.client.clone(), "default");
        for (name, labels) in
            [("e1", json!({"app": ""})), ("e2", json!({"app": "web"})), ("e3", json!({}))]
        {
            let cm = json!({"metadata": {"name": name, "labels": labels}});
            cms.create(&PostParams::default(), &serde_json::from_value(cm).expect("cm"))
                .await
                .expect("create");
        }
        let names = |sel: &'static str| {
            let cms = cms.clone();
            async move {
                let mut n: Vec<String> = cms
                    .list(&ListParams::default().labels(sel))
                    .await
                    .expect(sel)
                    .items
                    .into_iter()
                    .filter_map(|c| c.metadata.name)
                    .collect();
                n.sort();
                n
            }
        };
        // An empty value is a value: `app=` selects the empty label, `app` any.
        assert_eq!(names("app=").await, ["e1"]);
        assert_eq!(names("app").await, ["e1", "e2"]);
        assert_eq!(names("!app").await, ["e3"]);
        assert_eq!(names("app!=web").await, ["e1", "e3"]);
        for bad in ["app in (web", "app=(web)", "in=web", "app=web,", "app=-x"] {
            let err = cms.list(&ListParams::default().labels(bad)).await.expect_err(bad);
            match err {
                kube::Error::Api(s) => assert_eq!(s.code, 400, "{bad}: {s:?}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    });
}
