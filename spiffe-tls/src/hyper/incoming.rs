//! The server side: a stream of established mTLS connections.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use rustls::ServerConfig;
use spiffe_core::SpiffeId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::PeerIdentity;
use crate::peer_spiffe_id;

/// How long [`TlsIncoming::new`] lets a client take for its TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections whose handshake is done but that the consumer has not taken yet.
const BACKLOG: usize = 64;

/// A stream of established server-side TLS connections from a `TcpListener`:
/// `Stream<Item = io::Result<ServerTlsStream>>`.
///
/// A background task accepts TCP connections (with `TCP_NODELAY` set) and runs each TLS
/// handshake in its own task, so a slow or silent client holds up no one; only completed
/// handshakes are yielded. A handshake that fails (a client the verifier refused, a timeout)
/// closes that connection and is not yielded. An error of the listener itself (such as running
/// out of file descriptors) is yielded, and accepting resumes after a short pause. The stream
/// never ends on its own; dropping it stops the accepting and closes the listener.
///
/// Serve it with tonic's `Server::serve_with_incoming` (after wrapping each stream in a
/// newtype implementing tonic's `Connected`; see the [module documentation](super)) or take
/// connections one by one and hand `hyper_util::rt::TokioIo::new(stream)` to hyper.
pub struct TlsIncoming {
    connections: mpsc::Receiver<io::Result<ServerTlsStream>>,
    accept_task: JoinHandle<()>,
    local_addr: Option<SocketAddr>,
}

// === impl TlsIncoming ===

impl TlsIncoming {
    /// Accepts on `listener` with `config` (for example [`mtls_server_config`]'s), allowing
    /// each handshake [`DEFAULT_HANDSHAKE_TIMEOUT`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime: the accepting runs in a spawned task.
    ///
    /// [`mtls_server_config`]: crate::mtls_server_config
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> Self {
        Self::with_handshake_timeout(listener, config, DEFAULT_HANDSHAKE_TIMEOUT)
    }

    /// As [`Self::new`], with the time a client may take for its handshake.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime: the accepting runs in a spawned task.
    pub fn with_handshake_timeout(
        listener: TcpListener,
        config: Arc<ServerConfig>,
        timeout: Duration,
    ) -> Self {
        let local_addr = listener.local_addr().ok();
        let (tx, connections) = mpsc::channel(BACKLOG);
        let accept_task = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(config),
            timeout,
            tx,
        ));
        Self {
            connections,
            accept_task,
            local_addr,
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }
}

impl Stream for TlsIncoming {
    type Item = io::Result<ServerTlsStream>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.connections.poll_recv(cx)
    }
}

impl Drop for TlsIncoming {
    fn drop(&mut self) {
        // Handshakes already running finish on their own (or time out) and find the channel
        // closed.
        self.accept_task.abort();
    }
}

impl std::fmt::Debug for TlsIncoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIncoming")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    timeout: Duration,
    tx: mpsc::Sender<io::Result<ServerTlsStream>>,
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
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let Ok(Ok(inner)) = tokio::time::timeout(timeout, acceptor.accept(tcp)).await else {
                return;
            };
            let peer = PeerIdentity::new(peer_spiffe_id(inner.get_ref().1), Some(remote_addr));
            let _ = tx.send(Ok(ServerTlsStream { inner, peer })).await;
        });
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

/// An established server-side TLS connection from [`TlsIncoming`], with its client's
/// identity. It implements tokio's `AsyncRead` and `AsyncWrite`; wrap it in
/// `hyper_util::rt::TokioIo` for hyper.
pub struct ServerTlsStream {
    inner: tokio_rustls::server::TlsStream<TcpStream>,
    peer: PeerIdentity,
}

// === impl ServerTlsStream ===

impl ServerTlsStream {
    /// The client's SPIFFE ID and address, taken when the handshake completed.
    pub fn peer_identity(&self) -> &PeerIdentity {
        &self.peer
    }

    /// The client's SPIFFE ID: see [`peer_spiffe_id`]. `None` without client authentication.
    pub fn peer_spiffe_id(&self) -> Option<&SpiffeId> {
        self.peer.spiffe_id()
    }

    /// The TCP stream and the rustls server connection.
    pub fn get_ref(&self) -> (&TcpStream, &rustls::ServerConnection) {
        self.inner.get_ref()
    }

    /// The tokio-rustls stream.
    pub fn into_inner(self) -> tokio_rustls::server::TlsStream<TcpStream> {
        self.inner
    }
}

impl crate::tokio::PeerSpiffeId for ServerTlsStream {
    fn peer_spiffe_id(&self) -> Option<SpiffeId> {
        self.peer.spiffe_id().cloned()
    }
}

impl std::fmt::Debug for ServerTlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTlsStream")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for ServerTlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ServerTlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
}
