//! The bundle endpoint client: one relationship (URL, profile, trust domain; FED-11), one
//! fetch per call. Polling, storing and the last good bundle are the caller's (the server's
//! refresher, or an embedder's loop with [`next_refresh`](super::next_refresh)).

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use spiffe_core::{SpiffeBundle, SpiffeId, TrustDomain, X509Bundle};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::verifier::EndpointSvidVerifier;
use super::{parse_bundle_document, EndpointUrl, FederationError, MAX_DOCUMENT_SIZE};

/// How long one fetch may take, connection to last byte.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// How the client authenticates the endpoint (FED-9: both are supported).
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientProfile {
    /// `https_web`: a Web PKI chain to one of `roots`, naming the URL's host (FED-19). No
    /// parameter beyond the common three (FED-14): the roots are the client's own.
    HttpsWeb {
        /// The trusted CAs.
        roots: Arc<RootCertStore>,
    },
    /// `https_spiffe`: an X.509-SVID whose ID is `endpoint_id` (FED-25), verified against the
    /// endpoint trust domain's bundle the caller passes to each fetch (FED-26/27).
    HttpsSpiffe {
        /// The endpoint server's SPIFFE ID (FED-21).
        endpoint_id: SpiffeId,
    },
}

impl std::fmt::Debug for ClientProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::HttpsWeb { roots } => f
                .debug_struct("HttpsWeb")
                .field("roots", &roots.len())
                .finish(),
            Self::HttpsSpiffe { endpoint_id } => f
                .debug_struct("HttpsSpiffe")
                .field("endpoint_id", endpoint_id)
                .finish(),
        }
    }
}

impl ClientProfile {
    /// `https_web` trusting the CAs of PEM `ca_pem` only (e.g. a private CA).
    pub fn https_web_from_pem(ca_pem: &[u8]) -> Result<Self, FederationError> {
        let certs = spiffe_core::x509::parse_certificates(ca_pem).map_err(|e| {
            FederationError::ServingCert {
                reason: format!("unreadable CA file: {e}"),
            }
        })?;
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots
                .add(cert.der().clone())
                .map_err(|e| FederationError::ServingCert {
                    reason: format!("unusable CA certificate: {e}"),
                })?;
        }
        Ok(Self::HttpsWeb {
            roots: Arc::new(roots),
        })
    }

    /// `https_web` trusting the Mozilla root program's CAs.
    #[cfg(feature = "webpki-roots")]
    pub fn https_web_webpki_roots() -> Self {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Self::HttpsWeb {
            roots: Arc::new(roots),
        }
    }

    /// The profile's name in SPIRE's configuration and CLI.
    pub fn name(&self) -> &'static str {
        match self {
            Self::HttpsWeb { .. } => "https_web",
            Self::HttpsSpiffe { .. } => "https_spiffe",
        }
    }
}

/// A bundle as fetched, with the bytes it was read from (for logs: their length only).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FetchedBundle {
    /// The bundle, bound to the relationship's trust domain.
    pub bundle: SpiffeBundle,
    /// The document's size in bytes.
    pub size: usize,
}

/// Fetches the bundle of one federated trust domain.
#[derive(Debug, Clone)]
pub struct BundleEndpointClient {
    trust_domain: TrustDomain,
    url: EndpointUrl,
    profile: ClientProfile,
    provider: Arc<CryptoProvider>,
}

// === impl BundleEndpointClient ===

impl BundleEndpointClient {
    /// A client for `trust_domain`'s bundle at `url` (FED-11, FED-28: all three are known
    /// before any fetch; FED-32: nothing is inferred from the URL).
    pub fn new(
        trust_domain: TrustDomain,
        url: EndpointUrl,
        profile: ClientProfile,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        Self {
            trust_domain,
            url,
            profile,
            provider,
        }
    }

    /// The trust domain fetched.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The endpoint URL.
    pub fn url(&self) -> &EndpointUrl {
        &self.url
    }

    /// The profile.
    pub fn profile(&self) -> &ClientProfile {
        &self.profile
    }

    /// Fetches and checks the bundle once.
    ///
    /// `endpoint_bundle` is the current X.509 bundle of the endpoint SPIFFE ID's trust domain,
    /// required by `https_spiffe` (the operator's bootstrap bundle first, then the latest one
    /// fetched: FED-26) and ignored by `https_web`. When the endpoint is self-serving, a new
    /// bundle that no longer holds the authority that verified the endpoint in this fetch is
    /// refused ([`FederationError::DropsEndpointAuthority`]).
    pub async fn fetch(
        &self,
        endpoint_bundle: Option<Arc<X509Bundle>>,
    ) -> Result<FetchedBundle, FederationError> {
        match tokio::time::timeout(FETCH_TIMEOUT, self.fetch_inner(endpoint_bundle)).await {
            Ok(result) => result,
            Err(_) => Err(FederationError::Timeout(FETCH_TIMEOUT)),
        }
    }

