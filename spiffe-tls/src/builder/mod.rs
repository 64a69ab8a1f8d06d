//! Typestate builders for rustls configurations in every SPIFFE mode: each required setting is
//! supplied once, in order, and a side that authenticates its peer by SPIFFE ID cannot be
//! built without an [`Authorizer`](crate::Authorizer).
//!
//! Session resumption is off in every configuration built here: a resumed session skips the
//! certificate verifier, so a trust domain removed from the bundle source, or an SVID rotated
//! since, would go unnoticed on it. Every handshake is a full one, verified against the newest
//! bundles and presenting the newest SVID. (A caller wanting resumption can re-enable it on the
//! returned config, knowingly.)

mod client;
mod server;

pub use client::{ClientConfigBuilder, WantsClientCert, WantsServerVerifier};
pub use server::{ServerConfigBuilder, WantsClientVerifier, WantsServerCert};

use rustls::SupportedProtocolVersion;

/// TLS 1.3 and TLS 1.2, the default of every builder.
pub(crate) const DEFAULT_VERSIONS: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
