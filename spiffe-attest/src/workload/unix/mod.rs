//! The `unix` workload attestor: selectors from the caller's process as Linux's `/proc` shows
//! it.
//!
//! Selectors (type `unix`, SPIRE's names): `uid:<effective uid>`, `user:<name>`,
//! `gid:<effective gid>`, `group:<name>`, `supplementary_gid:<gid>` and
//! `supplementary_group:<name>` for each supplementary group, and, when enabled,
//! `path:<binary path>` and `sha256:<hex digest of the binary>`.
//!
//! - Names come from `/etc/passwd` and `/etc/group` only; NSS sources are not consulted. An id
//!   without a name gets no name selector (as in SPIRE).
//! - The path is the `/proc/<pid>/exe` link as the kernel renders it, which for a workload in
//!   another mount namespace (a container) is the path inside that namespace. The digest is
//!   read through `/proc/<pid>/exe` itself, so it is the binary the process runs whatever its
//!   namespace (SPIRE behaves the same way). Files larger than the configured limit fail
//!   attestation rather than being hashed in part.
//! - Pid reuse: the process must still be the one that connected. Its start time is read
//!   before and after everything else and compared with the one captured at accept
//!   ([`CallerInfo::start_time`]); a caller without a pid or without a captured start time is
//!   refused (fail closed: without it a later process reusing the pid could not be told
//!   apart). Its effective uid and gid must be those of `SO_PEERCRED`. A process that has
//!   exited (or is a zombie) is an error, never another process's selectors.
//! - A process that calls `execve` after connecting keeps its pid and start time (and the
//!   connection): the attestor describes the binary it runs at attestation time. SPIRE has the
//!   same limit; a workload that must not be impersonated after an exec should not exec
//!   untrusted code while holding the connection.
//!
//! The reads are blocking file I/O (hashing a binary may read many megabytes): a daemon
//! calls [`UnixAttestor::attest_blocking`] from a blocking thread, or the trait method from
//! a runtime that tolerates it.

mod names;
mod procfs;

use std::io::Read;
use std::path::{Path, PathBuf};

use aws_lc_rs::digest;

use super::{CallerInfo, WorkloadAttestor};
use spiffe_core::BoxFuture;

use crate::{AttestError, Selector};

use names::Names;

/// The plugin name, which is also the type of its selectors.
pub const PLUGIN_NAME: &str = "unix";

/// The default limit on the size of a binary to hash: 256 MiB.
pub const DEFAULT_MAX_BINARY_SIZE: u64 = 256 * 1024 * 1024;

/// Reads a process's start time (clock ticks after boot, `/proc/<pid>/stat` field 22). Call
/// it right after reading `SO_PEERCRED` on accept, and keep the result in
/// [`CallerInfo::with_start_time`].
pub fn process_start_time(pid: i32) -> Result<u64, UnixAttestorError> {
    let stat = read_stat(Path::new("/proc"), pid)?;
    if stat.exited() {
        return Err(UnixAttestorError::ProcessExited { pid });
    }
    Ok(stat.start_time)
}

/// The unix workload attestor.
#[derive(Debug, Clone)]
pub struct UnixAttestor {
    proc_root: PathBuf,
    passwd: PathBuf,
    group: PathBuf,
    discover_path: bool,
    max_binary_size: Option<u64>,
}

// === impl UnixAttestor ===

impl Default for UnixAttestor {
    fn default() -> Self {
        Self::new()
    }
}

impl UnixAttestor {
    /// An attestor producing the user and group selectors only (SPIRE's default).
    pub fn new() -> Self {
        Self {
            proc_root: PathBuf::from("/proc"),
            passwd: PathBuf::from("/etc/passwd"),
            group: PathBuf::from("/etc/group"),
            discover_path: false,
            max_binary_size: None,
        }
    }

    /// Also produces the `path` selector, and the `sha256` selector for binaries of at most
    /// `max_binary_size` bytes (`None`: no digest). Needs permission to follow
    /// `/proc/<pid>/exe` of other users' processes (root or `CAP_SYS_PTRACE`).
    pub fn with_workload_path(mut self, max_binary_size: Option<u64>) -> Self {
        self.discover_path = true;
        self.max_binary_size = max_binary_size;
        self
    }