    async fn fetch_inner(
        &self,
        endpoint_bundle: Option<Arc<X509Bundle>>,
    ) -> Result<FetchedBundle, FederationError> {
        let (config, spiffe_verifier) = self.tls_config(endpoint_bundle)?;
        let authority = format!("{}:{}", self.url.host(), self.url.port());
        let tcp = TcpStream::connect((self.url.host(), self.url.port()))
            .await
            .map_err(|source| FederationError::Connect {
                authority: authority.clone(),
                source,
            })?;
        let server_name =
            ServerName::try_from(self.url.host().to_owned()).map_err(|_| FederationError::Url {
                reason: "the host is not a DNS name or IP address",
            })?;
        let tls = TlsConnector::from(Arc::new(config))
            .connect(server_name, tcp)
            .await
            .map_err(FederationError::Tls)?;

        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| FederationError::Http(Box::new(e)))?;
        let driver = tokio::spawn(connection);
        // FED-16: no client authentication of any kind, no auth header.
        let request = Request::builder()
            .method(Method::GET)
            .uri(self.url.path_and_query())
            .header(hyper::header::HOST, self.url.authority())
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|_| FederationError::Url {
                reason: "the path is not a valid request target",
            })?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| FederationError::Http(Box::new(e)));
        let result = match response {
            Ok(response) => self.read(response, spiffe_verifier.as_deref()).await,
            Err(e) => Err(e),
        };
        driver.abort();
        result
    }

    fn tls_config(
        &self,
        endpoint_bundle: Option<Arc<X509Bundle>>,
    ) -> Result<(ClientConfig, Option<Arc<EndpointSvidVerifier>>), FederationError> {
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| FederationError::ServingCert {
                reason: format!("crypto provider: {e}"),
            })?;
        match &self.profile {
            // FED-19: chain to a local root, SAN/CN matching the URL host (rustls' WebPKI).
            ClientProfile::HttpsWeb { roots } => Ok((
                builder
                    .with_root_certificates(roots.clone())
                    .with_no_client_auth(),
                None,
            )),
            ClientProfile::HttpsSpiffe { endpoint_id } => {
                let bundle = endpoint_bundle.ok_or_else(|| FederationError::NoEndpointBundle {
                    endpoint: endpoint_id.clone(),
                })?;
                let verifier = Arc::new(EndpointSvidVerifier::new(
                    endpoint_id.clone(),
                    bundle,
                    self.provider.clone(),
                ));
                let config = builder
                    .dangerous()
                    .with_custom_certificate_verifier(verifier.clone())
                    .with_no_client_auth();
                Ok((config, Some(verifier)))
            }
        }
    }

    async fn read(
        &self,
        response: hyper::Response<hyper::body::Incoming>,
        verifier: Option<&EndpointSvidVerifier>,
    ) -> Result<FetchedBundle, FederationError> {
        // FED-18/20: redirects are not followed, so a 3xx is reported like any other status.
        if response.status() != StatusCode::OK {
            return Err(FederationError::Status {
                status: response.status().as_u16(),
            });
        }
        let too_large = FederationError::TooLarge {
            limit: MAX_DOCUMENT_SIZE,
        };
        let body = Limited::new(response.into_body(), MAX_DOCUMENT_SIZE)
            .collect()
            .await
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(e) => FederationError::Http(e),
                Err(_) => too_large,
            })?
            .to_bytes();
        let bundle = parse_bundle_document(&self.trust_domain, &body)?;
        if let (Some(verifier), ClientProfile::HttpsSpiffe { endpoint_id }) =
            (verifier, &self.profile)
        {
            // FED-26: a self-serving endpoint's next fetch is verified with this bundle; one
            // that drops the authority that just verified the endpoint would lock us out.
            if endpoint_id.trust_domain() == self.trust_domain {
                let kept = verifier
                    .anchor()
                    .is_some_and(|anchor| bundle.x509_authorities().contains(&anchor));
                if !kept {
                    return Err(FederationError::DropsEndpointAuthority(
                        self.trust_domain.clone(),
                    ));
                }
            }
        }
        Ok(FetchedBundle {
            size: body.len(),
            bundle,
        })
    }
}
