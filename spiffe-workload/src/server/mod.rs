//! The server kit: [`WorkloadApiServer`] serves any [`IdentityProvider`] over a Unix socket
//! (callers attested by their kernel peer credentials) or, where the network identifies
//! callers by address (WEP-4), over TCP.

mod accept;
mod authority;
mod connection;
mod convert;
mod fingerprint;
mod handler;
mod header;
mod limits;
mod peer;
mod registry;
#[cfg(feature = "sds")]
pub mod sds;
mod service;
mod stream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use spiffe_core::BoxError;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::proto::spiffe_workload_api_server::SpiffeWorkloadApiServer;
use crate::provider::IdentityProvider;
use crate::CallerInfo;
use accept::{Acceptor, AttestingTcpListener, Listener, TcpAttestor};
use handler::Handler;
use limits::Limits;
use registry::Registry;
use service::WorkloadApiService;

pub use limits::{
    DEFAULT_CALLER_SHARE_DIVISOR, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_STREAMS, DEFAULT_MAX_STREAMS_PER_CONNECTION,
};

/// How many refused connections are kept at once to answer UNAVAILABLE; beyond that a
/// refused connection is closed at once.
const MAX_REFUSING: usize = 16;

/// Hooks for the fuzz targets; not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    pub use super::authority::fuzzing::check_rewrite;
}

/// A Workload API server (`SpiffeWorkloadAPI`, plaintext gRPC, WEP-7) for one provider.
///
/// Each request must carry `workload.spiffe.io: true` (WEP-5/6). On a Unix socket
/// ([`Self::serve_unix`]) the caller's pid, uid and gid come from the socket's peer credentials
/// (SO_PEERCRED, WEP-12) and are handed to the provider; over TCP ([`Self::serve_tcp`]) there
/// are none, and a function supplied by the operator attests callers by their address.
/// Streams get their first message at once (WAPI-7) and a new complete one whenever the
/// provider signals a change (WAPI-6); the WIT-SVID RPCs answer UNIMPLEMENTED (WAPI-2).
///
/// Every gRPC client family is served on a Unix socket, whatever `:authority` it sends there
/// (grpc-core's percent-encoded path, grpc-java's raw path): the kit normalizes it below h2
/// (see `docs/workload.md`).
///
/// A local process cannot take the server down by opening connections or streams:
/// connections are bounded in all ([`Self::with_max_connections`]) and per caller (uid); a
/// connection that has not sent the HTTP/2 preface within [`DEFAULT_HANDSHAKE_TIMEOUT`] is
/// closed, and so is one without a stream for [`DEFAULT_IDLE_TIMEOUT`]; when a bound is
/// reached the oldest idle connection makes room, and when none is idle the newcomer is
/// answered UNAVAILABLE (WEP-14); streams (RPCs in flight) are bounded in all and per caller
/// (RESOURCE_EXHAUSTED beyond); a failing accept (out of descriptors) backs off instead of
/// spinning.
#[derive(Debug)]
pub struct WorkloadApiServer<P> {
    provider: Arc<P>,
    limits: Limits,
    #[cfg(feature = "sds")]
    sds: Option<sds::SdsConfig>,
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
    /// A server for `provider` with the default bounds ([`DEFAULT_MAX_STREAMS`],
    /// [`DEFAULT_MAX_CONNECTIONS`], a quarter of each per caller, the timeouts above).
    pub fn new(provider: Arc<P>) -> Self {
        Self {
            provider,
            limits: Limits::default(),
            #[cfg(feature = "sds")]
            sds: None,
        }
    }

    /// The same server also serving Envoy's Secret Discovery Service
    /// (`envoy.service.secret.v3.SecretDiscoveryService`) on the same socket, to callers
    /// attested the same way, with `config`'s resource names (see [`sds`]).
    #[cfg(feature = "sds")]
    #[must_use]
    pub fn with_sds(mut self, config: sds::SdsConfig) -> Self {
        self.sds = Some(config);
        self
    }

    /// The same server with at most `max_streams` open streams (RPCs in flight, streaming or
    /// not); a stream beyond the bound is refused with RESOURCE_EXHAUSTED.
    #[must_use]
    pub fn with_max_streams(mut self, max_streams: usize) -> Self {
        self.limits.max_streams = max_streams;
        self
    }

    /// The same server letting one caller (one uid) hold at most `max` open streams (default:
    /// a quarter of the stream bound); its next stream is refused with RESOURCE_EXHAUSTED while
    /// other callers are still served.
    #[must_use]
    pub fn with_max_streams_per_caller(mut self, max: usize) -> Self {
        self.limits.max_streams_per_caller = Some(max);
        self
    }

