use thiserror::Error;

/// Why certificate or SVID material was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum X509Error {
    /// The DER of a certificate is malformed.
    #[error("malformed certificate DER")]
    MalformedCertificate,
}
