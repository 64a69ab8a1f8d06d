//! Accepting connections: the listener kinds, and the backoff when accepting fails.
//!
//! An accept error that concerns one connection (it was reset before we took it) is skipped.
//! Any other error, typically EMFILE/ENFILE (out of descriptors), would recur at once if
//! retried at once, spinning a core while nobody is served: instead the oldest idle connection
//! is shed (its descriptor freed) and accepting pauses, 5 ms at first, doubling up to 1 s while
//! the errors go on (the schedule Go's `net/http` uses), back to none after a success.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::time::Instant;

use super::authority::Mode;
use super::peer::{unix_caller, PeerCaller};
use super::registry::Registry;
use crate::CallerInfo;

/// The first pause after a failed accept.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// The longest pause between failed accepts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Maps a TCP peer's address to the caller it is (WEP-4), or `None` for an unknown peer.
pub(crate) type TcpAttestor = Arc<dyn Fn(SocketAddr) -> Option<CallerInfo> + Send + Sync>;

/// Where connections come from, and who they are from.
pub(crate) trait Listener: Send + 'static {
    /// An accepted connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Whether `:authority` is rewritten on this listener's connections.
    const MODE: Mode;

    /// The next connection and its caller. Cancel-safe.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, PeerCaller)>> + Send;
}

impl Listener for UnixListener {
    type Io = UnixStream;
    const MODE: Mode = Mode::Rewrite;

    async fn accept(&mut self) -> io::Result<(UnixStream, PeerCaller)> {
        let (stream, _) = UnixListener::accept(self).await?;
        let caller = unix_caller(&stream);
        Ok((stream, caller))
    }
}

/// A TCP listener with the operator's attestation of peer addresses.
pub(crate) struct AttestingTcpListener {
    pub(crate) listener: TcpListener,
    pub(crate) attest: TcpAttestor,
}

impl Listener for AttestingTcpListener {
    type Io = TcpStream;
    const MODE: Mode = Mode::Observe;

    async fn accept(&mut self) -> io::Result<(TcpStream, PeerCaller)> {
        let (stream, peer) = self.listener.accept().await?;
        let _ = stream.set_nodelay(true);
        // WEP-4: a TCP caller is who the network says its address is.
        let caller = (self.attest)(peer).map_or(PeerCaller::Unknown, PeerCaller::Attested);
        Ok((stream, caller))
    }
}

/// A listener with backoff after errors.
pub(crate) struct Acceptor<L> {
    listener: L,
    backoff: Option<Duration>,
    retry_at: Option<Instant>,
}

// === impl Acceptor ===

impl<L: Listener> Acceptor<L> {
    pub(crate) fn new(listener: L) -> Self {
        Self {
            listener,
            backoff: None,
            retry_at: None,
        }
    }

    /// The next connection. On a listener error it sheds an idle connection of `registry` and
    /// pauses before trying again. Cancel-safe: a pause already started is kept.
    pub(crate) async fn next(&mut self, registry: &Registry) -> (L::Io, PeerCaller) {
        loop {
            if let Some(at) = self.retry_at {
                tokio::time::sleep_until(at).await;
                self.retry_at = None;
            }
            match self.listener.accept().await {
                Ok(accepted) => {
                    self.backoff = None;
                    return accepted;
                }
                Err(e) if is_per_connection(&e) => {}
                Err(_) => {
                    registry.shed_idle();
                    let pause = self
                        .backoff
                        .map_or(FIRST_BACKOFF, |last| (last * 2).min(MAX_BACKOFF));
                    self.backoff = Some(pause);
                    self.retry_at = Some(Instant::now() + pause);
                }
            }
        }
    }
}

/// Accept errors that concern one connection only, not the listener.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::io::DuplexStream;

    use super::*;
    use crate::server::limits::Limits;

    /// Fails with EMFILE `failures` times, then yields connections; records when it was asked.
    struct Exhausted {
        failures: usize,
        calls: Arc<Mutex<Vec<Instant>>>,
    }

    impl Listener for Exhausted {
        type Io = DuplexStream;
        const MODE: Mode = Mode::Rewrite;

        async fn accept(&mut self) -> io::Result<(DuplexStream, PeerCaller)> {
            self.calls.lock().expect("lock").push(Instant::now());
            if self.failures > 0 {
                self.failures -= 1;
                return Err(io::Error::from_raw_os_error(24)); // EMFILE
            }
            Ok((tokio::io::duplex(64).0, PeerCaller::Unavailable))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn accept_errors_back_off_instead_of_spinning() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let listener = Exhausted {
            failures: 12,
            calls: calls.clone(),
        };
        let registry = Registry::new(Limits::default().fitted_to(None));
        let idle = registry.admit(Some(7)).expect("room");
        let mut acceptor = Acceptor::new(listener);
        let start = Instant::now();
        let _ = acceptor.next(&registry).await;
        let calls = calls.lock().expect("lock").clone();
        assert_eq!(calls.len(), 13);
        let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
        // 5 ms, 10 ms, ... doubling, capped at 1 s.
        assert_eq!(gaps[0], Duration::from_millis(5));
        assert_eq!(gaps[1], Duration::from_millis(10));
        assert!(gaps.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*gaps.last().expect("gaps"), MAX_BACKOFF);
        // 12 failures in about 7 s rather than thousands per second.
        assert!(start.elapsed() < Duration::from_secs(8));
        // The first failure shed the idle connection to free a descriptor.
        assert_eq!(registry.connections(), 0);
        drop(idle);
        // After a success the pause starts over.
        let mut again = Acceptor::new(Exhausted {
            failures: 1,
            calls: Arc::new(Mutex::new(Vec::new())),
        });
        let before = Instant::now();
        let _ = again.next(&registry).await;
        assert_eq!(before.elapsed(), FIRST_BACKOFF);
    }
}
