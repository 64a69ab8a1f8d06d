//! One-call configurations for the common SPIFFE modes, shorthands for the
//! [builders](crate::ClientConfigBuilder). Each requires an [`Authorizer`] wherever a peer is
//! authenticated: there is no permissive default. Session resumption is off (see the
//! builders).

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ServerConfig};
use spiffe_core::{X509BundleSource, X509SvidSource};

use crate::{Authorizer, ClientConfigBuilder, ServerConfigBuilder};

/// An mTLS client: presents the newest SVID of `svids`, and accepts a server whose
/// X.509-SVID verifies against `bundles` and whose SPIFFE ID `authorizer` allows.
/// TLS 1.3 and 1.2.
pub fn mtls_client_config(
    provider: Arc<CryptoProvider>,
    svids: impl X509SvidSource + Send + Sync + 'static,
    bundles: impl X509BundleSource + Send + Sync + 'static,
    authorizer: Authorizer,
) -> Result<ClientConfig, rustls::Error> {
    ClientConfigBuilder::new(provider)
        .verify_server(bundles, authorizer)
        .with_svid(svids)
}

/// A TLS client without an SVID of its own that accepts a server whose X.509-SVID verifies
/// against `bundles` and whose SPIFFE ID `authorizer` allows.
pub fn tls_client_config(
    provider: Arc<CryptoProvider>,
    bundles: impl X509BundleSource + Send + Sync + 'static,
    authorizer: Authorizer,
) -> Result<ClientConfig, rustls::Error> {
    ClientConfigBuilder::new(provider)
        .verify_server(bundles, authorizer)
        .without_client_cert()
}

/// An mTLS server: presents the newest SVID of `svids`, and requires every client to present
/// an X.509-SVID that verifies against `bundles` with a SPIFFE ID `authorizer` allows.
pub fn mtls_server_config(
    provider: Arc<CryptoProvider>,
    svids: impl X509SvidSource + Send + Sync + 'static,
    bundles: impl X509BundleSource + Send + Sync + 'static,
    authorizer: Authorizer,
) -> Result<ServerConfig, rustls::Error> {
    ServerConfigBuilder::new(provider)
        .verify_clients(bundles, authorizer)
        .with_svid(svids)
}

/// A TLS server presenting the newest SVID of `svids` to clients that are not authenticated
/// (they authorize the server by its SPIFFE ID, e.g. with [`tls_client_config`]).
pub fn tls_server_config(
    provider: Arc<CryptoProvider>,
    svids: impl X509SvidSource + Send + Sync + 'static,
) -> Result<ServerConfig, rustls::Error> {
    ServerConfigBuilder::new(provider)
        .without_client_auth()
        .with_svid(svids)
}
