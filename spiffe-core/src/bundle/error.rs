use thiserror::Error;

use crate::jwt::JwtBundleError;
use crate::x509::X509Error;
use crate::{IdError, TrustDomain};

/// Why a SPIFFE bundle, a Bundle Map or a PEM bundle was rejected as a whole.
///
/// Inputs are never echoed: positions are JSON line/column, indexes into `keys`, or validated
/// trust-domain names.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The input is not well-formed JSON.
    #[error("malformed JSON at line {line}, column {column}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// An object has the same member name twice (RFC 8259 §4; BUNDLE-15 for Bundle Maps).
    #[error("duplicate JSON member name{}", in_key.map(|i| format!(" in keys[{i}]")).unwrap_or_default())]
    DuplicateMember {
        /// Index into `keys` when the duplicate is inside a JWK.
        in_key: Option<usize>,
    },
    /// The document is not a JSON object (BUNDLE-3).
    #[error("a SPIFFE bundle must be a JSON object (BUNDLE-3)")]
    NotAnObject,
    /// `keys` is missing (BUNDLE-7).
    #[error("`keys` is missing (BUNDLE-7)")]
    MissingKeys,
    /// `keys` is not an array (BUNDLE-7).
    #[error("`keys` is not an array (BUNDLE-7)")]
    KeysNotAnArray,
    /// An element of `keys` is not a JSON object, so not a JWK (RFC 7517 §5).
    #[error("keys[{index}] is not a JSON object")]
    KeyNotAnObject {
        /// Index into `keys`.
        index: usize,
    },
    /// An X.509 authority's public key has no JWK key type, so a bundle document could not
    /// carry it: readers ignore an entry without `kty` (BUNDLE-12), and the authority would
    /// vanish on the next read.
    #[error("X.509 authority {index} has a public key no JWK `kty` describes (BUNDLE-12)")]
    UnrepresentableAuthorityKey {
        /// Index into the bundle's X.509 authorities.
        index: usize,
    },
    /// `spiffe_sequence` is not an integer in `0..=u64::MAX` (BUNDLE-5).
    #[error("`spiffe_sequence` must be a non-negative integer (BUNDLE-5)")]
    InvalidSequence,
    /// `spiffe_refresh_hint` is not an integer in `0..=u64::MAX` (BUNDLE-6).
    #[error("`spiffe_refresh_hint` must be a non-negative integer of seconds (BUNDLE-6)")]
    InvalidRefreshHint,
    /// Two `jwt-svid` JWKs share a `kid` (JWT-16), so a token's key would be ambiguous.
    #[error("keys[{index}] repeats the `kid` of keys[{first_index}] (JWT-16)")]
    DuplicateKid {
        /// Index of the later JWK.
        index: usize,
        /// Index of the first JWK with that `kid`.
        first_index: usize,
    },
    /// X.509 and JWT authorities given for different trust domains (BUNDLE-1).
    #[error("authorities of {found} given for a bundle of {expected} (BUNDLE-1)")]
    TrustDomainMismatch {
        /// The bundle's trust domain.
        expected: TrustDomain,
        /// The trust domain of the other part.
        found: TrustDomain,
    },
    /// A Bundle Map without `trust_domains` (BUNDLE-14).
    #[error("Bundle Map has no `trust_domains` member (BUNDLE-14)")]
    MissingTrustDomains,
    /// `trust_domains` is not a JSON object (BUNDLE-14).
    #[error("`trust_domains` is not a JSON object (BUNDLE-14)")]
    TrustDomainsNotAnObject,
    /// A Bundle Map key is a SPIFFE ID or otherwise not a bare trust-domain name (BUNDLE-14).
    #[error("a trust_domains key is a SPIFFE ID, not a bare trust-domain name (BUNDLE-14)")]
    MapKeyNotBareName,
    /// A Bundle Map key is not a valid trust-domain name (BUNDLE-14).
    #[error("a trust_domains key is not a valid trust-domain name (BUNDLE-14)")]
    MapKeyInvalid(#[source] IdError),
    /// A Bundle Map names the same trust domain twice (BUNDLE-15).
    #[error("Bundle Map has trust domain {trust_domain} twice (BUNDLE-15)")]
    DuplicateTrustDomain {
        /// The repeated trust domain.
        trust_domain: TrustDomain,
    },
    /// The bundle of one trust domain in a Bundle Map is invalid.
    #[error("bundle of {trust_domain} in the Bundle Map is invalid")]
    MapEntry {
        /// Whose bundle.
        trust_domain: TrustDomain,
        /// Why it is invalid.
        #[source]
        source: Box<BundleError>,
    },
    /// A single bundle's trust domain is unknown: none was given and its X.509 authorities
    /// name none (a bundle does not name its own, BUNDLE-1).
    #[error("the bundle's trust domain is unknown: give one (BUNDLE-1)")]
    UnknownTrustDomain,
    /// A Bundle Map (several trust domains) where one trust domain's bundle was expected.
    #[error("input is a Bundle Map, not one trust domain's bundle (BUNDLE-14)")]
    UnexpectedBundleMap,
    /// A PEM section could not be decoded.
    #[error("malformed PEM")]
    MalformedPem,
    /// PEM input carries a private key: a trust bundle holds public material only.
    #[error("PEM input contains a private key; a trust bundle holds certificates only")]
    PemPrivateKey,
    /// PEM or DER input holds no certificate.
    #[error("no certificate found")]
    NoCertificates,
    /// A certificate could not be parsed.
    #[error("invalid certificate")]
    Certificate(#[source] X509Error),
    /// A plain JWK Set could not be read as a JWT bundle.
    #[error("invalid JWK Set")]
    Jwks(#[source] JwtBundleError),
}

impl From<JwtBundleError> for BundleError {
    fn from(error: JwtBundleError) -> Self {
        Self::Jwks(error)
    }
}

impl BundleError {
    /// [`BundleError::Json`] at the place serde_json stopped.
    pub(crate) fn json(error: serde_json::Error) -> Self {
        Self::Json {
            line: error.line(),
            column: error.column(),
        }
    }
}
