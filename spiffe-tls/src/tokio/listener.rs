//! [`TlsListener`]: a TCP listener whose connections arrive with their TLS handshake done.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a peer may take for its TLS handshake unless told otherwise (the listener's and
/// [`dial`](super::dial)'s).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections whose handshake is done but that nobody accepted yet.
const BACKLOG: usize = 64;

/// Called with the peer's address and the error of each handshake that failed or timed out.
type HandshakeErrorFn = dyn Fn(SocketAddr, &io::Error) + Send + Sync;

/// A TLS server socket: [`accept`](Self::accept) returns connections whose handshake (and so
/// the peer's authentication and authorization by the configuration's verifier) is complete.
///
/// A background task takes TCP connections (with `TCP_NODELAY`) and runs each handshake in its
/// own task with a time limit ([`DEFAULT_HANDSHAKE_TIMEOUT`] unless set), so a slow or silent
/// client holds up no one; up to 64 finished handshakes wait for `accept`. A failed handshake
/// (a peer the verifier refused, a timeout) closes that connection and is never returned;
/// [`on_handshake_error`](Self::on_handshake_error) sees it. An error of the listener itself
/// (such as running out of file descriptors) is returned, and accepting resumes after a short
/// pause. Dropping the listener stops accepting and closes the socket.
///
/// ```no_run
/// # async fn demo(config: rustls::ServerConfig) -> std::io::Result<()> {
/// use spiffe_tls::tokio::{listen, PeerSpiffeId};
///
/// // `config` from `mtls_server_config`: only clients the authorizer allows get through.
/// let mut listener = listen("127.0.0.1:8443", config)
///     .await?
///     .on_handshake_error(|addr, error| eprintln!("{addr}: {error}"));
/// loop {
///     let (stream, addr) = listener.accept().await?;
///     println!("{addr} is {:?}", stream.peer_spiffe_id());
///     tokio::spawn(async move { /* serve `stream` */ drop(stream) });
/// }
/// # }
/// ```
pub struct TlsListener {
    connections: mpsc::Receiver<io::Result<Accepted>>,
    settings: Arc<Mutex<Settings>>,
    task: JoinHandle<()>,
    local_addr: Option<SocketAddr>,
}

/// What the accept task reads for each new connection, so it can change after the start.
struct Settings {
    timeout: Duration,
    on_error: Option<Arc<HandshakeErrorFn>>,
}

type Accepted = (TlsStream<TcpStream>, SocketAddr);

/// Binds a TCP listener on `addr` and serves TLS on it with `config` (for example from
/// [`mtls_server_config`](crate::mtls_server_config)): the counterpart of go-spiffe's
/// `spiffetls.Listen`.
pub async fn listen(
    addr: impl ToSocketAddrs,
    config: impl Into<Arc<ServerConfig>>,
) -> io::Result<TlsListener> {
    let listener = TcpListener::bind(addr).await?;
    Ok(TlsListener::new(listener, config))
}

// === impl TlsListener ===

impl TlsListener {
    /// Serves TLS with `config` on `listener`, starting at once.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime: the accepting runs in a spawned task.
    pub fn new(listener: TcpListener, config: impl Into<Arc<ServerConfig>>) -> Self {
        let local_addr = listener.local_addr().ok();
        let settings = Arc::new(Mutex::new(Settings {
            timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            on_error: None,
        }));
        let (tx, connections) = mpsc::channel(BACKLOG);
        let acceptor = TlsAcceptor::from(config.into());
        let task = tokio::spawn(accept_loop(listener, acceptor, settings.clone(), tx));
        Self {
            connections,
            settings,
            task,
            local_addr,
        }
    }

    /// The same listener allowing each handshake that starts from now on `timeout`.
    #[must_use]
    pub fn with_handshake_timeout(self, timeout: Duration) -> Self {
        self.settings().timeout = timeout;
        self
    }

    /// The same listener calling `log` with the peer's address and the error of every
    /// handshake that fails or times out from now on (a refused peer's error carries a
    /// [`PeerRejected`](crate::PeerRejected), see [`PeerRejected::from_io`](crate::PeerRejected::from_io)).
    #[must_use]
    pub fn on_handshake_error(
        self,
        log: impl Fn(SocketAddr, &io::Error) + Send + Sync + 'static,
    ) -> Self {
        self.settings().on_error = Some(Arc::new(log));
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The next connection whose TLS handshake completed, with the peer's address. An error is
    /// the listener's own; the listener keeps working after it.
    pub async fn accept(&mut self) -> io::Result<(TlsStream<TcpStream>, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next connection, as [`accept`](Self::accept).
    pub fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(TlsStream<TcpStream>, SocketAddr)>> {
        self.connections.poll_recv(cx).map(|next| {
            // The task only ends when aborted, which only `Drop` does.
            next.unwrap_or_else(|| Err(io::Error::other("TLS listener stopped")))
        })
    }

    fn settings(&self) -> MutexGuard<'_, Settings> {
        // Settings are two plain values replaced whole; a panic cannot leave them half-set.
        self.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // Handshakes already running finish on their own (or time out) and find the channel
        // closed.
        self.task.abort();
    }
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("local_addr", &self.local_addr)
            .field("handshake_timeout", &self.settings().timeout)
            .finish_non_exhaustive()
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    settings: Arc<Mutex<Settings>>,
    tx: mpsc::Sender<io::Result<Accepted>>,
) {
    loop {
        let (tcp, remote_addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                if tx.send(Err(e)).await.is_err() {
                    return;
                }
                // EMFILE and friends: give the process a moment to close something.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (timeout, on_error) = {
            let settings = settings.lock().unwrap_or_else(PoisonError::into_inner);
            (settings.timeout, settings.on_error.clone())
        };
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let error = match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let _ = tx.send(Ok((stream, remote_addr))).await;
                    return;
                }
                Ok(Err(error)) => error,
                Err(_) => handshake_timed_out(timeout),
            };
            if let Some(log) = on_error {
                log(remote_addr, &error);
            }
        });
    }
}

/// The error of a handshake that took longer than `timeout`.
pub(super) fn handshake_timed_out(timeout: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("TLS handshake not done within {timeout:?}"),
    )
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
