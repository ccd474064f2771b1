//! The node-side network faults behind chaosdeck's helper pods: no kernel here, so what a
//! helper holds is modelled from the helper pods themselves.
//!
//! A helper is a pod whose first container runs `chaosdeck helper filter|netem --tag T
//! (--pod-uid U | --node N) --for S …`. While that container runs, its fault is in force in pod
//! U's network namespace or on node N: DROP rules (each chain × protocol × port, commented
//! `chaosdeck-T`) or a netem qdisc (delay, loss, rate) at the root of each `--dev` under
//! `--handle`, or the node's devices set down (`link-down`: the node is cut off, [`NetFilter::cut_off`]).
//! When it stops — `--for` seconds after it started (the kubelet ends it,
//! [`helper_seconds`]), or when its pod is deleted — it has removed them, as the real helper
//! does. `chaosdeck helper remove --tag T` exec'd in it removes them earlier; `status` lists
//! them, in the words of `iptables -S` and `tc qdisc show`.
//!
//! Owns: which faults are in force, and the helper program's answers. Must not change API
//! objects; the service proxy reads [`NetFilter::drops_ingress`] and [`NetFilter::impairment`].

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::commands::Output;
use crate::meta;
use crate::resources as r;
use crate::store::Store;

/// Whose network namespace.
#[derive(Debug, Clone, PartialEq)]
pub enum Where {
    Pod(String),
    Node(String),
}

/// The fault itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Filter {
        chains: Vec<String>,
        protocols: Vec<String>,
        ports: Vec<u16>,
    },
    Netem {
        devs: Vec<String>,
        handle: String,
        delay: Option<String>,
        loss: Option<u8>,
        rate: Option<String>,
    },
    /// The node's devices set down: the node is cut off (no exec to its pods, its endpoints
    /// unreachable) until the helper ends.
    LinkDown {
        devs: Vec<String>,
    },
    /// A cgroup `io.max` limit on the device behind a container's mount (no effect modelled
    /// beyond what `status` reads).
    Throttle {
        limits: Vec<(String, u64)>,
    },
    /// A one-shot lift of someone else's throttle: it ends at once, holding nothing.
    Lift,
}

/// One helper's fault, read from its command line.
#[derive(Debug, Clone, PartialEq)]
pub struct HelperSpec {
    pub tag: String,
    pub at: Where,
    pub seconds: f64,
    pub fault: Fault,
}

impl HelperSpec {
    /// The helper spec of a container's command, if it runs one of chaosdeck's helper faults.
    pub fn of_command(command: &[String]) -> Option<HelperSpec> {
        let program = command.first()?;
        if program.rsplit('/').next() != Some("chaosdeck")
            || command.get(1).map(String::as_str) != Some("helper")
        {
            return None;
        }
        let kind = command.get(2)?.as_str();
        let (mut tag, mut pod, mut node, mut seconds) = (None, None, None, None);
        let (mut chains, mut protocols, mut ports) = (Vec::new(), Vec::new(), Vec::new());
        let (mut devs, mut handle, mut delay, mut loss, mut rate) =
            (Vec::new(), None, None, None, None);
        let mut limits: Vec<(String, u64)> = Vec::new();
        let mut words = command[3..].iter();
        while let Some(flag) = words.next() {
            let value = words.next()?.clone();
            match flag.as_str() {
                "--tag" => tag = Some(value),
                "--pod-uid" => pod = Some(value),
                "--node" => node = Some(value),
                "--for" => seconds = value.parse().ok().filter(|s: &f64| s.is_finite()),
                "--chain" => chains.push(value),
                "--protocol" => protocols.push(value),
                "--port" => ports.push(value.parse().ok()?),
                "--dev" => devs.push(value),
                "--handle" => handle = Some(value.trim_end_matches(':').to_string()),
                "--delay" => delay = Some(value),
                "--loss" => loss = Some(value.parse().ok()?),
                "--rate" => rate = Some(value),
                "--mount" | "--device" | "--cgroup-path" | "--cgroup-version" => {}
                "--rbps" | "--wbps" | "--riops" | "--wiops" => {
                    limits.push((flag.trim_start_matches('-').to_string(), value.parse().ok()?));
                }
                _ => return None,
            }
        }
        let at = match (pod, node) {
            (Some(uid), None) => Where::Pod(uid),
            (None, Some(node)) => Where::Node(node),
            _ => return None,
        };
        let fault = match kind {
            "filter" => Fault::Filter { chains, protocols, ports },
            "netem" => Fault::Netem { devs, handle: handle?, delay, loss, rate },
            "link-down" => Fault::LinkDown { devs },
            "throttle" => Fault::Throttle { limits },
            "lift" => {
                return Some(HelperSpec {
                    tag: String::new(),
                    at,
                    seconds: 0.0,
                    fault: Fault::Lift,
                });
            }
            _ => return None,
        };
        Some(HelperSpec { tag: tag?, at, seconds: seconds?, fault })
    }

