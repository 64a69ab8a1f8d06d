//! The client side: how the server is verified, then what the client presents.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, SupportedProtocolVersion};
use spiffe_core::{X509BundleSource, X509SvidSource};

use super::DEFAULT_VERSIONS;
use crate::{Authorizer, SpiffeServerCertVerifier, SvidCertResolver};

/// Builds a rustls [`ClientConfig`]: first how the server is verified, then what the client
/// presents.
///
/// ```
/// # use std::sync::Arc;
/// # fn demo(
/// #     provider: Arc<rustls::crypto::CryptoProvider>,
/// #     svid: Arc<spiffe_core::X509Svid>,
/// #     bundles: spiffe_core::BundleSet,
/// # ) -> Result<(), Box<dyn std::error::Error>> {
/// use spiffe_tls::{Authorizer, ClientConfigBuilder};
/// let config = ClientConfigBuilder::new(provider)
///     .verify_server(bundles, Authorizer::exact("spiffe://example.org/api".parse()?))
///     .with_svid(svid)?;
/// # let _ = config; Ok(()) }
/// ```
pub struct ClientConfigBuilder<State> {
    provider: Arc<CryptoProvider>,
    versions: Vec<&'static SupportedProtocolVersion>,
    state: State,
}

/// Builder state: the server verifier is next.
#[derive(Debug)]
pub struct WantsServerVerifier(());

/// Builder state: the client's own identity (or none) is next.
pub struct WantsClientCert {
    verifier: Arc<dyn ServerCertVerifier>,
}

// === impl ClientConfigBuilder ===

impl ClientConfigBuilder<WantsServerVerifier> {
    /// Starts a client configuration using `provider` for all cryptography, offering TLS 1.3
    /// and TLS 1.2.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self {
            provider,
            versions: DEFAULT_VERSIONS.to_vec(),
            state: WantsServerVerifier(()),
        }
    }

    /// Offers only `versions` instead of TLS 1.3 and 1.2.
    pub fn with_protocol_versions(
        mut self,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Self {
        self.versions = versions.to_vec();
        self
    }

    /// Accepts a server presenting an X.509-SVID that verifies against the newest bundle of
    /// its trust domain in `bundles`, with a SPIFFE ID `authorizer` allows. The server name
    /// is never checked.
    pub fn verify_server(
        self,
        bundles: impl X509BundleSource + Send + Sync + 'static,
        authorizer: Authorizer,
    ) -> ClientConfigBuilder<WantsClientCert> {
        let verifier = SpiffeServerCertVerifier::new(bundles, authorizer, self.provider.clone());
        self.verify_server_with(Arc::new(verifier))
    }

    /// Verifies the server with another verifier, e.g. rustls' WebPKI verifier for a server
    /// with a public certificate, while the client still presents an SVID (a mixed mode).
    pub fn verify_server_with(
        self,
        verifier: Arc<dyn ServerCertVerifier>,
    ) -> ClientConfigBuilder<WantsClientCert> {
        ClientConfigBuilder {
            provider: self.provider,
            versions: self.versions,
            state: WantsClientCert { verifier },
        }
    }
}

impl ClientConfigBuilder<WantsClientCert> {
    /// Presents the newest X.509-SVID of `svids` in every handshake (mTLS). Fails when the
    /// provider supports none of the protocol versions.
    pub fn with_svid(
        self,
        svids: impl X509SvidSource + Send + Sync + 'static,
    ) -> Result<ClientConfig, rustls::Error> {
        let resolver = SvidCertResolver::new(svids, &self.provider);
        let mut config = ClientConfig::builder_with_provider(self.provider)
            .with_protocol_versions(&self.versions)?
            .dangerous()
            .with_custom_certificate_verifier(self.state.verifier)
            .with_client_cert_resolver(Arc::new(resolver));
        config.resumption = Resumption::disabled();
        Ok(config)
    }

    /// Presents no client certificate (TLS with an authenticated server only).
    pub fn without_client_cert(self) -> Result<ClientConfig, rustls::Error> {
        let mut config = ClientConfig::builder_with_provider(self.provider)
            .with_protocol_versions(&self.versions)?
            .dangerous()
            .with_custom_certificate_verifier(self.state.verifier)
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        Ok(config)
    }
}

impl<State: fmt::Debug> fmt::Debug for ClientConfigBuilder<State> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfigBuilder")
            .field("versions", &self.versions)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for WantsClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WantsClientCert")
            .field("verifier", &self.verifier)
            .finish()
    }
}
