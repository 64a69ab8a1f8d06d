use std::fmt;

use thiserror::Error;

use super::JwtAlg;
use crate::pki_types::UnixTime;
use crate::x509::PublicKeyAlgorithm;
use crate::{IdError, TrustDomain};

/// Why a JWK could not be used as a JWT-SVID authority.
///
/// [`JwkError::is_unsupported`] tells the errors a SPIFFE bundle consumer ignores (an unknown
/// key type or curve, BUNDLE-8/12) from those that make the JWK itself invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum JwkError {
    /// The JWK has no `kty` (RFC 7517 §4.1, BUNDLE-12).
    #[error("JWK has no `kty` (BUNDLE-12)")]
    MissingKeyType,
    /// The JWK's `kty` is neither `EC` nor `RSA` (BUNDLE-12: such a JWK is ignored).
    #[error("JWK `kty` is not a supported key type (BUNDLE-12)")]
    UnsupportedKeyType,
    /// The EC JWK's `crv` is not P-256, P-384 or P-521 (JWT-4).
    #[error("EC JWK `crv` is not P-256, P-384 or P-521 (JWT-4)")]
    UnsupportedCurve,
    /// The JWK has no `kid`, or it is empty (JWT-16).
    #[error("JWK has no `kid` (JWT-16)")]
    MissingKid,
    /// A required member is absent.
    #[error("JWK has no `{member}` member")]
    MissingMember {
        /// The member's name.
        member: &'static str,
    },
    /// A member has the wrong JSON type or is not valid unpadded base64url (RFC 7518 §6).
    #[error("JWK member `{member}` is malformed")]
    MalformedMember {
        /// The member's name.
        member: &'static str,
    },
    /// An EC coordinate has the wrong length for the curve (RFC 7518 §6.2.1.2).
    #[error("JWK member `{member}` is {actual} bytes, the curve needs {expected}")]
    CoordinateLength {
        /// `x` or `y`.
        member: &'static str,
        /// Bytes the curve requires.
        expected: usize,
        /// Bytes found.
        actual: usize,
    },
    /// An RSA integer has leading zero octets (RFC 7518 §6.3.1: Base64urlUInt is minimal).
    #[error("JWK member `{member}` has leading zero octets")]
    NonMinimalInteger {
        /// `n` or `e`.
        member: &'static str,
    },
    /// The RSA modulus is outside 2048..=8192 bits.
    #[error("RSA modulus of {bits} bits is outside 2048..=8192")]
    RsaModulusSize {
        /// The modulus size.
        bits: usize,
    },
    /// The JWK carries private key material (`d`, `p`, …): a bundle holds public keys only.
    #[error("JWK contains private key member `{member}`")]
    PrivateKeyMaterial {
        /// The private member found.
        member: &'static str,
    },
    /// The JWK's own `alg` is not on the allowlist or does not fit the key (JWT-4, JWT-13).
    #[error("JWK `alg` is not an allowed algorithm for this key (JWT-4)")]
    AlgorithmMismatch,
    /// The key material is invalid: an EC point not on the curve, an unusable RSA key.
    #[error("JWK key material is invalid (point not on curve or bad RSA key)")]
    InvalidKey,
}

impl JwkError {
    /// Whether the JWK is of a kind this library does not support (unknown `kty` or `crv`),
    /// which a SPIFFE bundle consumer ignores rather than fails on (BUNDLE-8, BUNDLE-12).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Self::UnsupportedKeyType | Self::UnsupportedCurve)
    }
}

/// Why a plain RFC 7517 JWK Set could not become a [`JwtBundle`](super::JwtBundle).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum JwtBundleError {
    /// The document is not a JSON object.
    #[error("JWKS is not a JSON object (RFC 7517 §5)")]
    NotJsonObject,
    /// The document has no `keys` array (RFC 7517 §5.1, BUNDLE-7).
    #[error("JWKS has no `keys` array (BUNDLE-7)")]
    MissingKeys,
    /// An element of `keys` is not a JSON object.
    #[error("JWKS key #{index} is not a JSON object")]
    KeyNotObject {
        /// Position in `keys`.
        index: usize,
    },
    /// An element of `keys` is an invalid JWK.
    #[error("JWKS key #{index} is invalid")]
    Jwk {
        /// Position in `keys`.
        index: usize,
        /// What is wrong with it.
        #[source]
        source: JwkError,
    },
    /// Two keys share a `kid` (JWT-16, vector 110: rejected rather than last-one-wins).
    #[error("JWKS key #{index} repeats the `kid` of an earlier key (JWT-16)")]
    DuplicateKid {
        /// Position in `keys` of the second key.
        index: usize,
    },
}