    /// What is in force, as `iptables -S` and `tc qdisc show` print it.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.fault {
            Fault::Filter { chains, protocols, ports } => {
                for chain in chains {
                    for proto in protocols {
                        for port in ports {
                            out.push(format!(
                                "-A {chain} -p {proto} -m {proto} --dport {port} -m comment \
                                 --comment \"chaosdeck-{}\" -j DROP",
                                self.tag
                            ));
                        }
                    }
                }
            }
            Fault::Netem { devs, handle, delay, loss, rate } => {
                let mut params = Vec::new();
                if let Some(d) = delay {
                    params.push(format!("delay {d}"));
                }
                if let Some(l) = loss {
                    params.push(format!("loss {l}%"));
                }
                if let Some(r) = rate {
                    params.push(format!("rate {r}"));
                }
                for dev in devs {
                    out.push(format!(
                        "dev {dev}: qdisc netem {handle}: root refcnt 2 limit 1000 {}",
                        params.join(" ")
                    ));
                }
            }
            Fault::LinkDown { devs } => out.extend(devs.iter().map(|d| format!("dev {d}: down"))),
            // The device the stand-ins pretend is behind every mount, as the helper prints it.
            Fault::Throttle { limits } => {
                let keys = ["rbps", "wbps", "riops", "wiops"].map(|k| {
                    let v = limits.iter().find(|(l, _)| l == k).map(|(_, v)| v.to_string());
                    format!("{k}={}", v.unwrap_or_else(|| "max".into()))
                });
                out.push(format!("io.max 253:0 {}", keys.join(" ")));
            }
            Fault::Lift => {}
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

/// `100ms`, `1s`, `500us` as a Duration.
fn duration(s: &str) -> Option<Duration> {
    let cut = s.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = s[..cut].parse().ok()?;
    match &s[cut..] {
        "us" => Some(Duration::from_micros(n)),
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        _ => None,
    }
}

/// What a pod's traffic suffers from netem: added delay, and the chance a packet is lost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Impairment {
    pub delay: Duration,
    pub loss: f64,
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

    /// The helpers whose faults are in force now.
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
            h.at == Where::Pod(uid.to_string())
                && matches!(&h.fault, Fault::Filter { chains, protocols, ports }
                    if chains.iter().any(|c| c == "INPUT")
                        && protocols.iter().any(|p| p == "tcp")
                        && ports.contains(&port))
        })
    }

    /// Whether a helper has set `node`'s interfaces down (the node is cut off).
    pub fn cut_off(&self, store: &Store, node: &str) -> bool {
        self.in_force(store).iter().any(|h| {
            h.at == Where::Node(node.to_string()) && matches!(h.fault, Fault::LinkDown { .. })
        })
    }

    /// The netem in force on pod `uid`'s egress, its own or its node's (`node`).
    pub fn impairment(&self, store: &Store, uid: &str, node: &str) -> Impairment {
        let mut total = Impairment::default();
        for h in self.in_force(store) {
            let applies = h.at == Where::Pod(uid.to_string()) || h.at == Where::Node(node.into());
            if let (true, Fault::Netem { delay, loss, .. }) = (applies, &h.fault) {
                total.delay += delay.as_deref().and_then(duration).unwrap_or_default();
                let l = f64::from(loss.unwrap_or(0)) / 100.0;
                total.loss = 1.0 - (1.0 - total.loss) * (1.0 - l);
            }
        }
        total
    }

    /// `chaosdeck helper status|remove --tag T`, run in helper pod `pod`: it sees what it
    /// applied itself.
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
        // Read again, as `iptables -S` / `tc qdisc show` would after the removal.
        let held = if own.tag == tag && !self.is_removed(tag) && running(pod) {
            own.lines()
        } else {
            Vec::new()
        };
        let mut out = String::new();
        for line in &held {
            out.push_str(line);
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
