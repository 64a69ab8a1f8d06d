#![doc = include_str!("../README.md")]
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

/// The Rust examples of the repository's `docs/tls.md`, compiled as doctests (only when
/// testing in the repository: the file is not part of the package).
#[cfg(doctest)]
#[doc = include_str!("../../docs/tls.md")]
pub struct TlsGuideDoctests;
