use thiserror::Error;

/// Why a JWK could not be used as a JWT-SVID authority.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum JwkError {
    /// The JWK has no `kid` (JWT-16).
    #[error("JWK has no `kid` (JWT-16)")]
    MissingKid,
}
