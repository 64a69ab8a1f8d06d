//! The Workload API client: [`WorkloadApiClient`] calls every `SpiffeWorkloadAPI` RPC over a
//! Unix socket or TCP (WEP-3), always with the `workload.spiffe.io: true` header (WEP-5), and
//! parses every answer into `spiffe-core` types.

mod backoff;
mod error;
pub mod response;
mod watch;

use std::fmt;
use std::path::Path;

use spiffe_core::json::JsonObject;
use spiffe_core::{BundleSet, SpiffeId, X509Svid};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::Request;

use crate::endpoint::EndpointAddress;
use crate::proto;
use crate::proto::spiffe_workload_api_client::SpiffeWorkloadApiClient;
use crate::provider::{JwtSvidEntry, X509Context, X509SvidEntry};

pub use backoff::{Backoff, BackoffConfig};
pub use error::{ClientError, MalformedResponse};
pub use watch::Watch;

/// The security header every request carries (WEP-5: the value is exactly `true`).
pub const SECURITY_HEADER: &str = "workload.spiffe.io";

/// A client of the SPIFFE Workload API.
///
/// Cloning is cheap and clones share one connection. The connection is re-established on
/// demand after the agent restarts; the `watch_*` streams re-open themselves with backoff
/// (WAPI-5) and stop only on final errors (INVALID_ARGUMENT, UNIMPLEMENTED).
///
/// ```no_run
/// # async fn run() -> Result<(), spiffe_workload::ClientError> {
/// use spiffe_workload::WorkloadApiClient;
///
/// let client = WorkloadApiClient::from_env().await?;
/// let context = client.fetch_x509_context().await?;
/// println!("default identity: {}", context.svids[0].svid.spiffe_id());
/// let tokens = client.fetch_jwt_svids(&["my-service"], None).await?;
/// println!("{} JWT-SVID(s)", tokens.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct WorkloadApiClient {
    inner: SpiffeWorkloadApiClient<Channel>,
    backoff: BackoffConfig,
    address: Option<EndpointAddress>,
}

/// A JWT-SVID the Workload API validated (`ValidateJWTSVID`, WAPI-22).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ValidatedJwtSvid {
    /// The token's subject.
    pub spiffe_id: SpiffeId,
    /// The claims the server returned (at least `sub`, `aud` and `exp`).
    pub claims: JsonObject,
}

// === impl WorkloadApiClient ===

impl WorkloadApiClient {
    /// Connects to `address` now. A Unix socket that does not exist fails with
    /// [`ClientError::SocketNotFound`] naming its path; an address where nothing answers with
    /// [`ClientError::Connect`] naming the address.
    pub async fn connect(address: &EndpointAddress) -> Result<Self, ClientError> {
        check_socket(address)?;
        let connect_error = |e: tonic::transport::Error| ClientError::Connect {
            address: address.clone(),
            source: Box::new(e),
        };
        let channel = match address {
            EndpointAddress::Unix(path) => base_endpoint()
                .connect_with_connector(unix_connector(path))
                .await
                .map_err(connect_error)?,
            EndpointAddress::Tcp(addr) => tcp_endpoint(*addr)?
                .connect()
                .await
                .map_err(connect_error)?,
            #[allow(unreachable_patterns)]
            _ => return Err(ClientError::Endpoint(unsupported())),
        };
        Ok(Self::from_channel(channel).at(address))
    }

    /// A client for `address` that connects on first use (and after each disconnection), so
    /// it can be made before the agent is up. Must be called within a Tokio runtime.
    pub fn connect_lazy(address: &EndpointAddress) -> Result<Self, ClientError> {
        let channel = match address {
            EndpointAddress::Unix(path) => {
                base_endpoint().connect_with_connector_lazy(unix_connector(path))
            }
            EndpointAddress::Tcp(addr) => tcp_endpoint(*addr)?.connect_lazy(),
            #[allow(unreachable_patterns)]
            _ => return Err(ClientError::Endpoint(unsupported())),
        };
        Ok(Self::from_channel(channel).at(address))
    }

    /// Connects to the address in `SPIFFE_ENDPOINT_SOCKET` (WEP-8), as [`Self::connect`]; an
    /// unset or invalid value is a [`ClientError::Endpoint`] naming the rule broken
    /// (WEP-8..11).
    pub async fn from_env() -> Result<Self, ClientError> {
        Self::connect(&EndpointAddress::from_env()?).await
    }

