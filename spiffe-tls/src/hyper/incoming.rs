//! The server side: a stream of established mTLS connections.

use std::io;
use std::marker::PhantomData;
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

use super::PeerIdentity;
use crate::peer_spiffe_id;
use crate::tokio::TlsListener;

/// A stream of established server-side TLS connections:
/// `Stream<Item = io::Result<S>>`, by default of [`ServerTlsStream`]s, each with its client's
/// [`PeerIdentity`].
///
/// It is a [`TlsListener`] as a `Stream`: handshakes run concurrently with a time limit, only
/// completed ones are yielded, errors of the listener itself are yielded and accepting goes
/// on. The stream never ends on its own; dropping it stops the accepting and closes the
/// listener.
///
/// Serve it with tonic's `Server::serve_with_incoming` after
/// [`map_into`](Self::map_into) a type made by [`tonic_connection!`](crate::tonic_connection)
/// (see the [module documentation](super)), or take connections one by one and hand
/// `hyper_util::rt::TokioIo::new(stream)` to hyper.
pub struct TlsIncoming<S = ServerTlsStream> {
    listener: TlsListener,
    item: PhantomData<fn() -> S>,
}

// === impl TlsIncoming ===

impl TlsIncoming {
    /// Accepts on `listener` with `config` (for example [`mtls_server_config`]'s), allowing
    /// each handshake [`DEFAULT_HANDSHAKE_TIMEOUT`](crate::tokio::DEFAULT_HANDSHAKE_TIMEOUT).
    ///
    /// [`mtls_server_config`]: crate::mtls_server_config
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> Self {
        TlsListener::new(listener, config).into()
    }

    /// As [`Self::new`], with the time a client may take for its handshake.
    pub fn with_handshake_timeout(
        listener: TcpListener,
        config: Arc<ServerConfig>,
        timeout: Duration,
    ) -> Self {
        TlsListener::new(listener, config)
            .with_handshake_timeout(timeout)
            .into()
    }
}

impl<S> TlsIncoming<S> {
    /// The same connections as `T`s, for example a [`tonic_connection!`](crate::tonic_connection)
    /// type for tonic's `serve_with_incoming`.
    pub fn map_into<T: From<ServerTlsStream>>(self) -> TlsIncoming<T> {
        TlsIncoming {
            listener: self.listener,
            item: PhantomData,
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr()
    }
}

impl From<TlsListener> for TlsIncoming {
    fn from(listener: TlsListener) -> Self {
        Self {
            listener,
            item: PhantomData,
        }
    }
}

impl<S: From<ServerTlsStream>> Stream for TlsIncoming<S> {
    type Item = io::Result<S>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener.poll_accept(cx).map(|accepted| {
            Some(accepted.map(|(inner, remote_addr)| {
                let peer = PeerIdentity::new(peer_spiffe_id(inner.get_ref().1), Some(remote_addr));
                S::from(ServerTlsStream { inner, peer })
            }))
        })
    }
}

impl<S> std::fmt::Debug for TlsIncoming<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIncoming")
            .field("listener", &self.listener)
            .finish()
    }
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
