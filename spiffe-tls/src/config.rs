//! rustls client and server configurations for each SPIFFE mode. Each requires an
//! [`Authorizer`] wherever a peer is authenticated: there is no permissive default.
//!
//! Session resumption is off in every configuration built here: a resumed session skips the
//! certificate verifier, so a trust domain removed from the bundle source, or an SVID rotated
//! since, would go unnoticed on it. Every handshake is a full one, verified against the newest
//! bundles and presenting the newest SVID. (A caller wanting resumption can re-enable it on the
//! returned config, knowingly.)

use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::server::NoServerSessionStorage;
use rustls::{ClientConfig, ServerConfig};
use spiffe_core::{X509BundleSource, X509SvidSource};

use crate::{Authorizer, SpiffeClientCertVerifier, SpiffeServerCertVerifier, SvidCertResolver};

/// An mTLS client: presents the newest SVID of `svids`, and accepts a server whose
/// X.509-SVID verifies against `bundles` and whose SPIFFE ID `authorizer` allows.
///
/// TLS 1.2 and 1.3 as `provider` supports them. Fails only when `provider` offers no usable
/// protocol version.
pub fn mtls_client_config(
    provider: Arc<CryptoProvider>,
    svids: impl X509SvidSource + Send + Sync + 'static,
    bundles: impl X509BundleSource + Send + Sync + 'static,
    authorizer: Authorizer,
) -> Result<ClientConfig, rustls::Error> {
    let resolver = SvidCertResolver::new(svids, &provider);
    let verifier = SpiffeServerCertVerifier::new(bundles, authorizer, provider.clone());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(resolver));
    no_client_resumption(&mut config);
    Ok(config)
}

/// A TLS client without an SVID of its own that accepts a server whose X.509-SVID verifies
/// against `bundles` and whose SPIFFE ID `authorizer` allows.
pub fn tls_client_config(
    provider: Arc<CryptoProvider>,
    bundles: impl X509BundleSource + Send + Sync + 'static,
    authorizer: Authorizer,
) -> Result<ClientConfig, rustls::Error> {
    let verifier = SpiffeServerCertVerifier::new(bundles, authorizer, provider.clone());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    no_client_resumption(&mut config);
    Ok(config)
}

/// An mTLS server: presents the newest SVID of `svids`, and requires every client to present
/// an X.509-SVID that verifies against `bundles` with a SPIFFE ID `authorizer` allows.
pub fn mtls_server_config(
    provider: Arc<CryptoProvider>,
    svids: impl X509SvidSource + Send + Sync + 'static,
    bundles: impl X509BundleSource + Send + Sync + 'static,
    authorizer: Authorizer,
) -> Result<ServerConfig, rustls::Error> {
    let resolver = SvidCertResolver::new(svids, &provider);
    let verifier = SpiffeClientCertVerifier::new(bundles, authorizer, provider.clone());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(Arc::new(resolver));
    no_server_resumption(&mut config);
    Ok(config)
}

/// A TLS server presenting the newest SVID of `svids` to clients that are not authenticated
/// (they authorize the server by its SPIFFE ID, e.g. with [`tls_client_config`]).
pub fn tls_server_config(
    provider: Arc<CryptoProvider>,
    svids: impl X509SvidSource + Send + Sync + 'static,
) -> Result<ServerConfig, rustls::Error> {
    let resolver = SvidCertResolver::new(svids, &provider);
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    no_server_resumption(&mut config);
    Ok(config)
}

/// Full handshakes only: see the module docs.
fn no_client_resumption(config: &mut ClientConfig) {
    config.resumption = Resumption::disabled();
}

/// Neither session IDs nor TLS 1.3 tickets: see the module docs.
fn no_server_resumption(config: &mut ServerConfig) {
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
}
