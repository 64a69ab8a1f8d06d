//! `UpstreamAuthority "spire"`: this server is nested under an upstream (root) server of the
//! same trust domain, which signs its X.509 CA.
//!
//! ```text
//! downstream server          local agent (of the root)        upstream server
//!   | FetchX509SVID (Workload API) |                                |
//!   |----------------------------->| X.509-SVID + root bundle       |
//!   |<-----------------------------|                                |
//!   | mTLS (that SVID; the upstream must be spiffe://<td>/spire/server)
//!   | NewDownstreamX509CA(CSR of the new CA key, preferred_ttl) ---->|
//!   |<------------------------ CA chain + the trust domain's roots --|
//!   | GetBundle (every 5 s: roots and JWT keys, as they rotate) ---->|
//!   | PublishJWTAuthority(each JWT key of this server's CA) -------->|
//! ```
//!
//! The connection is made on first use and kept: the SVID and the bundle it presents and
//! verifies with come from an [`X509Source`] that follows the agent's rotations, so a rotated
//! SVID needs no new channel. While the upstream is unreachable every call fails with
//! [`CaError::UpstreamUnavailable`]; [`UpstreamHealth`] records it for the follower
//! ([`super::upstream_bundle`]), the logs, the metrics and `healthcheck -verbose`. The CA
//! manager keeps the active authority until a new one can be prepared, so the server goes on
//! minting until its CA nears expiry.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use spiffe_ca::x509::{certification_request, UpstreamAuthority, UpstreamCa, UpstreamCaRequest};
use spiffe_ca::CaError;
use spiffe_core::pki_types::CertificateDer;
use spiffe_core::{BoxFuture, Certificate, SpiffeId, TrustDomain};
use spiffe_tls::hyper::SpiffeConnector;
use spiffe_tls::{Authorizer, ClientConfigBuilder};
use spiffe_workload::{EndpointAddress, WorkloadApiClient, X509Source};
use spire_api_proto::server::bundle::v1::bundle_client::BundleClient;
use spire_api_proto::server::svid::v1::svid_client::SvidClient;
use spire_api_proto::server::svid::v1::NewDownstreamX509caRequest;
use tokio::sync::OnceCell;
use tonic::transport::{Channel, Endpoint};

use crate::config::SpireUpstreamSettings;

/// How long to wait for the local agent to hand this server its first X.509-SVID.
const WORKLOAD_API_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one call to the upstream may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether the upstream answered lately, shared by the plugin, the follower, the metrics and
/// the health checks.
#[derive(Debug, Default)]
pub struct UpstreamHealth {
    unreachable: AtomicBool,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl UpstreamHealth {
    /// Records a successful call.
    pub fn succeeded(&self) {
        if self.unreachable.swap(false, Ordering::Relaxed) {
            tracing::info!("Upstream authority is reachable again");
        }
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Records a failed call and why.
    pub fn failed(&self, why: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.unreachable.store(true, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.to_owned());
    }

    /// Whether the last call failed.
    pub fn unreachable(&self) -> bool {
        self.unreachable.load(Ordering::Relaxed)
    }

    /// Failed calls since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Why the last call failed, while it is the latest outcome.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The connection to the upstream: a gRPC channel secured with this server's identity from
/// the Workload API (the TLS config holds the source, which follows the agent's rotations).
#[derive(Clone)]
pub(crate) struct UpstreamConnection {
    pub(crate) channel: Channel,
}

/// `UpstreamAuthority "spire"`.
pub struct SpireUpstream {
    settings: SpireUpstreamSettings,
    trust_domain: TrustDomain,
    connection: OnceCell<UpstreamConnection>,
    health: Arc<UpstreamHealth>,
}

impl std::fmt::Debug for SpireUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpireUpstream")
            .field("server_address", &self.settings.server_address)
            .field("server_port", &self.settings.server_port)
            .field("workload_api_socket", &self.settings.workload_api_socket)
            .finish_non_exhaustive()
    }
}

fn unavailable(why: impl Into<String>) -> CaError {
    let why: String = why.into();
    CaError::UpstreamUnavailable(why.into())
}

// === impl SpireUpstream ===

impl SpireUpstream {
    /// The plugin for `trust_domain` with `settings`; nothing is connected yet.
    pub fn new(settings: SpireUpstreamSettings, trust_domain: TrustDomain) -> Self {
        Self {
            settings,
            trust_domain,
            connection: OnceCell::new(),
            health: Arc::new(UpstreamHealth::default()),
        }
    }

    /// The upstream's health record.
    pub fn health(&self) -> &Arc<UpstreamHealth> {
        &self.health
    }

    /// `server_address:server_port`.
    pub fn authority(&self) -> String {
        let host = &self.settings.server_address;
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{}", self.settings.server_port)
        } else {
            format!("{host}:{}", self.settings.server_port)
        }
    }

