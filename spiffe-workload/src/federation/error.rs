//! Why a bundle could not be fetched or served. Messages name what is wrong and never echo the
//! document or key material.

use std::time::Duration;

use spiffe_core::{SpiffeId, TrustDomain};
use thiserror::Error;

/// Why a federation operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FederationError {
    /// The endpoint URL is not an `https` URL without userinfo (FED-13).
    #[error("invalid bundle endpoint URL: {reason}")]
    Url {
        /// What is wrong.
        reason: &'static str,
    },
    /// The endpoint could not be reached (DNS, connection refused, reset).
    #[error("unable to reach the bundle endpoint {authority}")]
    Connect {
        /// `host:port`.
        authority: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed: for `https_spiffe`, also a wrong endpoint SPIFFE ID or an
    /// SVID the trust domain's bundle does not verify.
    #[error("TLS handshake with the bundle endpoint failed: {0}")]
    Tls(#[source] std::io::Error),
    /// The HTTP exchange failed (the HTTP library's error is the source).
    #[error("HTTP exchange with the bundle endpoint failed")]
    Http(#[source] spiffe_core::BoxError),
    /// The endpoint answered with a status other than 200 (redirects are not followed).
    #[error("the bundle endpoint answered HTTP {status}")]
    Status {
        /// The status code.
        status: u16,
    },
    /// No answer within the time allowed.
    #[error("the bundle endpoint did not answer within {0:?}")]
    Timeout(Duration),
    /// The document is larger than the cap.
    #[error("the bundle document is larger than {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: usize,
    },
    /// The document is not a valid SPIFFE bundle (BUNDLE-3..17).
    #[error("the bundle document is invalid: {0}")]
    Document(#[source] spiffe_core::bundle::BundleError),
    /// The document holds no key at all: trusting it would distrust every SVID of the trust
    /// domain, which is never what a publisher means.
    #[error("the bundle document for \"{0}\" holds no keys")]
    Empty(TrustDomain),
    /// An X.509 authority of the document names another trust domain (FED-7: a bundle stays
    /// bound to the trust domain it was fetched for).
    #[error("the bundle fetched for \"{expected}\" holds an authority of \"{found}\"")]
    WrongTrustDomain {
        /// The trust domain the relationship is for.
        expected: TrustDomain,
        /// The one an authority names.
        found: TrustDomain,
    },
    /// `https_spiffe`: the new bundle no longer holds the authority that verified the endpoint
    /// of this very fetch; storing it would lock us out of the next fetch (FED-26).
    #[error(
        "the bundle fetched for \"{0}\" drops the authority that verified its own endpoint; \
         keeping the current bundle"
    )]
    DropsEndpointAuthority(TrustDomain),
    /// `https_spiffe`: no bundle is known for the endpoint's trust domain yet (FED-21/22: an
    /// operator must bootstrap it, e.g. with `bundle set`).
    #[error("no bundle for trust domain \"{}\" to verify endpoint {endpoint}; bootstrap it first", endpoint.trust_domain())]
    NoEndpointBundle {
        /// The configured endpoint SPIFFE ID.
        endpoint: SpiffeId,
    },
    /// The serving certificate or key could not be read or used.
    #[error("unable to use the serving certificate: {reason}")]
    ServingCert {
        /// Why.
        reason: String,
    },
    /// The listener could not be bound or accept.
    #[error("unable to bind the bundle endpoint")]
    Bind(#[source] std::io::Error),
}

impl FederationError {
    /// A short, fixed name of the failure, for metric labels and log fields.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Url { .. } => "url",
            Self::Connect { .. } => "unreachable",
            Self::Tls(_) => "tls",
            Self::Http(_) => "http",
            Self::Status { .. } => "status",
            Self::Timeout(_) => "timeout",
            Self::TooLarge { .. } => "too_large",
            Self::Document(_) => "malformed",
            Self::Empty(_) => "empty",
            Self::WrongTrustDomain { .. } => "wrong_trust_domain",
            Self::DropsEndpointAuthority(_) => "drops_endpoint_authority",
            Self::NoEndpointBundle { .. } => "no_endpoint_bundle",
            Self::ServingCert { .. } => "serving_cert",
            Self::Bind(_) => "bind",
        }
    }
}
