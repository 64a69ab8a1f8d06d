use thiserror::Error;

use crate::{IdError, TrustDomain};

use super::X509Error;

/// Why an X.509-SVID chain did not verify. Indexes count from the leaf (0) through the
/// presented intermediates; `anchor` errors concern a bundle authority.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum X509VerifyError {
    /// No certificates were presented.
    #[error("empty certificate chain")]
    EmptyChain,
    /// A presented certificate does not parse.
    #[error("certificate {index} is malformed")]
    Malformed {
        /// Index in the presented chain.
        index: usize,
        /// What is wrong with it.
        #[source]
        source: X509Error,
    },
    /// The leaf has no URI SAN (X509-1).
    #[error("leaf has no URI SAN (X509-1)")]
    MissingUriSan,
    /// The leaf has more than one URI SAN (X509-2/25).
    #[error("leaf has {count} URI SANs, exactly one is allowed (X509-25)")]
    MultipleUriSans {
        /// How many URI SANs the leaf has.
        count: u32,
    },
    /// The leaf's URI SAN is not a valid SPIFFE ID (X509-23).
    #[error("leaf URI SAN is not a valid SPIFFE ID (X509-23)")]
    InvalidSpiffeId(#[source] IdError),
    /// The leaf's URI SAN is not ASCII (X509-23).
    #[error("leaf URI SAN is not ASCII text (X509-23)")]
    InvalidUriSan,
    /// The leaf's SPIFFE ID has no path (X509-24).
    #[error("leaf SPIFFE ID has no path (X509-24)")]
    LeafIdWithoutPath,
    /// The leaf has cA=TRUE (X509-21).
    #[error("leaf certificate is a CA (X509-21)")]
    LeafIsCa,
    /// The leaf's keyUsage has keyCertSign or cRLSign (X509-22).
    #[error("leaf keyUsage has keyCertSign or cRLSign (X509-22)")]
    LeafCanSign,
    /// The leaf has no keyUsage extension, so no `digitalSignature` (X509-15, X509-17).
    /// Accepted with
    /// [`X509VerifyOptions::accept_leaves_without_digital_signature`](super::X509VerifyOptions::accept_leaves_without_digital_signature).
    #[error("leaf has no keyUsage extension, so no digitalSignature (X509-15, X509-17)")]
    LeafMissingKeyUsage,
    /// The leaf's keyUsage lacks `digitalSignature` (X509-17). Accepted with
    /// [`X509VerifyOptions::accept_leaves_without_digital_signature`](super::X509VerifyOptions::accept_leaves_without_digital_signature).
    #[error("leaf keyUsage lacks digitalSignature (X509-17)")]
    LeafMissingDigitalSignature,
    /// No bundle for the leaf's trust domain (WAPI-11).
    #[error("no X.509 bundle for trust domain {trust_domain} (WAPI-11)")]
    NoBundle {
        /// The leaf's trust domain.
        trust_domain: TrustDomain,
    },
    /// A certificate in the path is outside its validity period (X509-20).
    #[error("certificate {index} is expired or not yet valid (X509-20)")]
    Expired {
        /// Index in the presented chain.
        index: usize,
    },
    /// The bundle authority that would anchor the path is outside its validity period
    /// (X509-20).
    #[error("issuing authority of certificate {index} is expired or not yet valid (X509-20)")]
    AnchorExpired {
        /// Index of the certificate the authority issued.
        index: usize,
    },
    /// An issuer in the path is not a CA (X509-12/20).
    #[error("issuer of certificate {index} is not a CA (X509-12)")]
    IssuerNotCa {
        /// Index of the certificate it issued.
        index: usize,
    },
    /// An issuer's keyUsage lacks keyCertSign (X509-16/20).
    #[error("issuer of certificate {index} lacks keyCertSign (X509-16)")]
    IssuerMissingKeyCertSign {
        /// Index of the certificate it issued.
        index: usize,
    },
    /// An issuer's pathLenConstraint is exceeded (X509-12/20).
    #[error("pathLenConstraint of the issuer of certificate {index} exceeded (X509-12)")]
    PathLenExceeded {
        /// Index of the certificate it issued.
        index: usize,
    },
    /// A signature does not verify (X509-20).
    #[error("signature of certificate {index} does not verify (X509-20)")]
    BadSignature {
        /// Index of the signed certificate.
        index: usize,
    },
    /// A signature algorithm (or its combination with the issuer's key) is unsupported.
    #[error("unsupported signature algorithm on certificate {index}")]
    UnsupportedSignatureAlgorithm {
        /// Index of the signed certificate.
        index: usize,
    },
    /// A name lies outside an issuer's name constraints (X509-14).
    #[error("certificate {index} violates its issuer's name constraints (X509-14)")]
    NameConstraintViolation {
        /// Index of the constrained certificate.
        index: usize,
    },
    /// An issuer carries a name-constraint form that is not evaluated; fail closed (X509-14).
    #[error("unsupported name constraint above certificate {index} (X509-14)")]
    UnsupportedNameConstraint {
        /// Index of the constrained certificate.
        index: usize,
    },
    /// No issuer found for a certificate, in the presented intermediates or the bundle
    /// (X509-20).
    #[error("no issuer found for certificate {index} in the bundle of the leaf's trust domain (X509-20)")]
    UnknownIssuer {
        /// Index of the certificate whose issuer is missing.
        index: usize,
    },
    /// Path building gave up: too deep or too many signature checks.
    #[error("path building budget exhausted")]
    BudgetExhausted,
}
