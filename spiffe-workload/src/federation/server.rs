//! The bundle endpoint server: answers `GET` with the current SPIFFE bundle document (FED-1,
//! FED-17) over TLS with no client authentication (FED-16).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::crypto::CryptoProvider;
use rustls::ServerConfig;
use spiffe_core::SpiffeBundle;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::{FederationError, ServingCert};

/// How long a client may take to finish the TLS handshake and send its request.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;

/// What the endpoint serves: the embedder updates it (on CA rotation, key publication), the
/// server reads it on every request, so a new key is published at once (FED-2).
pub trait BundleDocumentSource: Send + Sync + 'static {
    /// The current bundle (with its `spiffe_sequence` and `spiffe_refresh_hint`), or `None`
    /// when there is none yet (the endpoint then answers 503).
    fn bundle_document(&self) -> Option<SpiffeBundle>;
}

impl BundleDocumentSource for watch::Receiver<Option<SpiffeBundle>> {
    fn bundle_document(&self) -> Option<SpiffeBundle> {
        self.borrow().clone()
    }
}

impl<F> BundleDocumentSource for F
where
    F: Fn() -> Option<SpiffeBundle> + Send + Sync + 'static,
{
    fn bundle_document(&self) -> Option<SpiffeBundle> {
        self()
    }
}

/// A bound bundle endpoint, ready to [`serve`](Self::serve).
///
/// ```no_run
/// # async fn run(cert: spiffe_workload::federation::ServingCert, bundle: spiffe_core::SpiffeBundle)
/// # -> Result<(), spiffe_workload::federation::FederationError> {
/// use spiffe_workload::federation::{default_crypto_provider, BundleEndpointServer};
/// let (publish, current) = tokio::sync::watch::channel(Some(bundle));
/// let server = BundleEndpointServer::bind(
///     "127.0.0.1:8443".parse().unwrap(), cert, current, default_crypto_provider(),
/// ).await?;
/// // `publish.send(Some(next))` when the bundle changes.
/// server.serve(std::future::pending()).await
/// # }
/// ```
pub struct BundleEndpointServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    source: Arc<dyn BundleDocumentSource>,
}

impl std::fmt::Debug for BundleEndpointServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleEndpointServer")
            .field("local_addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

// === impl BundleEndpointServer ===

impl BundleEndpointServer {
    /// Binds `addr`, presenting `cert`.
    pub async fn bind(
        addr: SocketAddr,
        cert: ServingCert,
        source: impl BundleDocumentSource,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, FederationError> {
        // FED-10: rustls' safe defaults (TLS 1.2 with AEAD ECDHE suites, and TLS 1.3) are
        // within Mozilla's "intermediate" profile.
        let mut config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| FederationError::ServingCert {
                reason: format!("crypto provider: {e}"),
            })?
            // FED-16: no client authentication.
            .with_no_client_auth()
            .with_cert_resolver(cert.resolver(provider));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let listener = TcpListener::bind(addr)
            .await
            .map_err(FederationError::Bind)?;
        Ok(Self {
            listener,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            source: Arc::new(source),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, FederationError> {
        self.listener.local_addr().map_err(FederationError::Bind)
    }

    /// Serves until `shutdown` resolves. Connections that fail (a client that does not trust
    /// us, a slow one) are dropped without stopping the server.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), FederationError> {
        let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                () = &mut shutdown => return Ok(()),
                permit = limit.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return Ok(()),
                },
            };
            let (tcp, _) = tokio::select! {
                () = &mut shutdown => return Ok(()),
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    // A transient accept error (too many open files): try again shortly.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let acceptor = self.acceptor.clone();
            let source = self.source.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let Ok(Ok(tls)) =
                    tokio::time::timeout(CONNECTION_TIMEOUT, acceptor.accept(tcp)).await
                else {
                    return;
                };
                let service = hyper::service::service_fn(move |request| {
                    let source = source.clone();
                    async move { Ok::<_, Infallible>(answer(&request, source.as_ref())) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(tls), service);
                let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
            });
        }
    }
}

/// The answer to one request.
fn answer(request: &Request<Incoming>, source: &dyn BundleDocumentSource) -> Response<Full<Bytes>> {
    let status = |code: StatusCode| {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = code;
        response
    };
    if request.method() != Method::GET {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    // The operator chooses the path (FED-17); this server publishes at the root, as SPIRE.
    if request.uri().path() != "/" {
        return status(StatusCode::NOT_FOUND);
    }
    match source.bundle_document() {
        Some(bundle) => {
            // FED-17: the newest bundle, UTF-8 JSON, `Content-Type: application/json`.
            let mut response = Response::new(Full::new(Bytes::from(bundle.to_json())));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            response
        }
        None => status(StatusCode::SERVICE_UNAVAILABLE),
    }
}
