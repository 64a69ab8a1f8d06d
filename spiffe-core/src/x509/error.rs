use thiserror::Error;

use crate::IdError;

/// Why certificate or X.509-SVID material was rejected.
///
/// Never carries the input itself, so it is safe to log.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum X509Error {
    /// The DER of a certificate is malformed (structure, lengths, encodings).
    #[error("malformed certificate DER")]
    MalformedCertificate,
    /// The certificate is not version 3.
    #[error("unsupported certificate version (only v3)")]
    UnsupportedVersion,
    /// A validity time breaks the RFC 5280 §4.1.2.5 formats.
    #[error("malformed validity time")]
    InvalidTime,
    /// The TBS signature algorithm differs from the outer one (RFC 5280 §4.1.1.2).
    #[error("signature algorithm in TBS differs from the outer one")]
    SignatureAlgorithmMismatch,
    /// An extension appears twice (RFC 5280 §4.2).
    #[error("duplicate extension")]
    DuplicateExtension,
    /// A critical extension this implementation does not process (RFC 5280 §4.2).
    #[error("unknown critical extension")]
    UnknownCriticalExtension,
    /// A known extension's value is malformed.
    #[error("malformed {extension} extension")]
    InvalidExtension {
        /// The extension's name, e.g. `keyUsage`.
        extension: &'static str,
    },
    /// Empty subject with a non-critical subjectAltName (X509-6, RFC 5280 §4.1.2.6).
    #[error("empty subject requires a critical subjectAltName (X509-6)")]
    EmptySubjectNonCriticalSan,
    /// No certificate in the input.
    #[error("no certificates")]
    NoCertificates,
    /// PEM input that does not decode.
    #[error("malformed PEM")]
    MalformedPem,
    /// The leaf has no URI SAN (X509-1).
    #[error("leaf has no URI SAN (X509-1)")]
    MissingUriSan,
    /// More than one URI SAN (X509-2/25).
    #[error("{count} URI SANs, exactly one is allowed (X509-2)")]
    MultipleUriSans {
        /// How many URI SANs there are.
        count: u32,
    },
    /// A URI SAN that is not ASCII text.
    #[error("URI SAN is not ASCII")]
    InvalidUriSan,
    /// The URI SAN is not a valid SPIFFE ID (X509-23).
    #[error("URI SAN is not a valid SPIFFE ID (X509-23)")]
    InvalidSpiffeId(#[source] IdError),
    /// The leaf's SPIFFE ID has no path (X509-5).
    #[error("leaf SPIFFE ID has no path (X509-5)")]
    LeafIdWithoutPath,
    /// The leaf has cA=TRUE (X509-13).
    #[error("leaf certificate is a CA (X509-13)")]
    LeafIsCa,
    /// The leaf has no keyUsage extension, or it is not critical (X509-15).
    #[error("leaf keyUsage missing or not critical (X509-15)")]
    LeafKeyUsageNotCritical,
    /// The leaf lacks digitalSignature (X509-17).
    #[error("leaf keyUsage lacks digitalSignature (X509-17)")]
    LeafMissingDigitalSignature,
    /// The leaf has keyCertSign or cRLSign (X509-17).
    #[error("leaf keyUsage has keyCertSign or cRLSign (X509-17)")]
    LeafHasCertSign,
    /// The leaf's extendedKeyUsage lacks serverAuth or clientAuth (X509-18).
    #[error("leaf extendedKeyUsage lacks serverAuth or clientAuth (X509-18)")]
    LeafExtendedKeyUsage,
    /// An intermediate (chain index, leaf = 0) is not a CA or lacks keyCertSign (X509-12/16).
    #[error("certificate {index} of the chain is not a signing CA (X509-12/16)")]
    IntermediateNotCa {
        /// Index in the chain (leaf = 0).
        index: usize,
    },
    /// The private key does not decode, or is not in an accepted format (WAPI-14).
    #[error("malformed or unsupported private key")]
    MalformedPrivateKey,
    /// The private key does not belong to the leaf's public key (WAPI-13).
    #[error("private key does not match the leaf certificate")]
    KeyMismatch,
    /// The DER of a PKCS#10 certificate request is malformed (RFC 2986).
    #[error("malformed certificate request DER")]
    MalformedCsr,
    /// The certificate request's signature algorithm or key type is not supported.
    #[error("unsupported certificate request signature algorithm or key type")]
    UnsupportedCsrAlgorithm,
    /// The certificate request is not signed by the key it carries (no proof of possession).
    #[error("certificate request signature does not verify (no proof of possession)")]
    CsrSignatureInvalid,
    /// A DER `SubjectPublicKeyInfo` is malformed (structure, encodings, or an RSA key that is
    /// not a well-formed `RSAPublicKey`).
    #[error("malformed SubjectPublicKeyInfo")]
    MalformedPublicKey,
}