    /// The same server advertising at most `max` concurrent streams per connection (HTTP/2
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`, at least 1); the client queues streams beyond it.
    #[must_use]
    pub fn with_max_streams_per_connection(mut self, max: u32) -> Self {
        self.limits.max_streams_per_connection = max.max(1);
        self
    }

    /// The same server with at most `max` open connections (at least 1). When it starts the
    /// bound is lowered, if need be, to three quarters of the process's descriptor limit
    /// (soft `RLIMIT_NOFILE`; the rest stays free for accepting, attesting and refusing).
    #[must_use]
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.limits.max_connections = max;
        self
    }

    /// The same server letting one caller (one uid) hold at most `max` open connections
    /// (default: a quarter of the connection bound).
    #[must_use]
    pub fn with_max_connections_per_caller(mut self, max: usize) -> Self {
        self.limits.max_connections_per_caller = Some(max);
        self
    }

    /// The same server closing connections that have not sent the HTTP/2 preface and their
    /// first SETTINGS frame within `timeout` of being accepted.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.limits.handshake_timeout = timeout;
        self
    }

    /// The same server closing (gracefully, with GOAWAY) connections that have had no open
    /// stream for `timeout`.
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
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
    /// ([`CallerInfo::start_time`]). A caller whose start time cannot be read then (it already
    /// exited) is not attested: its requests are answered UNAVAILABLE.
    pub async fn serve_unix(
        self,
        listener: UnixListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        self.serve(listener, shutdown).await
    }

    /// Serves on a TCP `listener` until `shutdown` completes, as [`Self::serve_unix`] does.
    ///
    /// TCP carries no peer credentials, so the server cannot attest callers itself. WEP-4
    /// allows TCP only where the network identifies a caller by its source address (loopback,
    /// link-local, or an equivalent network guarantee): `attest` maps the peer's address to the
    /// [`CallerInfo`] handed to the provider (typically with `pid: None` and the uid/gid the
    /// operator assigns to that address), or to `None` for an unknown peer, whose requests are
    /// answered PERMISSION_DENIED (WEP-15). `attest` runs once per connection, when it is
    /// accepted; keep it cheap. `:authority` is left as the client sent it (h2 validates it).
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
        let attest: TcpAttestor = Arc::new(attest);
        self.serve(AttestingTcpListener { listener, attest }, shutdown)
            .await
    }

    async fn serve<L: Listener>(
        self,
        listener: L,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let limits = self.limits;
        let (stop_tx, stop_rx) = watch::channel(false);
        let grpc = SpiffeWorkloadApiServer::new(WorkloadApiService {
            provider: self.provider.clone(),
            shutdown: stop_rx.clone(),
        });
        #[cfg(feature = "sds")]
        if let Some(config) = self.sds {
            use envoy_types::pb::envoy::service::secret::v3::secret_discovery_service_server::SecretDiscoveryServiceServer;
            let sds = SecretDiscoveryServiceServer::new(sds::SdsService {
                provider: self.provider,
                config: Arc::new(config),
                shutdown: stop_rx.clone(),
            });
            let routes = tonic::service::Routes::new(grpc).add_service(sds);
            return run(listener, shutdown, limits, routes, stop_tx, stop_rx).await;
        }
        run(listener, shutdown, limits, grpc, stop_tx, stop_rx).await
    }
}

/// Accepts and serves connections with `service` until `shutdown`.
async fn run<L, S>(
    listener: L,
    shutdown: impl Future<Output = ()> + Send,
    limits: Limits,
    grpc: S,
    stop_tx: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
) -> Result<(), ServeError>
where
    L: Listener,
    S: tonic::codegen::Service<
            tonic::codegen::http::Request<hyper::body::Incoming>,
            Response = tonic::codegen::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let registry = Registry::new(limits.fitted_to(limits::descriptor_limit()));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let mut acceptor = Acceptor::new(listener);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next() => {}
            (io, caller) = acceptor.next(&registry) => {
                match registry.admit(caller.caller().map(|c| c.uid)) {
                    Some(slot) => {
                        let handler = Handler {
                            service: grpc.clone(),
                            caller,
                            slot: Arc::new(slot),
                        };
                        connections.spawn(connection::serve(
                            io,
                            L::MODE,
                            handler,
                            limits,
                            stop_rx.clone(),
                        ));
                    }
                    None => {
                        // Full of busy connections: answer UNAVAILABLE while there is room
                        // to, else close at once (dropping `io`).
                        if let Ok(permit) = refusing.clone().try_acquire_owned() {
                            connections.spawn(connection::refuse(io, L::MODE, limits, permit));
                        }
                    }
                }
            }
        }
    }
    // Streams end (WAPI-5), connections close gracefully, in-flight calls finish.
    stop_tx.send_replace(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}
