//! rustls client and server configurations for each SPIFFE mode. Each requires an
//! [`Authorizer`] wherever a peer is authenticated: there is no permissive default.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ServerConfig};
use spiffe_core::{X509BundleSource, X509SvidSource};

use crate::{Authorizer, SpiffeClientCertVerifier, SpiffeServerCertVerifier, SvidCertResolver};

/// The SVID source a resolver reads on every handshake.
pub type SvidSource = Arc<dyn X509SvidSource + Send + Sync>;
/// The bundle source a verifier reads on every handshake.
pub type BundleSource = Arc<dyn X509BundleSource + Send + Sync>;

/// An mTLS client: presents the newest SVID of `svids`, and accepts a server whose
/// X.509-SVID verifies against `bundles` and whose SPIFFE ID `authorizer` allows.
///
/// TLS 1.2 and 1.3 as `provider` supports them. Fails only when `provider` offers no usable
/// protocol version.
pub fn mtls_client_config(
    provider: Arc<CryptoProvider>,
    svids: SvidSource,
    bundles: BundleSource,
    authorizer: Authorizer,
) -> Result<ClientConfig, rustls::Error> {
    let resolver = SvidCertResolver::new(svids, &provider);
    let verifier = SpiffeServerCertVerifier::new(bundles, authorizer, provider.clone());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(resolver)))
}

/// A TLS client without an SVID of its own that accepts a server whose X.509-SVID verifies
/// against `bundles` and whose SPIFFE ID `authorizer` allows.
pub fn tls_client_config(
    provider: Arc<CryptoProvider>,
    bundles: BundleSource,
    authorizer: Authorizer,
) -> Result<ClientConfig, rustls::Error> {
    let verifier = SpiffeServerCertVerifier::new(bundles, authorizer, provider.clone());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// An mTLS server: presents the newest SVID of `svids`, and requires every client to present
/// an X.509-SVID that verifies against `bundles` with a SPIFFE ID `authorizer` allows.
pub fn mtls_server_config(
    provider: Arc<CryptoProvider>,
    svids: SvidSource,
    bundles: BundleSource,
    authorizer: Authorizer,
) -> Result<ServerConfig, rustls::Error> {
    let resolver = SvidCertResolver::new(svids, &provider);
    let verifier = SpiffeClientCertVerifier::new(bundles, authorizer, provider.clone());
    Ok(ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(Arc::new(resolver)))
}

/// A TLS server presenting the newest SVID of `svids` to clients that are not authenticated
/// (they authorize the server by its SPIFFE ID, e.g. with [`tls_client_config`]).
pub fn tls_server_config(
    provider: Arc<CryptoProvider>,
    svids: SvidSource,
) -> Result<ServerConfig, rustls::Error> {
    let resolver = SvidCertResolver::new(svids, &provider);
    Ok(ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver)))
}
