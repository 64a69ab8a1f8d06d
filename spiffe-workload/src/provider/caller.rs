use std::fmt;

/// Who is calling the Workload API, as the kernel reports it for the Unix socket peer
/// (SO_PEERCRED), never as the caller claims it (WEP-12: no client authentication).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CallerInfo {
    /// The peer's process id, when the platform reports it.
    pub pid: Option<i32>,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}

// === impl CallerInfo ===

impl CallerInfo {
    /// A caller with these credentials (e.g. for tests or non-socket transports).
    pub fn new(pid: Option<i32>, uid: u32, gid: u32) -> Self {
        Self { pid, uid, gid }
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
