//! Talking to a cluster: building a kube `Client` and generic object operations.
//!
//! Owns: kubeconfig/context selection and get/patch/delete/create by apiVersion + kind through
//! discovery and `DynamicObject`, used by scenarios and by the journal executor alike. Must not
//! know about journal files or scenarios. `access` names permissions and asks the API server
//! whether they are held (the preflight). `exec` runs the closed vocabulary of in-container
//! commands.

pub mod access;
mod caller;
mod connect;
pub mod exec;
mod ops;
mod write_fence;

pub use caller::{Caller, impersonating, whoami};
pub use connect::{
    ClusterTarget, IN_CLUSTER_CONTEXT, client_config, connect, connect_in_cluster, identify,
};
pub use ops::{ClusterOps, DeleteOutcome, OpError};
pub use write_fence::{DryRunRefused, Fence, FenceDown, fenced, read_only};
