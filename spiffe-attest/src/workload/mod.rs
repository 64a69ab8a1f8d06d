//! Workload attestation: from the kernel credentials of a process calling the Workload API to
//! the selectors that describe it.

use spiffe_core::BoxFuture;

use crate::{AttestError, Selector};

pub mod unix;

/// The kernel's account of the process at the other end of a Unix socket (`SO_PEERCRED`),
/// captured when the connection was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerCredentials {
    /// The peer's process id.
    pub pid: i32,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
    /// The process start time (clock ticks after boot, `/proc/<pid>/stat` field 22) read
    /// right after `SO_PEERCRED` at accept: it tells the connected process apart from a later
    /// one that reuses its pid. See [`unix::process_start_time`].
    pub start_time: Option<u64>,
}

impl PeerCredentials {
    /// Credentials as read from `SO_PEERCRED`.
    pub fn new(pid: i32, uid: u32, gid: u32) -> Self {
        Self {
            pid,
            uid,
            gid,
            start_time: None,
        }
    }

    /// Adds the process start time captured at accept.
    pub fn with_start_time(mut self, start_time: u64) -> Self {
        self.start_time = Some(start_time);
        self
    }
}

/// Produces selectors for a calling process.
///
/// An attestor must not attribute a different process to the caller: when the pid may have
/// been reused (the caller exited and another process took its pid), it fails instead.
pub trait WorkloadAttestor: Send + Sync {
    /// The attestor's name, which is also the type of the selectors it produces (`unix`).
    fn name(&self) -> &'static str;

    /// The selectors of the process `peer` describes.
    fn attest<'a>(
        &'a self,
        peer: &'a PeerCredentials,
    ) -> BoxFuture<'a, Result<Vec<Selector>, AttestError>>;
}
