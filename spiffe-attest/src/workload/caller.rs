//! [`CallerInfo`]: who is at the other end of a Workload API connection.

use std::fmt;

/// Who is calling the Workload API, as the kernel reports the Unix socket's peer
/// (`SO_PEERCRED`, WEP-12), never as the caller claims it, captured when the connection was
/// accepted.
///
/// This is the one type for the concept in the workspace: the workload attestors take it
/// ([`WorkloadAttestor::attest`](super::WorkloadAttestor::attest)), and `spiffe-workload`'s
/// server kit hands it to identity providers (re-exported as `spiffe_workload::CallerInfo`).
///
/// ```
/// use spiffe_attest::workload::CallerInfo;
///
/// // What a server reads at accept: SO_PEERCRED, then at once the process start time.
/// let caller = CallerInfo::new(Some(4242), 1000, 1000).with_start_time(123_456);
/// assert_eq!(caller.to_string(), "pid=4242 uid=1000 gid=1000");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CallerInfo {
    /// The peer's process id, when the transport reports one (`None` over TCP, where the
    /// operator attests callers by address, WEP-4).
    pub pid: Option<i32>,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
    /// The peer process's start time (clock ticks after boot, `/proc/<pid>/stat` field 22),
    /// read right after `SO_PEERCRED` at accept (see
    /// [`unix::process_start_time`](super::unix::process_start_time)). Attestors compare it
    /// with the process they inspect, so a later process that reuses the pid is not taken for
    /// the caller; an attestor that inspects the process refuses a caller without it.
    pub start_time: Option<u64>,
}

// === impl CallerInfo ===

impl CallerInfo {
    /// A caller with these credentials and no start time (a TCP caller the operator attests by
    /// address, or a test).
    pub fn new(pid: Option<i32>, uid: u32, gid: u32) -> Self {
        Self {
            pid,
            uid,
            gid,
            start_time: None,
        }
    }

    /// The same caller with the process start time captured at accept.
    #[must_use]
    pub fn with_start_time(mut self, start_time: u64) -> Self {
        self.start_time = Some(start_time);
        self
    }
}

impl fmt::Display for CallerInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid={pid} uid={} gid={}", self.uid, self.gid),
            None => write!(f, "uid={} gid={}", self.uid, self.gid),
        }
    }
}