    /// A client over an existing tonic channel (e.g. an in-memory transport).
    pub fn from_channel(channel: Channel) -> Self {
        Self {
            inner: SpiffeWorkloadApiClient::new(channel),
            backoff: BackoffConfig::default(),
            address: None,
        }
    }

    /// The endpoint this client talks to; `None` for a client made [`from_channel`](Self::from_channel).
    pub fn address(&self) -> Option<&EndpointAddress> {
        self.address.as_ref()
    }

    /// Fails with [`ClientError::SocketNotFound`] when the client's endpoint is a Unix socket
    /// path where nothing exists.
    pub(crate) fn check_socket(&self) -> Result<(), ClientError> {
        match &self.address {
            Some(address) => check_socket(address),
            None => Ok(()),
        }
    }

    fn at(mut self, address: &EndpointAddress) -> Self {
        self.address = Some(address.clone());
        self
    }

    /// The generated gRPC client over this client's connection, **without** the security
    /// header: requests sent through it carry only the metadata the caller adds. For
    /// conformance tools that must send what the standard forbids (WEP-6: a request without
    /// `workload.spiffe.io` must be refused); everything else should use the methods here.
    pub fn grpc_without_header(&self) -> SpiffeWorkloadApiClient<Channel> {
        self.inner.clone()
    }

    /// The same client with `backoff` for the `watch_*` streams and the sources built on it.
    #[must_use]
    pub fn with_backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// The backoff the `watch_*` streams use.
    pub fn backoff(&self) -> &BackoffConfig {
        &self.backoff
    }

    /// The caller's X.509-SVIDs (the first is the default, WAPI-24) with their hints, and the
    /// X.509 bundles it trusts, own and federated (one `FetchX509SVID` message).
    pub async fn fetch_x509_context(&self) -> Result<X509Context, ClientError> {
        let mut stream = self.open_x509_svid().await?;
        Ok(response::x509_context(first(&mut stream).await?)?)
    }

    /// The caller's X.509-SVIDs with their hints, in server order.
    pub async fn fetch_x509_svids(&self) -> Result<Vec<X509SvidEntry>, ClientError> {
        Ok(self.fetch_x509_context().await?.svids)
    }

    /// The caller's default X.509-SVID: the first of the response (WAPI-24).
    pub async fn fetch_x509_svid(&self) -> Result<std::sync::Arc<X509Svid>, ClientError> {
        let mut svids = self.fetch_x509_svids().await?;
        // Non-empty: `x509_context` refuses a response without SVIDs (WAPI-12).
        Ok(svids.swap_remove(0).svid)
    }

    /// The X.509 bundles the caller trusts, by trust domain (`FetchX509Bundles`).
    pub async fn fetch_x509_bundles(&self) -> Result<BundleSet, ClientError> {
        let mut stream = self.open_x509_bundles().await?;
        Ok(response::x509_bundles(first(&mut stream).await?)?)
    }

