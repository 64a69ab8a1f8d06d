//! # spiffe-tls
//!
//! rustls mutual TLS keyed on SPIFFE IDs: certificate verifiers built on `spiffe-core`'s
//! X.509-SVID verifier (roots chosen by the peer's trust domain, never DNS-name checks),
//! [`Authorizer`]s deciding on the verified SPIFFE ID, and certificate resolvers that present
//! the newest SVID of a source, so rotation needs no restart.
//!
//! The crypto provider is always passed in; this crate never installs a process default.
//!
//! Feature `tokio` (off by default) adds module `tokio`: tokio-rustls acceptor and
//! connector helpers. Feature `hyper` (off by default, implies `tokio`) adds module `hyper`:
//! a hyper-util connector and a stream of accepted mTLS connections, both usable by tonic
//! (this crate does not depend on tonic; the module documentation shows the glue).
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn demo(
//! #     provider: Arc<rustls::crypto::CryptoProvider>,
//! #     svid: Arc<spiffe_core::X509Svid>,
//! #     bundles: spiffe_core::BundleSet,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! use spiffe_tls::{mtls_client_config, Authorizer};
//! let server_id = "spiffe://example.org/api".parse()?;
//! let config = mtls_client_config(provider, svid, bundles, Authorizer::exact(server_id))?;
//! # let _ = config; Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod authorizer;
mod builder;
mod config;
mod error;
#[cfg(feature = "hyper")]
pub mod hyper;
mod peer_id;
mod resolver;
#[cfg(feature = "tokio")]
pub mod tokio;
mod verifier;

pub use authorizer::Authorizer;
pub use builder::{
    ClientConfigBuilder, ServerConfigBuilder, WantsClientCert, WantsClientVerifier,
    WantsServerCert, WantsServerVerifier,
};
pub use config::{mtls_client_config, mtls_server_config, tls_client_config, tls_server_config};
pub use error::PeerRejected;
pub use peer_id::peer_spiffe_id;
pub use resolver::SvidCertResolver;
pub use verifier::{SpiffeClientCertVerifier, SpiffeServerCertVerifier};
