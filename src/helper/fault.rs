//! The faults a helper holds, each applied whole or not at all, found again by its tag (rules)
//! or its recorded handle (qdiscs), and removed by that alone.

use std::path::PathBuf;

use super::iomax::{self, Limits};
use super::netns::{Netns, Program};
use super::qdisc::Netem;
use super::rules::{Rule, deletion, tagged};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// DROP rules, each commented `chaosdeck-<tag>`.
    Filter(Vec<Rule>),
    /// A netem qdisc at the root of each device, under the entry's handle.
    Netem(Netem),
    /// Each device set down (only devices that were up: one already down is someone else's).
    LinkDown(Vec<String>),
    /// An `io.max` limit on one device of a container's cgroup, the previous one kept.
    Throttle(Throttle),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    pub file: PathBuf,
    pub device: String,
    pub ours: Limits,
    pub previous: Limits,
    /// The test bed's stand-in file rather than the kernel's.
    pub plain: bool,
}

impl Throttle {
    fn held(&self) -> Result<Vec<String>, String> {
        let now = iomax::read(&self.file, &self.device)?;
        Ok(if now == self.ours && self.ours != self.previous {
            vec![format!("io.max {} {}", self.device, self.ours.line())]
        } else {
            Vec::new()
        })
    }
}

fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Whether `ip -o link show dev …` says the device is administratively up.
fn is_up(shown: &str) -> bool {
    shown
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .is_some_and(|(flags, _)| flags.split(',').any(|f| f == "UP"))
}

fn link_up(ns: &dyn Netns, dev: &str) -> Result<bool, String> {
    Ok(is_up(&ns.run(Program::Ip, &words(&["-o", "link", "show", "dev", dev]))?))
}

impl Fault {
    /// Applies every part; when one fails, takes back what was added and says so.
    pub fn apply(&self, ns: &dyn Netns, tag: &str) -> Result<(), String> {
        let result = match self {
            Fault::Filter(rules) => rules.iter().try_for_each(|rule| {
                let mut add = vec!["-A".to_string(), rule.chain.clone()];
                add.extend(rule.spec());
                ns.run(Program::Iptables, &add).map(|_| ())
            }),
            Fault::Netem(q) => {
                q.devs.iter().try_for_each(|dev| ns.run(Program::Tc, &q.add_args(dev)).map(|_| ()))
            }
            Fault::LinkDown(devs) => {
                // All checked first: setting some down and refusing the rest would cut the node
                // off for nothing.
                for dev in devs {
                    if !link_up(ns, dev)? {
                        return Err(format!(
                            "{dev} is down already (not this helper's to bring up)"
                        ));
                    }
                }
                devs.iter().try_for_each(|dev| {
                    ns.run(Program::Ip, &words(&["link", "set", "dev", dev, "down"])).map(|_| ())
                })
            }
            Fault::Throttle(t) => iomax::write(&t.file, &t.device, &t.ours, t.plain),
        };
        result.map_err(|e| {
            let left = self.remove(ns, tag);
            format!("{e}; took back what was already applied ({left:?} left)")
        })
    }

    /// What of it is in force now, as the tools print it.
    pub fn held(&self, ns: &dyn Netns, tag: &str) -> Result<Vec<String>, String> {
        match self {
            Fault::Filter(_) => {
                let lines = list_rules(ns)?;
                Ok(tagged(&lines, tag).into_iter().cloned().collect())
            }
            Fault::Netem(q) => {
                let mut out = Vec::new();
                for dev in &q.devs {
                    let shown = ns.run(Program::Tc, &Netem::show_args(dev))?;
                    out.extend(q.held(&shown).into_iter().map(|l| format!("dev {dev}: {l}")));
                }
                Ok(out)
            }
            Fault::LinkDown(devs) => {
                let mut out = Vec::new();
                for dev in devs {
                    if !link_up(ns, dev)? {
                        out.push(format!("dev {dev}: down"));
                    }
                }
                Ok(out)
            }
            Fault::Throttle(t) => t.held(),
        }
    }

