//! Chaos scenarios, one module per Krkn `scenario_type`, behind one small trait.
//!
//! Owns: reading each type's scenario file (Krkn's format) and performing its changes through
//! [`ScenarioCtx`], which journals every change before making it. Must not write journal files
//! or know the engine (it reports through [`ScenarioEvent`]); must not undo other scenarios'
//! changes. Each plan declares what it needs ([`needs`]); its context enforces that.

pub mod ctx;
mod error;
mod event;
mod file;
mod names;
pub mod needs;
mod plan;

mod app_outage;
mod attackers;
mod claim_mount;
mod container_kill;
mod hog;
mod network_chaos_ng;
mod node;
mod pod_disruption;
mod pvc_fill;
mod service_disruption;
mod service_hijacking;
mod storage_throttle;

pub use ctx::{Change, ScenarioCtx};
pub use error::ScenarioError;
pub use event::{EventSink, ScenarioEvent};
pub use needs::{Need, Op};
pub use plan::{Outcome, ScenarioPlan, ScenarioType};

static REGISTRY: [&dyn ScenarioType; 12] = [
    &app_outage::Type,
    &hog::Type,
    &service_hijacking::Type,
    &attackers::SynFlood,
    &attackers::HttpLoad,
    &pod_disruption::Type,
    &node::Type,
    &pvc_fill::Type,
    &container_kill::Type,
    &service_disruption::Type,
    &network_chaos_ng::Type,
    &storage_throttle::Type,
];

pub fn registry() -> &'static [&'static dyn ScenarioType] {
    &REGISTRY
}

pub fn find(name: &str) -> Option<&'static dyn ScenarioType> {
    REGISTRY.iter().copied().find(|t| t.name() == name)
}

pub fn supported_names() -> Vec<&'static str> {
    REGISTRY.iter().map(|t| t.name()).collect()
}
