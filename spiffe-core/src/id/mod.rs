//! SPIFFE IDs and trust domains (SPIFFE-ID.md §2, requirements ID-1..ID-17).
//!
//! Parsing is strict: the scheme and the trust domain must be lowercase (ID-5, trap 1 of the
//! conformance notes), nothing outside the standard's character sets is accepted, and every
//! error names the rule that broke.

mod error;
mod spiffe_id;
mod trust_domain;
mod validate;

pub use error::IdError;
pub use spiffe_id::{Segments, SpiffeId};
pub use trust_domain::TrustDomain;

/// The only scheme a SPIFFE ID may have, with its separator (ID-1).
pub(crate) const SCHEME_PREFIX: &str = "spiffe://";
/// Longest SPIFFE ID accepted and generated, in bytes (ID-14, ID-15).
pub const MAX_ID_LEN: usize = 2048;
/// Longest trust-domain name, in bytes (ID-16).
pub const MAX_TRUST_DOMAIN_LEN: usize = 255;
