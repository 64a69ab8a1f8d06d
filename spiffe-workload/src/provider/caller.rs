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
    /// The peer process's start time (clock ticks after boot, `/proc/<pid>/stat` field 22),
    /// read when the connection was accepted. Attestors compare it with the process they
    /// inspect, so a later process that reuses the pid is not taken for the caller.
    pub start_time: Option<u64>,
}

// === impl CallerInfo ===

impl CallerInfo {
    /// A caller with these credentials (e.g. for tests or non-socket transports).
    pub fn new(pid: Option<i32>, uid: u32, gid: u32) -> Self {
        Self {
            pid,
            uid,
            gid,
            start_time: None,
        }
    }

    /// The same caller with the process start time read at accept.
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
