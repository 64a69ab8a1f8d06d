//! The server kit: [`WorkloadApiServer`] serves any [`IdentityProvider`] over a Unix socket.

mod convert;
mod header;
mod service;
mod stream;

use std::future::Future;
use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::{watch, Semaphore};
use tokio_stream::wrappers::UnixListenerStream;

use crate::proto::spiffe_workload_api_server::SpiffeWorkloadApiServer;
use crate::provider::IdentityProvider;
use service::WorkloadApiService;

/// The default bound on concurrently open streams (all streaming RPCs together).
pub const DEFAULT_MAX_STREAMS: usize = 16 * 1024;

/// A Workload API server (`SpiffeWorkloadAPI`, plaintext gRPC, WEP-7) for one provider.
///
/// Each request must carry `workload.spiffe.io: true` (WEP-5/6); the caller's pid, uid and gid
/// come from the socket's peer credentials (SO_PEERCRED, WEP-12) and are handed to the
/// provider. Streams get their first message at once (WAPI-7) and a new complete one whenever
/// the provider signals a change (WAPI-6); the WIT-SVID RPCs answer UNIMPLEMENTED (WAPI-2).
#[derive(Debug)]
pub struct WorkloadApiServer<P> {
    provider: Arc<P>,
    max_streams: usize,
}

/// Why serving stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The gRPC transport failed (accepting or serving connections).
    #[error("Workload API transport failed")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
}

// === impl WorkloadApiServer ===

impl<P: IdentityProvider> WorkloadApiServer<P> {
    /// A server for `provider`, bounding open streams at [`DEFAULT_MAX_STREAMS`].
    pub fn new(provider: Arc<P>) -> Self {
        Self {
            provider,
            max_streams: DEFAULT_MAX_STREAMS,
        }
    }

    /// The same server with at most `max_streams` open streams; a stream beyond the bound
    /// is refused with RESOURCE_EXHAUSTED.
    #[must_use]
    pub fn with_max_streams(mut self, max_streams: usize) -> Self {
        self.max_streams = max_streams;
        self
    }

    /// The provider served.
    pub fn provider(&self) -> &Arc<P> {
        &self.provider
    }

    /// Serves on `listener` until `shutdown` completes, then ends every open stream (clients
    /// reconnect, WAPI-5), lets in-flight calls finish, and returns.
    pub async fn serve_unix(
        self,
        listener: UnixListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let service = WorkloadApiService {
            provider: self.provider,
            shutdown: stop_rx,
            streams: Arc::new(Semaphore::new(self.max_streams)),
        };
        tonic::transport::Server::builder()
            .add_service(SpiffeWorkloadApiServer::new(service))
            .serve_with_incoming_shutdown(UnixListenerStream::new(listener), async move {
                shutdown.await;
                stop_tx.send_replace(true);
            })
            .await
            .map_err(|e| ServeError::Transport(Box::new(e)))
    }
}
