//! Who is at the other end of an accepted connection, found once, at accept.

use tokio::net::UnixStream;

use crate::CallerInfo;

/// Who a connection is from, as found at accept; every request carries it in its extensions.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PeerCaller {
    /// An attested caller.
    Attested(CallerInfo),
    /// A Unix-socket peer whose credentials or start time could not be read: answered
    /// UNAVAILABLE.
    Unavailable,
    /// A TCP peer the operator's attestation does not know: answered PERMISSION_DENIED
    /// (WEP-15).
    Unknown,
}

impl PeerCaller {
    /// The attested caller, if any.
    pub(crate) fn caller(self) -> Option<CallerInfo> {
        match self {
            Self::Attested(caller) => Some(caller),
            Self::Unavailable | Self::Unknown => None,
        }
    }
}

/// The kernel's account of a Unix-socket peer (SO_PEERCRED, WEP-12) and its process start time,
/// read at accept, before the caller sends a byte. The start time lets attestors tell the
/// caller from a later process that reuses its pid, so on Linux a caller whose start time
/// cannot be read (it already exited, or its pid is not visible from this pid namespace) is
/// not attested at all: fail closed. Elsewhere (no `/proc`) the start time stays unknown, and
/// attestors that need it refuse the caller.
pub(crate) fn unix_caller(stream: &UnixStream) -> PeerCaller {
    attested_unix_caller(stream).map_or(PeerCaller::Unavailable, PeerCaller::Attested)
}

fn attested_unix_caller(stream: &UnixStream) -> Option<CallerInfo> {
    let cred = stream.peer_cred().ok()?;
    let caller = CallerInfo::new(cred.pid(), cred.uid(), cred.gid());
    if cfg!(target_os = "linux") {
        let start_time = spiffe_attest::workload::unix::process_start_time(cred.pid()?).ok()?;
        Some(caller.with_start_time(start_time))
    } else {
        Some(caller)
    }
}
