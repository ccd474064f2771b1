//! The helper: the program chaosdeck's helper pod runs on the target's node
//! (`chaosdeck helper …`). It applies one fault tagged with its entry id, removes it by itself
//! when its deadline passes or when it is stopped — whether or not anyone is left to tell it,
//! and whether or not the node can reach the API server — and answers `status` and `remove`
//! for the undo, which reaches it through `pods/exec`.
//!
//! Owns: the faults it applies (rules carry the comment `chaosdeck-<tag>`, qdiscs the entry's
//! handle; links it set down and `io.max` lines it wrote are kept in its state with what was
//! there before), finding them again by that alone, and its own deadline. Must not talk to
//! the API server or touch anything not tagged with its entry: it runs with NET_ADMIN on
//! someone's node.
//!
//! One file per job: `args` (the words every fault takes, the line every answer ends with),
//! `rules` (an iptables rule and reading it back), `qdisc` (a netem qdisc), `iomax` (a cgroup
//! I/O limit), `fault` (applying,
//! finding and removing each kind), `netns` (where they live: the kernel through `nsenter`,
//! `iptables`, `tc` and `ip`, or files for the test bed), `state` (what a fault leaves for `status`
//! and `remove`), `lifetime` (deadline and signals), `pod` (the pod spec a helper runs in),
//! `lift` (lifting a throttle someone else left, one shot).

mod args;
mod fault;
mod iomax;
mod lifetime;
mod lift;
pub use lift::CGROUP_GONE as LIFT_CGROUP_GONE;
mod netns;
pub mod pod;
mod qdisc;
mod rules;
mod state;

use std::process::ExitCode;

use clap::{Args, Subcommand};

pub use args::{Backend, Common, DEFAULT_STATE_DIR, TagArgs, tagged_line};
pub use iomax::check_device;
pub use lift::check_cgroup_path;
pub use qdisc::{check as check_netem, check_dev, handle_of};
pub use rules::Rule;

#[derive(Args, Debug)]
pub struct HelperArgs {
    #[command(subcommand)]
    pub command: HelperCommand,
}

#[derive(Subcommand, Debug)]
pub enum HelperCommand {
    /// DROP traffic to some ports of a pod or the node until --for seconds pass or a signal.
    Filter(FilterArgs),
    /// Delay, lose or throttle a pod's or the node's egress (netem) until --for or a signal.
    Netem(NetemArgs),
    /// Set the node's interfaces down until --for seconds pass (or a signal), then up again:
    /// the node is cut off meanwhile, so nobody else can.
    #[command(name = "link-down")]
    LinkDown(LinkDownArgs),
    /// Limit a container's I/O on the device behind one of its mounts (cgroup v2 `io.max`)
    /// until --for or a signal, then write the previous limit back.
    Throttle(ThrottleArgs),
    /// Lift the I/O limits of a device in a pod's cgroup (Krkn's storage throttle), once.
    Lift(lift::LiftArgs),
    /// Print what is in force for `<tag>` and its count.
    Status(TagArgs),
    /// Remove what is in force for `<tag>`, read again, print how much is left.
    Remove(TagArgs),
}

#[derive(Args, Debug)]
pub struct FilterArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long = "chain", required = true)]
    pub chains: Vec<String>,
    #[arg(long = "protocol", required = true)]
    pub protocols: Vec<String>,
    #[arg(long = "port", required = true)]
    pub ports: Vec<u16>,
}

#[derive(Args, Debug)]
pub struct NetemArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long = "dev", required = true)]
    pub devs: Vec<String>,
    /// The qdiscs' handle (hex major), as the entry records it.
    #[arg(long, value_parser = parse_handle)]
    pub handle: u16,
    #[arg(long)]
    pub delay: Option<String>,
    #[arg(long)]
    pub loss: Option<String>,
    #[arg(long)]
    pub rate: Option<String>,
}

#[derive(Args, Debug)]
pub struct LinkDownArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long = "dev", required = true)]
    pub devs: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ThrottleArgs {
    #[command(flatten)]
    pub common: Common,
    /// The container's mount point whose device is limited.
    #[arg(long)]
    pub mount: String,
    #[arg(long)]
    pub rbps: Option<u64>,
    #[arg(long)]
    pub wbps: Option<u64>,
    #[arg(long)]
    pub riops: Option<u64>,
    #[arg(long)]
    pub wiops: Option<u64>,
    /// The node's cgroup v2 mount.
    #[arg(long, default_value = "/sys/fs/cgroup", hide = true)]
    pub cgroup_root: std::path::PathBuf,
}

/// The device the test bed's stand-in file pretends is behind every mount.
pub const STANDIN_DEVICE: &str = "253:0";

