//! The server side: how clients are verified, then what the server presents.

use std::fmt;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{NoServerSessionStorage, ResolvesServerCert, WebPkiClientVerifier};
use rustls::{ServerConfig, SupportedProtocolVersion};
use spiffe_core::{X509BundleSource, X509SvidSource};

use super::DEFAULT_VERSIONS;
use crate::{Authorizer, SpiffeClientCertVerifier, SvidCertResolver};

/// Builds a rustls [`ServerConfig`]: first how clients are verified, then what the server
/// presents.
///
/// ```
/// # use std::sync::Arc;
/// # fn demo(
/// #     provider: Arc<rustls::crypto::CryptoProvider>,
/// #     svid: Arc<spiffe_core::X509Svid>,
/// #     bundles: spiffe_core::BundleSet,
/// #     td: spiffe_core::TrustDomain,
/// # ) -> Result<(), Box<dyn std::error::Error>> {
/// use spiffe_tls::{Authorizer, ServerConfigBuilder};
/// let config = ServerConfigBuilder::new(provider)
///     .verify_clients(bundles, Authorizer::member_of(td))
///     .with_svid(svid)?;
/// # let _ = config; Ok(()) }
/// ```
pub struct ServerConfigBuilder<State> {
    provider: Arc<CryptoProvider>,
    versions: Vec<&'static SupportedProtocolVersion>,
    state: State,
}

/// Builder state: the client verifier (or none) is next.
#[derive(Debug)]
pub struct WantsClientVerifier(());

/// Builder state: the server's own certificate is next.
pub struct WantsServerCert {
    verifier: Arc<dyn ClientCertVerifier>,
}

// === impl ServerConfigBuilder ===

impl ServerConfigBuilder<WantsClientVerifier> {
    /// Starts a server configuration using `provider` for all cryptography, accepting TLS 1.3
    /// and TLS 1.2.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self {
            provider,
            versions: DEFAULT_VERSIONS.to_vec(),
            state: WantsClientVerifier(()),
        }
    }

    /// Accepts only `versions` instead of TLS 1.3 and 1.2.
    pub fn with_protocol_versions(
        mut self,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Self {
        self.versions = versions.to_vec();
        self
    }

    /// Requires every client to present an X.509-SVID that verifies against the newest bundle
    /// of its trust domain in `bundles`, with a SPIFFE ID `authorizer` allows (mTLS).
    pub fn verify_clients(
        self,
        bundles: impl X509BundleSource + Send + Sync + 'static,
        authorizer: Authorizer,
    ) -> ServerConfigBuilder<WantsServerCert> {
        let verifier = SpiffeClientCertVerifier::new(bundles, authorizer, self.provider.clone());
        self.verify_clients_with(Arc::new(verifier))
    }

    /// Verifies clients with another verifier, e.g. rustls' WebPKI client verifier, while the
    /// server still presents an SVID (a mixed mode).
    pub fn verify_clients_with(
        self,
        verifier: Arc<dyn ClientCertVerifier>,
    ) -> ServerConfigBuilder<WantsServerCert> {
        ServerConfigBuilder {
            provider: self.provider,
            versions: self.versions,
            state: WantsServerCert { verifier },
        }
    }

    /// Does not authenticate clients: the server presents its identity to anyone (clients
    /// authorize it by SPIFFE ID).
    pub fn without_client_auth(self) -> ServerConfigBuilder<WantsServerCert> {
        self.verify_clients_with(WebPkiClientVerifier::no_client_auth())
    }
}

impl ServerConfigBuilder<WantsServerCert> {
    /// Presents the newest X.509-SVID of `svids` in every handshake. Fails when the provider
    /// supports none of the protocol versions.
    pub fn with_svid(
        self,
        svids: impl X509SvidSource + Send + Sync + 'static,
    ) -> Result<ServerConfig, rustls::Error> {
        let resolver = SvidCertResolver::new(svids, &self.provider);
        self.with_cert_resolver(Arc::new(resolver))
    }

    /// Presents what `resolver` chooses, e.g. a WebPKI certificate while clients are
    /// authenticated by SPIFFE ID (a mixed mode).
    pub fn with_cert_resolver(
        self,
        resolver: Arc<dyn ResolvesServerCert>,
    ) -> Result<ServerConfig, rustls::Error> {
        let mut config = ServerConfig::builder_with_provider(self.provider)
            .with_protocol_versions(&self.versions)?
            .with_client_cert_verifier(self.state.verifier)
            .with_cert_resolver(resolver);
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(config)
    }
}

impl<State: fmt::Debug> fmt::Debug for ServerConfigBuilder<State> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfigBuilder")
            .field("versions", &self.versions)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for WantsServerCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WantsServerCert")
            .field("verifier", &self.verifier)
            .finish()
    }
}
