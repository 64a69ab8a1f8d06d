use spiffe_core::jwt::JwtSvidError;
use spiffe_core::SpiffeId;

/// Why an [`IdentityProvider`](super::IdentityProvider) could not answer; each maps to the gRPC
/// code the standard names.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The caller has no identity (PERMISSION_DENIED, WAPI-16, WAPI-20, WEP-15).
    #[error("no identity issued to the caller")]
    NoIdentity,
    /// The caller asked for an identity it does not hold (PERMISSION_DENIED, WAPI-20).
    #[error("caller is not entitled to {spiffe_id}")]
    NotEntitled {
        /// The requested identity.
        spiffe_id: SpiffeId,
    },
    /// The provider cannot answer now, e.g. while starting or after a failed attestation
    /// (UNAVAILABLE, WEP-14); clients retry with backoff.
    #[error("identity provider unavailable")]
    Unavailable,
    /// A JWT-SVID given to `ValidateJWTSVID` failed validation (INVALID_ARGUMENT, as SPIRE).
    #[error("JWT-SVID failed validation")]
    InvalidJwtSvid(#[source] JwtSvidError),
    /// Minting or another internal step failed (INTERNAL).
    #[error("identity provider failed")]
    Internal(#[source] spiffe_core::BoxError),
}
