//! The client side: a connector for hyper-util's client and tonic's channels.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use spiffe_core::{BoxError, SpiffeId, X509BundleSource, X509SvidSource};
use thiserror::Error;
use tokio_rustls::TlsConnector;
use tower_service::Service;

use super::PeerIdentity;
use crate::{mtls_client_config, peer_spiffe_id, Authorizer};

/// A `tower_service::Service<http::Uri>` that connects with an inner connector (by default
/// hyper-util's `HttpConnector`) and then runs a TLS handshake with a configuration of this
/// crate.
///
/// The server is authenticated and authorized by the configuration's verifier — with
/// [`mtls_client_config`] or [`tls_client_config`](crate::tls_client_config), by its SPIFFE ID;
/// the URI's host becomes the TLS server name (SNI) but is never checked against the
/// certificate. The URI's scheme is not looked at: `http://` and `https://` both get TLS.
///
/// Use it with hyper-util's `Client::builder(..).build(connector)` or tonic's
/// `Endpoint::connect_with_connector(connector)`. If the configuration offers ALPN `h2` and the
/// server picks it, the connection reports HTTP/2 to hyper-util.
pub struct SpiffeConnector<C = HttpConnector> {
    inner: C,
    tls: TlsConnector,
}

/// The future of [`SpiffeConnector::call`](Service::call).
pub type Connecting<T> =
    Pin<Box<dyn Future<Output = Result<ClientTlsStream<T>, ConnectError>> + Send>>;

/// Why [`SpiffeConnector`] could not connect.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URI has no host to connect to.
    #[error("the URI has no host")]
    MissingHost,
    /// The URI's host is neither an IP address nor a valid DNS name.
    #[error("the URI's host is not a valid TLS server name")]
    InvalidHost,
    /// The inner connector failed (DNS, TCP).
    #[error("connecting failed")]
    Transport(#[source] BoxError),
    /// The TLS handshake failed; a server this crate's verifier refused shows up here, with a
    /// [`PeerRejected`](crate::PeerRejected) inside the `rustls::Error` inside the
    /// `io::Error`.
    #[error("TLS handshake failed")]
    Handshake(#[source] io::Error),
}

// === impl SpiffeConnector ===

impl SpiffeConnector {
    /// A connector with a hyper-util `HttpConnector` (which accepts any URI scheme) and the
    /// given client configuration.
    pub fn new(config: Arc<ClientConfig>) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        Self::with_connector(http, config)
    }

    /// A connector presenting the SVIDs of `svids` and authorizing the server by SPIFFE ID:
    /// [`mtls_client_config`] without ALPN (HTTP/1.1, or HTTP/2 with prior knowledge as tonic
    /// does). For ALPN, set `alpn_protocols` on a configuration and use [`Self::new`].
    pub fn mtls(
        provider: Arc<CryptoProvider>,
        svids: impl X509SvidSource + Send + Sync + 'static,
        bundles: impl X509BundleSource + Send + Sync + 'static,
        authorizer: Authorizer,
    ) -> Result<Self, rustls::Error> {
        let config = mtls_client_config(provider, svids, bundles, authorizer)?;
        Ok(Self::new(Arc::new(config)))
    }
}

impl<C> SpiffeConnector<C> {
    /// A connector that opens connections with `inner` (any `Service<Uri>` whose connections
    /// implement hyper's IO traits and hyper-util's `Connection`) and runs TLS with `config`
    /// over them.
    pub fn with_connector(inner: C, config: Arc<ClientConfig>) -> Self {
        Self {
            inner,
            tls: TlsConnector::from(config),
        }
    }
}

impl<C: Clone> Clone for SpiffeConnector<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            tls: self.tls.clone(),
        }
    }
}

impl<C> std::fmt::Debug for SpiffeConnector<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpiffeConnector").finish_non_exhaustive()
    }
}

impl<C> Service<Uri> for SpiffeConnector<C>
where
    C: Service<Uri>,
    C::Response: Read + Write + Connection + Unpin + Send + 'static,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = ClientTlsStream<C::Response>;
    type Error = ConnectError;
    type Future = Connecting<C::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| ConnectError::Transport(e.into()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let name = server_name(&uri);
        let connect = self.inner.call(uri);
        let tls = self.tls.clone();
        Box::pin(async move {
            let name = name?;
            let io = connect
                .await
                .map_err(|e| ConnectError::Transport(e.into()))?;
            let stream = tls
                .connect(name, TokioIo::new(io))
                .await
                .map_err(ConnectError::Handshake)?;
            Ok(ClientTlsStream {
                inner: TokioIo::new(stream),
            })
        })
    }
}

/// The TLS server name for a URI's host: an IP address (IPv6 without brackets) or a DNS name.
fn server_name(uri: &Uri) -> Result<ServerName<'static>, ConnectError> {
    let host = uri.host().ok_or(ConnectError::MissingHost)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ServerName::from(ip));
    }
    ServerName::try_from(host.to_owned()).map_err(|_| ConnectError::InvalidHost)
}

/// An established client TLS connection made by [`SpiffeConnector`], implementing hyper's IO
/// traits and hyper-util's `Connection`.
pub struct ClientTlsStream<T> {
    inner: TokioIo<tokio_rustls::client::TlsStream<TokioIo<T>>>,
}

// === impl ClientTlsStream ===

impl<T> ClientTlsStream<T> {
    /// The server's SPIFFE ID: see [`peer_spiffe_id`].
    pub fn peer_spiffe_id(&self) -> Option<SpiffeId> {
        peer_spiffe_id(self.tls().get_ref().1)
    }

    /// The inner connection and the rustls client connection.
    pub fn get_ref(&self) -> (&T, &rustls::ClientConnection) {
        let (io, conn) = self.tls().get_ref();
        (io.inner(), conn)
    }

    fn tls(&self) -> &tokio_rustls::client::TlsStream<TokioIo<T>> {
        self.inner.inner()
    }
}

impl<T> crate::tokio::PeerSpiffeId for ClientTlsStream<T> {
    fn peer_spiffe_id(&self) -> Option<SpiffeId> {
        ClientTlsStream::peer_spiffe_id(self)
    }
}

impl<T> std::fmt::Debug for ClientTlsStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTlsStream")
            .field("peer_spiffe_id", &self.peer_spiffe_id())
            .finish_non_exhaustive()
    }
}

impl<T: Connection> Connection for ClientTlsStream<T> {
    fn connected(&self) -> Connected {
        let (io, conn) = self.get_ref();
        let connected = io.connected();
        let connected = match conn.alpn_protocol() {
            Some(b"h2") => connected.negotiated_h2(),
            _ => connected,
        };
        // Chained after the inner connector's extras (hyper-util's `HttpInfo`, ...).
        connected.extra(PeerIdentity::new(self.peer_spiffe_id(), None))
    }
}

impl<T: Read + Write + Unpin> Read for ClientTlsStream<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: Read + Write + Unpin> Write for ClientTlsStream<T> {
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
