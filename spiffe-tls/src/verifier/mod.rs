//! rustls certificate verifiers keyed on SPIFFE IDs: the X.509-SVID checks of `spiffe-core`
//! against the bundle of the peer's trust domain, then an [`Authorizer`](crate::Authorizer).

mod cache;
mod client;
mod peer;
mod registry;
mod server;

pub use client::SpiffeClientCertVerifier;
pub use server::SpiffeServerCertVerifier;

pub(crate) use registry::was_verified;
