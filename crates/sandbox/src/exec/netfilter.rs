//! The node-side packet filter behind chaosdeck's helper pods: no kernel here, so the rules a
//! helper holds are modelled from the helper pods themselves.
//!
//! A helper is a pod whose container runs `chaosdeck helper filter --tag T --pod-uid U
//! --for S --chain C… --protocol P… --port N…`. While its container runs, the rules it applied
//! (each chain × protocol × port, a DROP commented `chaosdeck-T`) are in force in pod U's
//! network namespace; when it stops — `--for` seconds after it started (the kubelet ends it,
//! [`helper_seconds`]), or when its pod is deleted — it has removed them, as the real helper does.
//! `chaosdeck helper remove --tag T` exec'd in it removes them earlier; `status` lists them.
//!
//! Owns: which rules are in force, and the helper program's answers. Must not change API
//! objects; the service proxy reads [`NetFilter::drops_ingress`].

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::Value;

use super::commands::Output;
use crate::meta;
use crate::resources as r;
use crate::store::Store;

/// One helper's fault, read from its command line.
#[derive(Debug, Clone, PartialEq)]
pub struct HelperSpec {
    pub tag: String,
    pub pod_uid: String,
    pub seconds: f64,
    pub chains: Vec<String>,
    pub protocols: Vec<String>,
    pub ports: Vec<u16>,
}

impl HelperSpec {
    /// The helper spec of a container's command, if it runs chaosdeck's filter helper.
    pub fn of_command(command: &[String]) -> Option<HelperSpec> {
        let program = command.first()?;
        if program.rsplit('/').next() != Some("chaosdeck")
            || command.get(1).map(String::as_str) != Some("helper")
            || command.get(2).map(String::as_str) != Some("filter")
        {
            return None;
        }
        let mut spec = HelperSpec {
            tag: String::new(),
            pod_uid: String::new(),
            seconds: 0.0,
            chains: Vec::new(),
            protocols: Vec::new(),
            ports: Vec::new(),
        };
        let mut words = command[3..].iter();
        while let Some(flag) = words.next() {
            let value = words.next()?;
            match flag.as_str() {
                "--tag" => spec.tag = value.clone(),
                "--pod-uid" => spec.pod_uid = value.clone(),
                "--for" => spec.seconds = value.parse().ok().filter(|s: &f64| s.is_finite())?,
                "--chain" => spec.chains.push(value.clone()),
                "--protocol" => spec.protocols.push(value.clone()),
                "--port" => spec.ports.push(value.parse().ok()?),
                _ => return None,
            }
        }
        (!spec.tag.is_empty() && !spec.pod_uid.is_empty()).then_some(spec)
    }

    /// Its rules as `iptables -S` prints them.
    pub fn rules(&self) -> Vec<String> {
        let mut out = Vec::new();
        for chain in &self.chains {
            for proto in &self.protocols {
                for port in &self.ports {
                    out.push(format!(
                        "-A {chain} -p {proto} -m {proto} --dport {port} -m comment --comment \
                         \"chaosdeck-{}\" -j DROP",
                        self.tag
                    ));
                }
            }
        }
        out
    }
}

/// The helper spec of a pod's first container.
pub fn helper_of(pod: &Value) -> Option<HelperSpec> {
    let container = meta::at(pod, &["spec", "containers"]).and_then(|c| c.get(0))?;
    let command: Vec<String> = container
        .get("command")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    HelperSpec::of_command(&command)
}

/// How long a helper pod runs: its `--for`.
pub fn helper_seconds(pod: &Value) -> Option<f64> {
    helper_of(pod).map(|h| h.seconds.max(0.0))
}

fn running(pod: &Value) -> bool {
    !meta::is_deleting(pod)
        && meta::at(pod, &["status", "containerStatuses"])
            .and_then(Value::as_array)
            .and_then(|s| s.first())
            .is_some_and(|s| s.pointer("/state/running").is_some())
}

/// The tags removed early, through `chaosdeck helper remove`.
#[derive(Debug, Default)]
pub struct NetFilter {
    removed: Mutex<HashSet<String>>,
}

impl NetFilter {
    fn is_removed(&self, tag: &str) -> bool {
        self.removed.lock().unwrap_or_else(|p| p.into_inner()).contains(tag)
    }

    /// The helpers whose rules are in force now.
    pub fn in_force(&self, store: &Store) -> Vec<HelperSpec> {
        let (pods, _) = store.list(r::PODS, None);
        pods.iter()
            .filter(|p| running(p))
            .filter_map(|p| helper_of(p))
            .filter(|h| !self.is_removed(&h.tag))
            .collect()
    }

    /// Whether a rule in force drops TCP traffic into pod `uid` on `port`.
    pub fn drops_ingress(&self, store: &Store, uid: &str, port: u16) -> bool {
        self.in_force(store).iter().any(|h| {
            h.pod_uid == uid
                && h.chains.iter().any(|c| c == "INPUT")
                && h.protocols.iter().any(|p| p == "tcp")
                && h.ports.contains(&port)
        })
    }

    /// `chaosdeck helper status|remove --tag T`, run in helper pod `pod`: it sees the rules it
    /// applied (a helper acts in its target's network namespace only).
    pub fn exec(&self, pod: &Value, argv: &[String]) -> Output {
        let words: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
        let (verb, tag) = match words.as_slice() {
            ["helper", verb @ ("status" | "remove"), "--tag", tag] => (*verb, *tag),
            _ => return usage(argv),
        };
        let Some(own) = helper_of(pod) else {
            return fail(1, "chaosdeck-helper: this container holds no fault".into());
        };
        if verb == "remove" && own.tag == tag {
            self.removed.lock().unwrap_or_else(|p| p.into_inner()).insert(tag.to_string());
        }
        // Read the tables again, as `iptables -S` would after the removal.
        let held = if own.tag == tag && !self.is_removed(tag) && running(pod) {
            own.rules()
        } else {
            Vec::new()
        };
        let mut out = String::new();
        for rule in &held {
            out.push_str(rule);
            out.push('\n');
        }
        out.push_str(&format!("chaosdeck-helper: {} rules tagged {tag}\n", held.len()));
        Output { stdout: out.into_bytes(), ..Default::default() }
    }
}

fn usage(argv: &[String]) -> Output {
    fail(2, format!("chaosdeck-helper: usage: helper status|remove --tag TAG (got {argv:?})"))
}

fn fail(code: i32, stderr: String) -> Output {
    Output { stderr: format!("{stderr}\n").into_bytes(), code, ..Default::default() }
}