    /// Reads processes under `proc_root` instead of `/proc` (a host `/proc` mounted into a
    /// container, SPIRE's `HOST_PROC`).
    pub fn with_proc_root(mut self, proc_root: impl Into<PathBuf>) -> Self {
        self.proc_root = proc_root.into();
        self
    }

    /// Reads names from these files instead of `/etc/passwd` and `/etc/group`.
    pub fn with_account_files(
        mut self,
        passwd: impl Into<PathBuf>,
        group: impl Into<PathBuf>,
    ) -> Self {
        self.passwd = passwd.into();
        self.group = group.into();
        self
    }

    /// The selectors of `caller`'s process, with blocking reads.
    pub fn attest_blocking(&self, caller: &CallerInfo) -> Result<Vec<Selector>, UnixAttestorError> {
        let pid = caller.pid.ok_or(UnixAttestorError::NoPid)?;
        // Fail closed: without the start time captured at accept, a process that took the
        // caller's pid after it exited could not be told apart from the caller.
        let start_time = caller
            .start_time
            .ok_or(UnixAttestorError::StartTimeUnknown { pid })?;
        let dir = procfs::pid_dir(&self.proc_root, pid)?;

        // The process this attestation is about: the one captured at accept.
        let before = read_stat(&self.proc_root, pid)?;
        if before.exited() {
            return Err(UnixAttestorError::ProcessExited { pid });
        }
        if before.start_time != start_time {
            return Err(UnixAttestorError::PidReused { pid });
        }

        let status = procfs::read_small(&dir.join("status"), pid)?;
        let status = procfs::parse_status(&status).ok_or(UnixAttestorError::Unparsable {
            pid,
            file: "status",
        })?;
        if status.effective_uid != caller.uid || status.effective_gid != caller.gid {
            return Err(UnixAttestorError::CredentialsChanged { pid });
        }

        let mut values: Vec<(&'static str, String)> = Vec::new();
        let names = Names::load(&self.passwd, &self.group);
        values.push(("uid", format!("uid:{}", status.effective_uid)));
        if let Some(user) = names.user(status.effective_uid) {
            values.push(("user", format!("user:{user}")));
        }
        values.push(("gid", format!("gid:{}", status.effective_gid)));
        if let Some(group) = names.group(status.effective_gid) {
            values.push(("group", format!("group:{group}")));
        }
        for gid in &status.groups {
            values.push(("supplementary_gid", format!("supplementary_gid:{gid}")));
            if let Some(group) = names.group(*gid) {
                values.push((
                    "supplementary_group",
                    format!("supplementary_group:{group}"),
                ));
            }
        }
        if self.discover_path {
            let exe = dir.join("exe");
            let path =
                std::fs::read_link(&exe).map_err(|e| io_error(pid, "reading exe link", e))?;
            let path = path
                .to_str()
                .ok_or(UnixAttestorError::UnusableValue { pid, what: "path" })?;
            values.push(("path", format!("path:{path}")));
            if let Some(limit) = self.max_binary_size {
                values.push(("sha256", format!("sha256:{}", sha256_of(&exe, limit, pid)?)));
            }
        }

        // Still the same, living process: otherwise what was read may describe another.
        let after = read_stat(&self.proc_root, pid)?;
        if after.start_time != before.start_time {
            return Err(UnixAttestorError::PidReused { pid });
        }
        if after.exited() {
            return Err(UnixAttestorError::ProcessExited { pid });
        }

        values
            .iter()
            .map(|(what, value)| {
                Selector::new(PLUGIN_NAME, value)
                    .map_err(|_| UnixAttestorError::UnusableValue { pid, what })
            })
            .collect()
    }
}

/// Checks that `caller`'s process under `proc_root` is still the one that connected (its start
/// time is the one captured at accept, and it has not exited), and returns its pid. Refuses a
/// caller without a pid or a captured start time. The other attestors that inspect `/proc`
/// call it before and after their reads.
pub(crate) fn same_process(
    proc_root: &Path,
    caller: &CallerInfo,
) -> Result<i32, UnixAttestorError> {
    let pid = caller.pid.ok_or(UnixAttestorError::NoPid)?;
    let start_time = caller
        .start_time
        .ok_or(UnixAttestorError::StartTimeUnknown { pid })?;
    let stat = read_stat(proc_root, pid)?;
    if stat.exited() {
        return Err(UnixAttestorError::ProcessExited { pid });
    }
    if stat.start_time != start_time {
        return Err(UnixAttestorError::PidReused { pid });
    }
    Ok(pid)
}

fn read_stat(proc_root: &Path, pid: i32) -> Result<procfs::Stat, UnixAttestorError> {
    let dir = procfs::pid_dir(proc_root, pid)?;
    let text = procfs::read_small(&dir.join("stat"), pid)?;
    procfs::parse_stat(&text).ok_or(UnixAttestorError::Unparsable { pid, file: "stat" })
}

fn io_error(pid: i32, what: &'static str, e: std::io::Error) -> UnixAttestorError {
    if procfs::gone(&e) {
        UnixAttestorError::ProcessExited { pid }
    } else {
        UnixAttestorError::Io {
            pid,
            what,
            kind: e.kind(),
        }
    }
}

/// SHA-256 of the binary behind `/proc/<pid>/exe`, refusing files over `limit` bytes.
fn sha256_of(exe: &Path, limit: u64, pid: i32) -> Result<String, UnixAttestorError> {
    let file = std::fs::File::open(exe).map_err(|e| io_error(pid, "opening the binary", e))?;
    let len = file
        .metadata()
        .map_err(|e| io_error(pid, "reading the binary's size", e))?
        .len();
    if len > limit {
        return Err(UnixAttestorError::BinaryTooLarge { pid, len, limit });
    }
    // The file may grow while being read: never read past the limit.
    let mut reader = file.take(limit.saturating_add(1));
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| io_error(pid, "reading the binary", e))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err(UnixAttestorError::BinaryTooLarge {
                pid,
                len: total,
                limit,
            });
        }
        ctx.update(&buf[..n]);
    }
    Ok(ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl WorkloadAttestor for UnixAttestor {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn attest<'a>(
        &'a self,
        caller: &'a CallerInfo,
    ) -> BoxFuture<'a, Result<Vec<Selector>, AttestError>> {
        let result = self
            .attest_blocking(caller)
            .map_err(|e| AttestError::plugin(PLUGIN_NAME, e));
        Box::pin(std::future::ready(result))
    }
}