    /// Removes every part found in force, then reads again: how many are left.
    pub fn remove(&self, ns: &dyn Netns, tag: &str) -> Result<usize, String> {
        let mut errors = Vec::new();
        match self {
            Fault::Filter(_) => {
                let lines = list_rules(ns)?;
                for line in tagged(&lines, tag) {
                    match deletion(line) {
                        Some(args) => {
                            if let Err(e) = ns.run(Program::Iptables, &args) {
                                errors.push(e);
                            }
                        }
                        None => errors.push(format!("cannot read back {line:?}")),
                    }
                }
            }
            Fault::Netem(q) => {
                for dev in &q.devs {
                    let shown = ns.run(Program::Tc, &Netem::show_args(dev))?;
                    if !q.held(&shown).is_empty()
                        && let Err(e) = ns.run(Program::Tc, &q.del_args(dev))
                    {
                        errors.push(e);
                    }
                }
            }
            Fault::LinkDown(devs) => {
                for dev in devs {
                    let up = words(&["link", "set", "dev", dev, "up"]);
                    if let Err(e) = ns.run(Program::Ip, &up) {
                        errors.push(e);
                    }
                }
            }
            // Only while the line is still ours: someone's later limit is theirs to lift.
            Fault::Throttle(t) => {
                if !t.held()?.is_empty()
                    && let Err(e) = iomax::write(&t.file, &t.device, &t.previous, t.plain)
                {
                    errors.push(e);
                }
            }
        }
        let left = self.held(ns, tag)?.len();
        if left > 0 && !errors.is_empty() {
            return Err(errors.join("; "));
        }
        Ok(left)
    }

    /// One line for the state file: what `status` and `remove` must look for.
    pub fn to_state(&self) -> String {
        match self {
            Fault::Filter(_) => "filter".into(),
            Fault::Netem(q) => format!("netem {:x} {}", q.handle, q.devs.join(",")),
            Fault::LinkDown(devs) => format!("link-down {}", devs.join(",")),
            Fault::Throttle(t) => format!(
                "throttle {} {} {} {} {}",
                t.device,
                u8::from(t.plain),
                t.ours.line().replace(' ', ","),
                t.previous.line().replace(' ', ","),
                t.file.display()
            ),
        }
    }

    pub fn from_state(line: &str) -> Option<Fault> {
        if let Some(rest) = line.strip_prefix("throttle ") {
            let mut f = rest.splitn(5, ' ');
            let device = f.next()?.to_string();
            iomax::check_device(&device).ok()?;
            let plain = f.next()? == "1";
            let ours = Limits::parse(&f.next()?.replace(',', " ")).ok()?;
            let previous = Limits::parse(&f.next()?.replace(',', " ")).ok()?;
            let file = PathBuf::from(f.next()?);
            return Some(Fault::Throttle(Throttle { file, device, ours, previous, plain }));
        }
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["filter"] => Some(Fault::Filter(Vec::new())),
            ["netem", handle, devs] => {
                let handle = u16::from_str_radix(handle, 16).ok()?;
                let devs: Vec<String> = devs.split(',').map(str::to_string).collect();
                if devs.iter().any(|d| super::qdisc::check_dev(d).is_err()) {
                    return None;
                }
                Some(Fault::Netem(Netem { devs, handle, delay: None, loss: None, rate: None }))
            }
            ["link-down", devs] => {
                let devs: Vec<String> = devs.split(',').map(str::to_string).collect();
                if devs.iter().any(|d| super::qdisc::check_dev(d).is_err()) {
                    return None;
                }
                Some(Fault::LinkDown(devs))
            }
            _ => None,
        }
    }
}

fn list_rules(ns: &dyn Netns) -> Result<Vec<String>, String> {
    Ok(ns.run(Program::Iptables, &["-S".to_string()])?.lines().map(str::to_string).collect())
}
