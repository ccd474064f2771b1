//! The embedded Kubernetes API emulator (placeholder: the sandbox issue fills this in).
//!
//! Owns: an in-process HTTP server that speaks enough of the Kubernetes API for kube-rs and
//! kubectl. Must not touch: the journal, the engine or any real cluster.

pub mod command;

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Name of the kubeconfig cluster, user and context the sandbox writes.
pub const SANDBOX_CONTEXT: &str = "chaosdeck-sandbox";

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox is not built yet")]
    NotBuilt,
    #[error("bad seed {0:?}: expected demo, empty or scale:NODES:PODS")]
    BadSeed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    Demo,
    Empty,
    Scale { nodes: usize, pods: usize },
}

impl FromStr for Seed {
    type Err = SandboxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "demo" => Ok(Seed::Demo),
            "empty" => Ok(Seed::Empty),
            _ => Err(SandboxError::BadSeed(s.to_string())),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub port: u16,
    pub seed: Seed,
    pub pod_ready_delay: Duration,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self { port: 0, seed: Seed::Demo, pod_ready_delay: Duration::from_millis(200) }
    }
}

pub struct Sandbox {
    addr: SocketAddr,
}

impl Sandbox {
    pub async fn start(_opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
        Err(SandboxError::NotBuilt)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn kubeconfig_yaml(&self) -> String {
        String::new()
    }
    pub fn write_kubeconfig(&self, _path: &Path) -> std::io::Result<()> {
        Err(std::io::Error::other("the sandbox is not built yet"))
    }
    pub fn client(&self) -> Result<kube::Client, SandboxError> {
        Err(SandboxError::NotBuilt)
    }
    pub async fn shutdown(self) {}
}