/// Why the unix attestor failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnixAttestorError {
    /// The caller has no process id (a transport without peer credentials).
    #[error("caller has no process id")]
    NoPid,
    /// The caller's process start time was not captured at accept, so a process reusing its
    /// pid could not be told apart from it.
    #[error("start time of process {pid} was not captured when it connected")]
    StartTimeUnknown {
        /// The caller's pid.
        pid: i32,
    },
    /// The pid is zero or negative.
    #[error("pid {pid} is not a process id")]
    InvalidPid {
        /// The pid given.
        pid: i32,
    },
    /// The process exited (or is a zombie) before attestation finished.
    #[error("process {pid} exited before attestation finished")]
    ProcessExited {
        /// The caller's pid.
        pid: i32,
    },
    /// The pid now belongs to another process than the one that connected.
    #[error("pid {pid} now belongs to another process than the caller")]
    PidReused {
        /// The caller's pid.
        pid: i32,
    },
    /// The process's effective uid or gid differ from the socket's peer credentials.
    #[error("process {pid} credentials differ from the connection's peer credentials")]
    CredentialsChanged {
        /// The caller's pid.
        pid: i32,
    },
    /// A `/proc` file did not parse.
    #[error("/proc/{pid}/{file} did not parse")]
    Unparsable {
        /// The caller's pid.
        pid: i32,
        /// Which file.
        file: &'static str,
    },
    /// A value cannot be a selector (a path with control characters or not UTF-8).
    #[error("process {pid}: {what} cannot be used as a selector")]
    UnusableValue {
        /// The caller's pid.
        pid: i32,
        /// Which selector.
        what: &'static str,
    },
    /// The binary is larger than the configured limit.
    #[error("process {pid}: binary is {len} bytes, the limit for hashing is {limit}")]
    BinaryTooLarge {
        /// The caller's pid.
        pid: i32,
        /// Its size (or how much was read before the limit).
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// An I/O error other than the process being gone.
    #[error("process {pid}: {what} failed: {kind}")]
    Io {
        /// The caller's pid.
        pid: i32,
        /// What was being done.
        what: &'static str,
        /// The error kind.
        kind: std::io::ErrorKind,
    },
}
