//! Test support (not a stable API): a server context on a temporary SQLite database with an
//! in-memory CA, and the API served on a Unix socket to callers of a chosen identity, with the
//! real authorization layer in front. Tests of the TLS and Unix listeners use the runtime
//! instead.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use spiffe_ca::keys::{KeyType, MemoryKeyManager};
use spiffe_ca::manager::{CaManager, CaManagerConfig, MemoryJournal};
use spiffe_ca::{Clock, SystemClock};
use spiffe_core::TrustDomain;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint, Uri};
use tower::{Layer, Service};

use crate::api::{routes, Listener};
use crate::authz::AuthorizeLayer;
use crate::cache::EntryCache;
use crate::caller::Caller;
use crate::config::ServerSettings;
use crate::context::ServerContext;
use crate::datastore::{DataStore, SqlDataStore, SqlSettings};

pub mod agent;
pub mod process;

/// A context for trust domain `example.org` on a SQLite file in `dir`, with an in-memory CA
/// (EC P-256, CA TTL 24 h) and no node attestors (tests add theirs to the returned value
/// before wrapping it in an `Arc`).
pub async fn context(dir: &Path) -> ServerContext {
    context_with(dir, ServerSettings::new(td("example.org"))).await
}

/// [`context`] with the given settings.
pub async fn context_with(dir: &Path, settings: ServerSettings) -> ServerContext {
    context_on(
        &SqlSettings::sqlite(dir.join("datastore.sqlite3")),
        settings,
    )
    .await
}

/// [`context`] on the database `datastore` names (e.g. a PostgreSQL test database).
pub async fn context_on(datastore: &SqlSettings, settings: ServerSettings) -> ServerContext {
    let store = SqlDataStore::open(datastore)
        .await
        .expect("open the test datastore");
    let datastore: Arc<dyn DataStore> = Arc::new(store);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ca = CaManager::load_or_init(
        CaManagerConfig::new(settings.trust_domain.clone())
            .with_x509(KeyType::EcP256, Duration::from_secs(24 * 3600))
            .with_jwt(KeyType::EcP256, Duration::from_secs(24 * 3600)),
        Arc::new(MemoryKeyManager::new()),
        Arc::new(MemoryJournal::new()),
        clock.clone(),
    )
    .await
    .expect("create the test CA");
    let cache = EntryCache::load(datastore.clone(), settings.trust_domain.clone())
        .await
        .expect("load the entry cache");
    ServerContext {
        settings: Arc::new(settings),
        datastore,
        ca: Arc::new(ca),
        cache: Arc::new(cache),
        node_attestors: HashMap::new(),
        clock,
        started: Instant::now(),
        metrics: Arc::new(crate::ops::ServerMetrics::detached()),
        server_svid: std::sync::OnceLock::new(),
        federation: std::sync::OnceLock::new(),
    }
}

/// A trust domain from a literal.
pub fn td(name: &str) -> TrustDomain {
    TrustDomain::new(name).expect("a valid trust domain literal")
}

/// Serves the API (the Unix listener's routes: every service) on a socket in `dir`, with the
/// authorization layer, every request arriving as `caller`. Returns a connected channel.
pub async fn serve_as(ctx: Arc<ServerContext>, dir: &Path, caller: Caller) -> Channel {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("api-{n}.sock"));
    let listener = tokio::net::UnixListener::bind(&path).expect("bind the test socket");
    let routes = routes(&ctx, Listener::Unix);
    let server = tonic::transport::Server::builder()
        .layer(InjectCaller(caller))
        .layer(AuthorizeLayer::new(ctx))
        .add_routes(routes)
        .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener));
    tokio::spawn(server);
    connect_unix(path).await
}

/// A channel to a gRPC server on the Unix socket `path`.
pub async fn connect_unix(path: PathBuf) -> Channel {
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .expect("connect to the test socket")
}

/// Puts a fixed [`Caller`] in every request's extensions (what the listeners do from the
/// connection).
#[derive(Debug, Clone)]
struct InjectCaller(Caller);

impl<S> Layer<S> for InjectCaller {
    type Service = WithCaller<S>;
    fn layer(&self, inner: S) -> Self::Service {
        WithCaller {
            inner,
            caller: self.0.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct WithCaller<S> {
    inner: S,
    caller: Caller,
}

impl<S> Service<http::Request<Body>> for WithCaller<S>
where
    S: Service<http::Request<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        request.extensions_mut().insert(self.caller.clone());
        Box::pin(self.inner.call(request))
    }
}