/// The part of a compact JWS a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenPart {
    /// The protected header (first part).
    Header,
    /// The claims (second part).
    Claims,
    /// The signature (third part).
    Signature,
}

impl fmt::Display for TokenPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Claims => "claims",
            Self::Signature => "signature",
        })
    }
}

/// A JOSE header parameter that JWT-3 excludes from JWT-SVIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderParameter {
    /// `jku` (a URL to fetch keys from).
    Jku,
    /// `jwk` (an embedded key).
    Jwk,
    /// `x5u` (a URL to fetch certificates from).
    X5u,
    /// `x5c` (embedded certificates).
    X5c,
    /// `crit` (critical extensions).
    Crit,
    /// Any other parameter besides `alg`, `kid` and `typ`.
    Other,
}

impl fmt::Display for HeaderParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jku => "`jku`",
            Self::Jwk => "`jwk`",
            Self::X5u => "`x5u`",
            Self::X5c => "`x5c`",
            Self::Crit => "`crit`",
            Self::Other => "a parameter other than `alg`, `kid`, `typ`",
        })
    }
}

/// Why a JWT-SVID was rejected.
///
/// Each `Display` names the requirement id of `SPIFFE-CONFORMANCE.md` that the token broke.
/// No variant carries the token, its signature or its claim values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum JwtSvidError {
    /// The token is longer than this library accepts.
    #[error("token is {len} bytes, more than the {max} accepted (JWT-1)")]
    TooLong {
        /// The token's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The token is a JWS JSON serialization (JWT-1).
    #[error("token uses the JWS JSON serialization; only compact is allowed (JWT-1)")]
    JsonSerialization,
    /// The token has five parts: a JWE (JWT-2).
    #[error("token is a 5-part JWE; only JWS is allowed (JWT-2)")]
    Encrypted,
    /// The token does not have exactly three dot-separated parts (JWT-1).
    #[error("token has {parts} parts instead of 3 (JWT-1)")]
    PartCount {
        /// How many dot-separated parts were found.
        parts: usize,
    },
    /// A part is not unpadded base64url (JWT-1, RFC 7515 §7.1).
    #[error("token {part} is not unpadded base64url (JWT-1)")]
    Base64 {
        /// Which part.
        part: TokenPart,
    },
    /// The header is not a JSON object of string members, or repeats a member (JWT-1).
    #[error("token header is not a valid JOSE header JSON object (JWT-1)")]
    MalformedHeader,
    /// `alg` is missing or not one of RS/ES/PS 256/384/512 (JWT-4, JWT-5).
    #[error("token `alg` is missing or not on the allowlist (JWT-4, JWT-5)")]
    UnsupportedAlgorithm,
    /// `typ` is present but not exactly `JWT` or `JOSE` (JWT-7).
    #[error("token `typ` is not `JWT` or `JOSE` (JWT-7)")]
    InvalidType,
    /// The header has a parameter other than `alg`, `kid` and `typ` (JWT-3).
    #[error("token header contains {parameter} (JWT-3)")]
    HeaderParameterNotAllowed {
        /// The first such parameter.
        parameter: HeaderParameter,
    },
    /// The header has no `kid` (JWT-6: required here, as in go-spiffe and SPIRE).
    #[error("token header has no `kid` (JWT-6)")]
    MissingKid,
    /// The claims are not a JSON object, a registered claim has the wrong type, or a
    /// registered claim is repeated (JWT-1, RFC 7519 §4).
    #[error("token claims are not a valid JSON claims set (JWT-1, RFC 7519 §7.2)")]
    MalformedClaims,
    /// `sub` is missing (JWT-9).
    #[error("token has no `sub` claim (JWT-9)")]
    MissingSubject,
    /// `sub` is not a valid SPIFFE ID (JWT-9).
    #[error("token `sub` is not a valid SPIFFE ID (JWT-9)")]
    InvalidSubject {
        /// Which ID rule it broke.
        #[source]
        source: IdError,
    },
    /// `aud` is missing or has no values (JWT-10).
    #[error("token has no `aud` value (JWT-10)")]
    MissingAudience,
    /// `exp` is missing (JWT-12).
    #[error("token has no `exp` claim (JWT-12)")]
    MissingExpiry,
    /// `exp` or `nbf` is not a NumericDate (a JSON number) (JWT-13, RFC 7519 §2).
    #[error("token `{claim}` is not a NumericDate (JWT-13)")]
    InvalidNumericDate {
        /// `exp` or `nbf`.
        claim: &'static str,
    },
    /// The validator holds no JWT bundle for `sub`'s trust domain (JWT-20).
    #[error("no JWT bundle for trust domain {trust_domain} (JWT-20)")]
    NoBundle {
        /// `sub`'s trust domain.
        trust_domain: TrustDomain,
    },
    /// The `kid` is not in the bundle of `sub`'s trust domain (JWT-17, JWT-20).
    #[error("token `kid` is not in the JWT bundle of {trust_domain} (JWT-17, JWT-20)")]
    UnknownKid {
        /// `sub`'s trust domain.
        trust_domain: TrustDomain,
    },
    /// The key selected by `kid` cannot verify `alg` (JWT-13).
    #[error("token `alg` {alg} does not fit the {key_algorithm} key of its `kid` (JWT-13)")]
    KeyAlgorithmMismatch {
        /// The token's algorithm.
        alg: JwtAlg,
        /// The selected key's algorithm.
        key_algorithm: PublicKeyAlgorithm,
    },
    /// The signature does not verify (JWT-13, RFC 7519 §7.2).
    #[error("token signature is invalid (JWT-13)")]
    InvalidSignature,
    /// The token expired (JWT-13, RFC 7519 §4.1.4).
    #[error("token expired at {} (now {}) (JWT-13)", .expiry.as_secs(), .now.as_secs())]
    Expired {
        /// `exp`.
        expiry: UnixTime,
        /// The validation time.
        now: UnixTime,
    },
    /// The token is not valid yet (JWT-13, RFC 7519 §4.1.5).
    #[error("token not valid before {} (now {}) (JWT-13)", .not_before.as_secs(), .now.as_secs())]
    NotYetValid {
        /// `nbf`.
        not_before: UnixTime,
        /// The validation time.
        now: UnixTime,
    },
    /// None of the expected audiences is in `aud` (JWT-10).
    #[error("token `aud` contains none of the expected audiences (JWT-10)")]
    AudienceMismatch,
    /// The validator was called with no expected audience (JWT-10, JWT-13: audiences must be
    /// configured in advance).
    #[error("no expected audience given to the validator (JWT-10)")]
    NoExpectedAudience,
}

impl JwtSvidError {
    /// The requirement id (`JWT-4`, …) this error enforces, for reports and test tables.
    pub fn requirement(&self) -> &'static str {
        match self {
            Self::TooLong { .. } | Self::JsonSerialization | Self::PartCount { .. } => "JWT-1",
            Self::Base64 { .. } | Self::MalformedHeader | Self::MalformedClaims => "JWT-1",
            Self::Encrypted => "JWT-2",
            Self::HeaderParameterNotAllowed { .. } => "JWT-3",
            Self::UnsupportedAlgorithm => "JWT-4",
            Self::MissingKid => "JWT-6",
            Self::InvalidType => "JWT-7",
            Self::MissingSubject | Self::InvalidSubject { .. } => "JWT-9",
            Self::MissingAudience | Self::AudienceMismatch | Self::NoExpectedAudience => "JWT-10",
            Self::MissingExpiry => "JWT-12",
            Self::InvalidNumericDate { .. } | Self::KeyAlgorithmMismatch { .. } => "JWT-13",
            Self::InvalidSignature | Self::Expired { .. } | Self::NotYetValid { .. } => "JWT-13",
            Self::UnknownKid { .. } => "JWT-17",
            Self::NoBundle { .. } => "JWT-20",
        }
    }
}
