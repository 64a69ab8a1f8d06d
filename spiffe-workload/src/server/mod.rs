//! The server kit: [`WorkloadApiServer`] serves any [`IdentityProvider`] over a Unix socket
//! (callers attested by their kernel peer credentials) or, where the network identifies
//! callers by address (WEP-4), over TCP.

mod convert;
mod fingerprint;
mod header;
mod peer;
mod service;
mod stream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use spiffe_core::BoxError;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio_stream::wrappers::UnixListenerStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::{Connected, TcpIncoming};

use crate::proto::spiffe_workload_api_server::SpiffeWorkloadApiServer;
use crate::provider::{CallerInfo, IdentityProvider};
use service::{TcpAttestor, WorkloadApiService};

/// The default bound on concurrently open streams (all streaming RPCs, all connections
/// together). An idle stream costs the server well under 16 KiB (see `docs/performance.md`),
/// so the bound caps stream memory at roughly 256 MiB.
pub const DEFAULT_MAX_STREAMS: usize = 16 * 1024;

/// The default bound on concurrently open streams of one connection, advertised to the client
/// as HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`. A client opening more waits for a slot (it is
/// not refused); workloads normally open a handful of streams on one connection.
pub const DEFAULT_MAX_STREAMS_PER_CONNECTION: u32 = 1024;

/// A Workload API server (`SpiffeWorkloadAPI`, plaintext gRPC, WEP-7) for one provider.
///
/// Each request must carry `workload.spiffe.io: true` (WEP-5/6). On a Unix socket
/// ([`Self::serve_unix`]) the caller's pid, uid and gid come from the socket's peer credentials
/// (SO_PEERCRED, WEP-12) and are handed to the provider; over TCP ([`Self::serve_tcp`]) there
/// are none, and a function supplied by the operator attests callers by their address.
/// Streams get their first message at once (WAPI-7) and a new complete one whenever the
/// provider signals a change (WAPI-6); the WIT-SVID RPCs answer UNIMPLEMENTED (WAPI-2).
#[derive(Debug)]
pub struct WorkloadApiServer<P> {
    provider: Arc<P>,
    max_streams: usize,
    max_streams_per_connection: u32,
}

/// Why serving stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The gRPC transport failed (accepting or serving connections).
    #[error("Workload API transport failed")]
    Transport(#[source] BoxError),
}

// === impl WorkloadApiServer ===

impl<P: IdentityProvider> WorkloadApiServer<P> {
    /// A server for `provider`, bounding open streams at [`DEFAULT_MAX_STREAMS`] in all and
    /// [`DEFAULT_MAX_STREAMS_PER_CONNECTION`] per connection.
    pub fn new(provider: Arc<P>) -> Self {
        Self {
            provider,
            max_streams: DEFAULT_MAX_STREAMS,
            max_streams_per_connection: DEFAULT_MAX_STREAMS_PER_CONNECTION,
        }
    }

    /// The same server with at most `max_streams` open streams; a stream beyond the bound
    /// is refused with RESOURCE_EXHAUSTED.
    #[must_use]
    pub fn with_max_streams(mut self, max_streams: usize) -> Self {
        self.max_streams = max_streams;
        self
    }

    /// The same server advertising at most `max` concurrent streams per connection (HTTP/2
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`, at least 1); the client queues streams beyond it.
    #[must_use]
    pub fn with_max_streams_per_connection(mut self, max: u32) -> Self {
        self.max_streams_per_connection = max.max(1);
        self
    }

    /// The provider served.
    pub fn provider(&self) -> &Arc<P> {
        &self.provider
    }

    /// Serves on `listener` until `shutdown` completes, then ends every open stream (clients
    /// reconnect, WAPI-5), lets in-flight calls finish, and returns.
    ///
    /// Every caller is attested by the kernel: its pid, uid and gid (SO_PEERCRED, WEP-12), read
    /// when the connection is accepted together with the process start time
    /// ([`CallerInfo::start_time`]).
    pub async fn serve_unix(
        self,
        listener: UnixListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let incoming = UnixListenerStream::new(listener)
            .map(|accepted| accepted.map(peer::AttestedUnixStream::accept));
        self.serve(incoming, None, shutdown).await
    }

    /// Serves on a TCP `listener` until `shutdown` completes, as [`Self::serve_unix`] does.
    ///
    /// TCP carries no peer credentials, so the server cannot attest callers itself. WEP-4
    /// allows TCP only where the network identifies a caller by its source address (loopback,
    /// link-local, or an equivalent network guarantee): `attest` maps the peer's address to the
    /// [`CallerInfo`] handed to the provider (typically with `pid: None` and the uid/gid the
    /// operator assigns to that address), or to `None` for an unknown peer, which is answered
    /// PERMISSION_DENIED (WEP-15). `attest` runs once per request; keep it cheap.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use spiffe_workload::{CallerInfo, IdentityProvider, WorkloadApiServer};
    /// # async fn run<P: IdentityProvider>(provider: Arc<P>) -> Result<(), Box<dyn std::error::Error>> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
    /// // Only local processes, all treated as one operator-chosen identity (uid 1000).
    /// let attest = |peer: std::net::SocketAddr| {
    ///     peer.ip().is_loopback().then(|| CallerInfo::new(None, 1000, 1000))
    /// };
    /// WorkloadApiServer::new(provider)
    ///     .serve_tcp(listener, attest, std::future::pending())
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve_tcp(
        self,
        listener: TcpListener,
        attest: impl Fn(SocketAddr) -> Option<CallerInfo> + Send + Sync + 'static,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let attest: TcpAttestor = Arc::new(attest);
        self.serve(incoming, Some(attest), shutdown).await
    }

    async fn serve<I, IO, IE>(
        self,
        incoming: I,
        attest: Option<TcpAttestor>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError>
    where
        I: Stream<Item = Result<IO, IE>>,
        IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
        IO::ConnectInfo: Clone + Send + Sync + 'static,
        IE: Into<BoxError>,
    {
        let (stop_tx, stop_rx) = watch::channel(false);
        let service = WorkloadApiService {
            provider: self.provider,
            shutdown: stop_rx,
            streams: Arc::new(Semaphore::new(self.max_streams)),
            attest,
        };
        tonic::transport::Server::builder()
            .max_concurrent_streams(Some(self.max_streams_per_connection))
            .add_service(SpiffeWorkloadApiServer::new(service))
            .serve_with_incoming_shutdown(incoming, async move {
                shutdown.await;
                stop_tx.send_replace(true);
            })
            .await
            .map_err(|e| ServeError::Transport(Box::new(e)))
    }
}
