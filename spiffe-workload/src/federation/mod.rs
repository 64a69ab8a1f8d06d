//! SPIFFE federation: the bundle endpoint server and client (SPIFFE_Federation.md).
//!
//! A trust domain publishes its bundle document (`spiffe_sequence`, `spiffe_refresh_hint`, the
//! keys) at an HTTPS URL; another trust domain's control plane polls it and keeps the latest
//! bundle it fetched, bound to the trust-domain name it was configured with (FED-7, FED-28).
//!
//! ```text
//!  federating party                                   bundle endpoint (td "b")
//!  ─────────────────                                  ───────────────────────
//!  BundleEndpointClient::fetch ── TLS (profile) ──▶   BundleEndpointServer
//!      https_web:    Web PKI chain + host name        serving cert from files
//!      https_spiffe: X.509-SVID of endpoint_spiffe_id the server's rotating X.509-SVID
//!                    against td "b"'s current bundle
//!                  ◀── 200 application/json ─────     BundleDocumentSource::bundle_document
//!  parse (size cap, strict JSON, trust domain, keys)
//! ```
//!
//! - [`BundleEndpointServer`] serves the document of a [`BundleDocumentSource`] the embedder
//!   updates, with a certificate from a [`ServingCert`] (static, or rotating from an
//!   [`X509SvidSource`](spiffe_core::X509SvidSource)).
//! - [`BundleEndpointClient`] fetches one relationship's bundle with either profile; the
//!   `https_spiffe` profile verifies the endpoint's X.509-SVID with `spiffe-core` directly, so
//!   this crate does not depend on `spiffe-tls` (ARCHITECTURE.md: no sideways dependency).
//! - [`parse_bundle_document`] is the client's checks on an untrusted document, usable alone.
//! - [`next_refresh`] says when to poll again.
//!
//! Redirects are not followed: a 3xx answer is an error naming the status (FED-18/20 allow a
//! client not to follow; it then fails closed).

mod cert;
mod client;
mod document;
mod error;
mod server;
mod url;
mod verifier;

use std::time::Duration;

pub use cert::ServingCert;
pub use client::{BundleEndpointClient, ClientProfile, FetchedBundle};
pub use document::{parse_bundle_document, MAX_DOCUMENT_SIZE};
pub use error::FederationError;
pub use server::{BundleDocumentSource, BundleEndpointServer};
pub use url::EndpointUrl;

/// The smallest refresh hint a client honours: a peer's shorter hint is raised to it, so a
/// peer cannot make us poll it in a tight loop.
pub const MIN_REFRESH_HINT: Duration = Duration::from_secs(60);
/// The longest refresh hint a client honours: a peer's longer hint is lowered to it, so a
/// rotation at the peer is never missed for days.
pub const MAX_REFRESH_HINT: Duration = Duration::from_secs(24 * 3600);
/// Polls per refresh hint: a bundle is fetched several times within one hint, so a failed poll
/// is retried well before keys published one hint ahead are used (FED-2, FED-30).
pub const POLLS_PER_HINT: u32 = 4;

/// When to poll again after a fetch: the bundle's refresh hint (FED-4; about 5 minutes when it
/// has none), bounded to [`MIN_REFRESH_HINT`]..=[`MAX_REFRESH_HINT`] (or `min_hint` when the
/// embedder lowers the floor, e.g. in tests), divided by [`POLLS_PER_HINT`].
pub fn next_refresh(hint: Option<Duration>, min_hint: Duration) -> Duration {
    // FED-4: without a hint, a low default.
    let hint = hint.unwrap_or(spiffe_core::bundle::DEFAULT_REFRESH_HINT);
    hint.clamp(min_hint.min(MAX_REFRESH_HINT), MAX_REFRESH_HINT) / POLLS_PER_HINT
}

/// The crypto provider used when the embedder passes none: aws-lc-rs with rustls' defaults.
/// It is returned as a value, never installed process-wide.
pub fn default_crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_is_a_quarter_of_the_bounded_hint() {
        let s = Duration::from_secs;
        assert_eq!(next_refresh(Some(s(400)), MIN_REFRESH_HINT), s(100));
        assert_eq!(next_refresh(Some(s(1)), MIN_REFRESH_HINT), s(15));
        assert_eq!(next_refresh(None, MIN_REFRESH_HINT), s(75));
        assert_eq!(
            next_refresh(Some(s(10 * 86400)), MIN_REFRESH_HINT),
            s(6 * 3600)
        );
        assert_eq!(next_refresh(Some(s(4)), s(4)), s(1));
    }
}
