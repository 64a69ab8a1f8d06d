//! [tokio-rustls](tokio_rustls) glue (feature `tokio`): [`listen`] and [`dial`] (go-spiffe's
//! `spiffetls.Listen` and `Dial`), a [`TlsListener`] that runs handshakes concurrently with a
//! time limit, acceptors and connectors built from this crate's configurations, and the peer's
//! SPIFFE ID of an established stream ([`PeerSpiffeId`]).
//!
//! ```no_run
//! # use std::sync::Arc;
//! # async fn demo(
//! #     provider: Arc<rustls::crypto::CryptoProvider>,
//! #     svid: Arc<spiffe_core::X509Svid>,
//! #     bundles: Arc<spiffe_core::BundleSet>,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! use spiffe_tls::tokio::{dial, listen, PeerSpiffeId};
//! use spiffe_tls::{mtls_client_config, mtls_server_config, Authorizer};
//!
//! // Server: members of example.org only.
//! let config = mtls_server_config(
//!     provider.clone(), svid.clone(), bundles.clone(),
//!     Authorizer::member_of("example.org".parse()?),
//! )?;
//! let mut listener = listen("127.0.0.1:0", config).await?;
//! let addr = listener.local_addr().ok_or("no local address")?;
//! tokio::spawn(async move {
//!     while let Ok((stream, peer)) = listener.accept().await {
//!         println!("{peer} is {:?}", stream.peer_spiffe_id());
//!     }
//! });
//!
//! // Client: talks only to spiffe://example.org/api.
//! let config = mtls_client_config(
//!     provider, svid, bundles,
//!     Authorizer::exact("spiffe://example.org/api".parse()?),
//! )?;
//! let stream = dial(addr, config).await?;
//! println!("connected to {:?}", stream.peer_spiffe_id());
//! # Ok(()) }
//! ```

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use spiffe_core::{SpiffeId, X509BundleSource, X509SvidSource};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::{
    mtls_client_config, mtls_server_config, peer_spiffe_id, tls_client_config, tls_server_config,
    Authorizer,
};

mod dial;
mod listener;

pub use dial::dial;
pub use listener::{listen, TlsListener, DEFAULT_HANDSHAKE_TIMEOUT};

/// A connector for an mTLS client: see [`mtls_client_config`].
pub fn mtls_connector(
    provider: Arc<CryptoProvider>,
    svids: impl X509SvidSource + Send + Sync + 'static,
    bundles: impl X509BundleSource + Send + Sync + 'static,
    authorizer: Authorizer,
) -> Result<TlsConnector, rustls::Error> {
    let config = mtls_client_config(provider, svids, bundles, authorizer)?;
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A connector for a TLS client without an SVID of its own: see [`tls_client_config`].
pub fn tls_connector(
    provider: Arc<CryptoProvider>,
    bundles: impl X509BundleSource + Send + Sync + 'static,
    authorizer: Authorizer,
) -> Result<TlsConnector, rustls::Error> {
    let config = tls_client_config(provider, bundles, authorizer)?;
    Ok(TlsConnector::from(Arc::new(config)))
}

/// An acceptor for an mTLS server: see [`mtls_server_config`].
pub fn mtls_acceptor(
    provider: Arc<CryptoProvider>,
    svids: impl X509SvidSource + Send + Sync + 'static,
    bundles: impl X509BundleSource + Send + Sync + 'static,
    authorizer: Authorizer,
) -> Result<TlsAcceptor, rustls::Error> {
    let config = mtls_server_config(provider, svids, bundles, authorizer)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// An acceptor for a TLS server presenting an SVID to unauthenticated clients: see
/// [`tls_server_config`].
pub fn tls_acceptor(
    provider: Arc<CryptoProvider>,
    svids: impl X509SvidSource + Send + Sync + 'static,
) -> Result<TlsAcceptor, rustls::Error> {
    let config = tls_server_config(provider, svids)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The peer's SPIFFE ID of an established tokio-rustls stream.
pub trait PeerSpiffeId {
    /// The SPIFFE ID in the peer's leaf certificate, as [`peer_spiffe_id`] gives it: with this
    /// crate's verifiers, the authenticated and authorized peer identity. `None` when the peer
    /// presented no certificate or its leaf carries no single SPIFFE ID.
    fn peer_spiffe_id(&self) -> Option<SpiffeId>;
}

// === impl PeerSpiffeId ===

impl<IO> PeerSpiffeId for tokio_rustls::client::TlsStream<IO> {
    fn peer_spiffe_id(&self) -> Option<SpiffeId> {
        peer_spiffe_id(self.get_ref().1)
    }
}

impl<IO> PeerSpiffeId for tokio_rustls::server::TlsStream<IO> {
    fn peer_spiffe_id(&self) -> Option<SpiffeId> {
        peer_spiffe_id(self.get_ref().1)
    }
}

impl<IO> PeerSpiffeId for tokio_rustls::TlsStream<IO> {
    fn peer_spiffe_id(&self) -> Option<SpiffeId> {
        match self {
            tokio_rustls::TlsStream::Client(stream) => stream.peer_spiffe_id(),
            tokio_rustls::TlsStream::Server(stream) => stream.peer_spiffe_id(),
        }
    }
}