    /// JWT-SVIDs for `audience` (at least one, WAPI-19): of `spiffe_id` when given, else one
    /// per identity the caller holds. An empty `audience` is answered with INVALID_ARGUMENT.
    pub async fn fetch_jwt_svids(
        &self,
        audience: &[&str],
        spiffe_id: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ClientError> {
        let message = proto::JwtsvidRequest {
            audience: audience.iter().map(|a| (*a).to_owned()).collect(),
            spiffe_id: spiffe_id
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
        };
        let answer = self
            .inner
            .clone()
            .fetch_jwtsvid(request(message))
            .await?
            .into_inner();
        Ok(response::jwt_svids(answer)?)
    }

    /// The JWT bundles the caller trusts, by trust domain (`FetchJWTBundles`).
    pub async fn fetch_jwt_bundles(&self) -> Result<BundleSet, ClientError> {
        let mut stream = self.open_jwt_bundles().await?;
        Ok(response::jwt_bundles(first(&mut stream).await?)?)
    }

    /// Asks the server to validate `token` for `audience` (WAPI-22, preferred by WAPI-23).
    /// A token that fails is answered with [`ClientError::InvalidArgument`].
    pub async fn validate_jwt_svid(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<ValidatedJwtSvid, ClientError> {
        let message = proto::ValidateJwtsvidRequest {
            audience: audience.to_owned(),
            svid: token.to_owned(),
        };
        let answer = self
            .inner
            .clone()
            .validate_jwtsvid(request(message))
            .await?
            .into_inner();
        Ok(response::validated_jwt_svid(answer)?)
    }

    /// Every `FetchX509SVID` update as an [`X509Context`], re-opening the stream with backoff
    /// when it ends or fails (WAPI-5). Errors are yielded as they happen; the stream ends after
    /// a final one.
    pub fn watch_x509_context(&self) -> Watch<X509Context> {
        let client = self.clone();
        watch::spawn(
            self.backoff,
            move || {
                let client = client.clone();
                async move { client.open_x509_svid().await }
            },
            response::x509_context,
        )
    }

    /// Every `FetchX509Bundles` update, re-opened like [`Self::watch_x509_context`].
    pub fn watch_x509_bundles(&self) -> Watch<BundleSet> {
        let client = self.clone();
        watch::spawn(
            self.backoff,
            move || {
                let client = client.clone();
                async move { client.open_x509_bundles().await }
            },
            response::x509_bundles,
        )
    }

    /// Every `FetchJWTBundles` update, re-opened like [`Self::watch_x509_context`].
    pub fn watch_jwt_bundles(&self) -> Watch<BundleSet> {
        let client = self.clone();
        watch::spawn(
            self.backoff,
            move || {
                let client = client.clone();
                async move { client.open_jwt_bundles().await }
            },
            response::jwt_bundles,
        )
    }

    async fn open_x509_svid(
        &self,
    ) -> Result<tonic::Streaming<proto::X509svidResponse>, ClientError> {
        let request = request(proto::X509svidRequest {});
        Ok(self
            .inner
            .clone()
            .fetch_x509svid(request)
            .await?
            .into_inner())
    }

    async fn open_x509_bundles(
        &self,
    ) -> Result<tonic::Streaming<proto::X509BundlesResponse>, ClientError> {
        let request = request(proto::X509BundlesRequest {});
        Ok(self
            .inner
            .clone()
            .fetch_x509_bundles(request)
            .await?
            .into_inner())
    }

    async fn open_jwt_bundles(
        &self,
    ) -> Result<tonic::Streaming<proto::JwtBundlesResponse>, ClientError> {
        let request = request(proto::JwtBundlesRequest {});
        Ok(self
            .inner
            .clone()
            .fetch_jwt_bundles(request)
            .await?
            .into_inner())
    }
}

impl fmt::Debug for WorkloadApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkloadApiClient")
            .field("address", &self.address)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// The URI tonic needs for a Unix socket connector (never dialled: the connector ignores it).
fn base_endpoint() -> Endpoint {
    Endpoint::from_static("http://localhost")
}

fn tcp_endpoint(addr: std::net::SocketAddr) -> Result<Endpoint, ClientError> {
    // WEP-7: plaintext HTTP/2 (prior knowledge), no TLS.
    Endpoint::from_shared(format!("http://{addr}")).map_err(|e| ClientError::Connect {
        address: EndpointAddress::Tcp(addr),
        source: Box::new(e),
    })
}

/// A connector dialling the Unix socket at `path` whatever URI tonic hands it.
fn unix_connector(
    path: &Path,
) -> impl tower::Service<
    Uri,
    Response = hyper_util::rt::TokioIo<tokio::net::UnixStream>,
    Error = std::io::Error,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    let path = path.to_path_buf();
    tower::service_fn(move |_: Uri| {
        let path = path.clone();
        async move {
            let stream = tokio::net::UnixStream::connect(path).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    })
}

/// [`ClientError::SocketNotFound`] for a Unix address with nothing at its path.
fn check_socket(address: &EndpointAddress) -> Result<(), ClientError> {
    let Some(path) = address.unix_path() else {
        return Ok(());
    };
    match std::fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(ClientError::SocketNotFound {
                path: path.to_path_buf(),
            })
        }
        // Anything else (a permission problem, a file that is no socket) is reported by the
        // connection attempt itself.
        _ => Ok(()),
    }
}

fn unsupported() -> crate::endpoint::EndpointError {
    crate::endpoint::EndpointError::UnsupportedScheme
}

/// `message` with the security header (WEP-5).
fn request<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert(SECURITY_HEADER, MetadataValue::from_static("true"));
    request
}

/// The first message of a stream; a stream that ends at once is an unavailable server.
async fn first<T>(stream: &mut tonic::Streaming<T>) -> Result<T, ClientError> {
    match stream.message().await? {
        Some(message) => Ok(message),
        None => Err(ClientError::Unavailable {
            message: "stream ended before the first message".to_owned(),
        }),
    }
}