    /// The connection, made on first use: an X.509 source on the local agent's Workload API
    /// (waiting for its first SVID), and an mTLS channel presenting that SVID and accepting
    /// only the trust domain's server ID, verified against the bundle the agent serves.
    pub(crate) async fn connection(&self) -> Result<UpstreamConnection, CaError> {
        self.connection
            .get_or_try_init(|| async {
                let socket = format!("unix://{}", self.settings.workload_api_socket.display());
                let address = EndpointAddress::parse(&socket).map_err(|e| {
                    unavailable(format!("workload_api_socket {socket:?} is not usable: {e}"))
                })?;
                let client = WorkloadApiClient::connect_lazy(&address).map_err(|e| {
                    unavailable(format!("unable to reach the Workload API at {socket}: {e}"))
                })?;
                let source = X509Source::builder()
                    .with_client(client)
                    .wait_for_socket()
                    .with_timeout(Some(WORKLOAD_API_TIMEOUT))
                    .build()
                    .await
                    .map_err(|e| {
                        unavailable(format!(
                            "unable to get this server's X.509-SVID from the Workload API at {socket}: {e}"
                        ))
                    })?;
                let server_id = SpiffeId::new(&format!("{}/spire/server", self.trust_domain.id_str()))
                    .map_err(|e| unavailable(format!("no server ID for the trust domain: {e}")))?;
                let provider: Arc<CryptoProvider> =
                    Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                let mut config = ClientConfigBuilder::new(provider)
                    .verify_server(source.clone(), Authorizer::exact(server_id))
                    .with_svid(source.clone())
                    .map_err(|e| unavailable(format!("unable to configure TLS: {e}")))?;
                config.alpn_protocols = vec![b"h2".to_vec()];
                let authority = self.authority();
                let channel = Endpoint::from_shared(format!("http://{authority}"))
                    .map_err(|_| unavailable(format!("invalid upstream address {authority:?}")))?
                    .connect_timeout(Duration::from_secs(10))
                    .timeout(CALL_TIMEOUT)
                    .connect_with_connector_lazy(SpiffeConnector::new(Arc::new(config)));
                Ok(UpstreamConnection { channel })
            })
            .await
            .cloned()
    }

    /// A client of the upstream's Bundle service.
    pub(crate) async fn bundle_client(&self) -> Result<BundleClient<Channel>, CaError> {
        Ok(BundleClient::new(self.connection().await?.channel))
    }

    async fn mint(&self, request: &UpstreamCaRequest) -> Result<UpstreamCa, CaError> {
        let signer = request.signer.clone().ok_or_else(|| {
            unavailable("the spire upstream authority needs the new CA's signer for its CSR")
        })?;
        let csr = tokio::task::spawn_blocking(move || certification_request(signer.as_ref()))
            .await
            .map_err(|_| unavailable("CSR signing task failed"))??;
        let connection = self.connection().await?;
        let mut client = SvidClient::new(connection.channel);
        let response = client
            .new_downstream_x509ca(NewDownstreamX509caRequest {
                csr: csr.as_ref().to_vec(),
                preferred_ttl: i32::try_from(request.ttl.as_secs()).unwrap_or(i32::MAX),
            })
            .await
            .map_err(|status| {
                unavailable(format!(
                    "upstream server {} refused NewDownstreamX509CA: {}: {}",
                    self.authority(),
                    status.code(),
                    status.message()
                ))
            })?
            .into_inner();
        upstream_ca(response.ca_cert_chain, &response.x509_authorities)
    }
}

/// The signed CA and the root it chains to, from `NewDownstreamX509CA`'s answer: the chain's
/// last certificate is issued by one of the trust domain's roots (matched by name and key
/// identifier).
fn upstream_ca(chain: Vec<Vec<u8>>, roots: &[Vec<u8>]) -> Result<UpstreamCa, CaError> {
    let mut certs = chain.into_iter().map(CertificateDer::from);
    let certificate = certs
        .next()
        .ok_or_else(|| unavailable("upstream answered an empty CA chain"))?;
    let intermediates: Vec<CertificateDer<'static>> = certs.collect();
    let top = Certificate::from_der(
        intermediates
            .last()
            .cloned()
            .unwrap_or_else(|| certificate.clone()),
    )
    .map_err(CaError::Certificate)?;
    let mut candidates = Vec::new();
    for der in roots {
        let root = Certificate::from_der(CertificateDer::from(der.clone()))
            .map_err(CaError::Certificate)?;
        if root.subject_der() == top.issuer_der()
            && (top.authority_key_id().is_none() || top.authority_key_id() == root.subject_key_id())
        {
            candidates.push(root);
        }
    }
    let root = candidates
        .into_iter()
        .next()
        .ok_or_else(|| unavailable("upstream answered no root that issued the CA chain"))?;
    Ok(UpstreamCa::new(
        certificate,
        intermediates,
        root.der().clone(),
    ))
}

impl UpstreamAuthority for SpireUpstream {
    fn mint_x509_ca<'a>(
        &'a self,
        request: &'a UpstreamCaRequest,
    ) -> BoxFuture<'a, Result<UpstreamCa, CaError>> {
        Box::pin(async move {
            let result = self.mint(request).await;
            match &result {
                Ok(_) => {
                    self.health.succeeded();
                    tracing::info!(upstream = %self.authority(), "Upstream server signed a new X.509 CA");
                }
                Err(e) => {
                    let why = crate::api::status::chain(e);
                    tracing::warn!(upstream = %self.authority(), error = %why, "Unable to get an X.509 CA from the upstream server");
                    self.health.failed(&why);
                }
            }
            result
        })
    }
}