fn parse_handle(s: &str) -> Result<u16, String> {
    u16::from_str_radix(s.trim_end_matches(':'), 16)
        .ok()
        .filter(|h| *h != 0 && *h != 0xffff)
        .ok_or_else(|| format!("{s:?} is not a qdisc handle (hex, 1 to fffe)"))
}

impl FilterArgs {
    fn fault(&self) -> Result<fault::Fault, String> {
        let mut rules = Vec::new();
        for chain in &self.chains {
            if !matches!(chain.as_str(), "INPUT" | "OUTPUT") {
                return Err(format!("chain {chain:?} is not INPUT or OUTPUT"));
            }
            for protocol in &self.protocols {
                if !matches!(protocol.as_str(), "tcp" | "udp") {
                    return Err(format!("protocol {protocol:?} is not tcp or udp"));
                }
                for &port in &self.ports {
                    if port == 0 {
                        return Err("port 0 is not a port".into());
                    }
                    rules.push(Rule {
                        chain: chain.clone(),
                        protocol: protocol.clone(),
                        port,
                        tag: self.common.tag.clone(),
                    });
                }
            }
        }
        Ok(fault::Fault::Filter(rules))
    }
}

impl NetemArgs {
    fn fault(&self) -> Result<fault::Fault, String> {
        qdisc::check(self.delay.as_deref(), self.loss.as_deref(), self.rate.as_deref())?;
        self.devs.iter().try_for_each(|d| qdisc::check_dev(d))?;
        Ok(fault::Fault::Netem(qdisc::Netem {
            devs: self.devs.clone(),
            handle: self.handle,
            delay: self.delay.clone(),
            loss: self.loss.clone(),
            rate: self.rate.clone(),
        }))
    }
}

impl LinkDownArgs {
    fn fault(&self) -> Result<fault::Fault, String> {
        self.devs.iter().try_for_each(|d| qdisc::check_dev(d))?;
        if self.common.pod_uid.is_some() {
            return Err("link-down acts on the node's own interfaces (--node)".into());
        }
        Ok(fault::Fault::LinkDown(self.devs.clone()))
    }
}

impl ThrottleArgs {
    /// Finds the container's `io.max` and device, reads the limit in force (kept, to write
    /// back), and merges this throttle's limits into it.
    fn fault(&self) -> Result<fault::Fault, String> {
        let Some(uid) = &self.common.pod_uid else {
            return Err("throttle acts on a pod's container (--pod-uid)".into());
        };
        state::check_tag(&self.common.tag)?;
        let set: Vec<(&str, u64)> = [
            ("rbps", self.rbps),
            ("wbps", self.wbps),
            ("riops", self.riops),
            ("wiops", self.wiops),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        if set.is_empty() || set.iter().any(|(_, v)| *v == 0) {
            return Err("give at least one of --rbps, --wbps, --riops, --wiops (above 0)".into());
        }
        let (file, device, plain) = match self.common.backend {
            Backend::Kernel => {
                let (file, device) =
                    iomax::locate(&self.common.proc_root, &self.cgroup_root, uid, &self.mount)?;
                (file, device, false)
            }
            Backend::Files => {
                std::fs::create_dir_all(&self.common.state_dir)
                    .map_err(|e| format!("creating {}: {e}", self.common.state_dir.display()))?;
                let file = self.common.state_dir.join(format!("netns-{uid}.io.max"));
                (file, STANDIN_DEVICE.to_string(), true)
            }
        };
        let previous = iomax::read(&file, &device)?;
        let mut ours = previous.clone();
        for (k, v) in set {
            ours.0.insert(k.to_string(), v);
        }
        Ok(fault::Fault::Throttle(fault::Throttle { file, device, ours, previous, plain }))
    }
}

pub async fn run(args: HelperArgs) -> color_eyre::Result<ExitCode> {
    let result = match args.command {
        HelperCommand::Filter(f) => match f.fault() {
            Ok(fault) => lifetime::run(fault, f.common).await,
            Err(e) => Err(e),
        },
        HelperCommand::Netem(n) => match n.fault() {
            Ok(fault) => lifetime::run(fault, n.common).await,
            Err(e) => Err(e),
        },
        HelperCommand::LinkDown(l) => match l.fault() {
            Ok(fault) => lifetime::run(fault, l.common).await,
            Err(e) => Err(e),
        },
        HelperCommand::Throttle(t) => match t.fault() {
            Ok(fault) => lifetime::run(fault, t.common).await,
            Err(e) => Err(e),
        },
        HelperCommand::Lift(l) => lift::run(&l),
        HelperCommand::Status(t) => lifetime::status(&t),
        HelperCommand::Remove(t) => lifetime::remove(&t),
    };
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("chaosdeck-helper: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
