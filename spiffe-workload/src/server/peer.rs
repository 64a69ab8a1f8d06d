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

#[cfg(test)]
mod tests {
    use super::*;

    /// Fail closed: a peer that exited before its connection was accepted has no start time,
    /// so the connection is not attested (its requests are answered UNAVAILABLE).
    #[tokio::test]
    async fn a_peer_gone_before_accept_is_not_attested() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.sock");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind");
        // A live peer (this process) is attested, with its start time.
        let live = UnixStream::connect(&path).await.expect("connect");
        let (accepted, _) = listener.accept().await.expect("accept");
        let caller = unix_caller(&accepted).caller().expect("attested");
        assert_eq!(caller.pid, Some(std::process::id() as i32));
        assert!(caller.start_time.is_some());
        drop(live);
        // A peer that connects and exits before the accept.
        let status = std::process::Command::new("python3")
            .args([
                "-c",
                "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])",
            ])
            .arg(&path)
            .status()
            .expect("python3 runs");
        assert!(status.success());
        let (accepted, _) = listener.accept().await.expect("accept");
        assert!(matches!(unix_caller(&accepted), PeerCaller::Unavailable));
    }
}
