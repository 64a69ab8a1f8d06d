//! The server's two gRPC listeners, as SPIRE's (`pkg/server/endpoints`):
//!
//! - TCP on `bind_address:bind_port`, TLS with the server's SVID and optional client
//!   certificates ([`tls`]); connections are closed gracefully after 3 minutes (SPIRE's
//!   `MaxConnectionAge`) so agents re-resolve the server's address.
//! - The admin Unix socket at `socket_path` ([`unix`]), which also serves Debug, Logger and
//!   `grpc.health.v1`.
//!
//! Every request carries its [`Caller`](crate::caller::Caller) (set by the connection) and
//! passes, outermost first, the RPC metrics and audit layer, the rate limits, and the
//! authorization layer before reaching its service. On shutdown both listeners stop accepting,
//! calls in flight finish (for at most 10 s, SPIRE's graceful stop timeout), then they close.

pub(crate) mod tcp;
pub(crate) mod tls;
mod unix;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use spiffe_core::{X509BundleSource, X509SvidSource};
use spiffe_tls::hyper::TlsIncoming;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_stream::StreamExt;
use tonic::service::Routes;

use crate::api::{routes, Listener};
use crate::authz::AuthorizeLayer;
use crate::context::ServerContext;
use crate::ops::{RateLimitLayer, RpcLayer};

pub use tcp::decimal as serial_decimal;

/// SPIRE's `MaxConnectionAge` on the TCP listener.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(180);
/// How long in-flight calls may take to finish on shutdown (SPIRE's graceful stop timeout).
pub const GRACEFUL_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound listeners, ready to serve.
pub struct Endpoints {
    tcp: TcpListener,
    tcp_addr: SocketAddr,
    unix: tokio::net::UnixListener,
    socket_path: PathBuf,
    tls: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("tcp_addr", &self.tcp_addr)
            .field("socket_path", &self.socket_path)
            .finish_non_exhaustive()
    }
}

/// A listener that could not be bound.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// The TCP address.
    #[error("unable to listen on {address}")]
    Tcp {
        /// `host:port`.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The admin socket.
    #[error("unable to listen on {}", path.display())]
    Unix {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS configuration could not be built.
    #[error("unable to configure TLS")]
    Tls(#[source] rustls::Error),
}

// === impl Endpoints ===

impl Endpoints {
    /// Binds the TCP listener at `host:port` and the admin socket at `socket_path`.
    pub async fn bind(
        host: &str,
        port: u16,
        socket_path: &Path,
        svid: impl X509SvidSource + Send + Sync + 'static,
        bundles: impl X509BundleSource + Send + Sync + 'static,
    ) -> Result<Self, BindError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let address = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let tcp = TcpListener::bind((host, port))
            .await
            .map_err(|source| BindError::Tcp {
                address: address.clone(),
                source,
            })?;
        let tcp_addr = tcp.local_addr().map_err(|source| BindError::Tcp {
            address: address.clone(),
            source,
        })?;
        let unix = unix::bind(socket_path).map_err(|source| BindError::Unix {
            path: socket_path.to_owned(),
            source,
        })?;
        let tls = tls::server_config(svid, bundles).map_err(BindError::Tls)?;
        Ok(Self {
            tcp,
            tcp_addr,
            unix,
            socket_path: socket_path.to_owned(),
            tls: Arc::new(tls),
        })
    }

    /// The TCP listener's address (with the port chosen when `bind_port` was 0).
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// Serves both listeners until `stop` turns true, then drains them. `unix_extra` adds the
    /// services only the admin socket serves besides the API (Logger, Health).
    pub async fn serve(
        self,
        ctx: Arc<ServerContext>,
        unix_extra: impl FnOnce(Routes) -> Routes,
        stop: watch::Receiver<bool>,
    ) -> Result<(), tonic::transport::Error> {
        let tcp_routes = routes(&ctx, Listener::Tcp);
        let unix_routes = unix_extra(routes(&ctx, Listener::Unix));

        tracing::info!(network = "tcp", address = %self.tcp_addr, "Starting Server APIs");
        let incoming = TlsIncoming::new(self.tcp, self.tls)
            .map(|accepted| accepted.map(tcp::TcpConnection::new));
        let tcp = tonic::transport::Server::builder()
            .max_connection_age(MAX_CONNECTION_AGE)
            .layer(RpcLayer::new(ctx.clone()))
            .layer(RateLimitLayer::new(ctx.clone()))
            .layer(AuthorizeLayer::new(ctx.clone()))
            .add_routes(tcp_routes)
            .serve_with_incoming_shutdown(incoming, stopped(stop.clone()));

        tracing::info!(network = "unix", address = %self.socket_path.display(), "Starting Server APIs");
        let incoming = UnixListenerStream::new(self.unix)
            .map(|accepted| accepted.and_then(unix::UnixConnection::new));
        let uds = tonic::transport::Server::builder()
            .layer(RpcLayer::new(ctx.clone()))
            .layer(AuthorizeLayer::new(ctx.clone()))
            .add_routes(unix_routes)
            .serve_with_incoming_shutdown(incoming, stopped(stop.clone()));

        let drained = async {
            let (a, b) = tokio::join!(tcp, uds);
            a.and(b)
        };
        tokio::pin!(drained);
        tokio::select! {
            result = &mut drained => result,
            () = stopped(stop) => {
                tracing::info!("Stopping Server APIs");
                match tokio::time::timeout(GRACEFUL_STOP_TIMEOUT, drained).await {
                    Ok(result) => {
                        tracing::info!("Server APIs have stopped");
                        result
                    }
                    Err(_) => {
                        tracing::info!(timeout = ?GRACEFUL_STOP_TIMEOUT, "Graceful stop unsuccessful, forced stop");
                        Ok(())
                    }
                }
            }
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone).
pub(crate) async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
