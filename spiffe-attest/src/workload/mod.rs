//! Workload attestation: from the kernel credentials of a process calling the Workload API to
//! the selectors that describe it.

use spiffe_core::BoxFuture;

use crate::{AttestError, Selector};

mod caller;
pub mod cgroup;
pub mod docker;
pub mod k8s;
pub mod systemd;
pub mod unix;

pub use caller::CallerInfo;

/// Produces selectors for a calling process.
///
/// An attestor must not attribute a different process to the caller: when the pid may have
/// been reused (the caller exited and another process took its pid), it fails instead. An
/// attestor that inspects the caller's process refuses a caller whose pid or start time was not
/// captured at accept ([`CallerInfo::pid`], [`CallerInfo::start_time`]).
pub trait WorkloadAttestor: Send + Sync {
    /// The attestor's name, which is also the type of the selectors it produces (`unix`).
    fn name(&self) -> &'static str;

    /// The selectors of the process `caller` describes.
    fn attest<'a>(
        &'a self,
        caller: &'a CallerInfo,
    ) -> BoxFuture<'a, Result<Vec<Selector>, AttestError>>;
}
