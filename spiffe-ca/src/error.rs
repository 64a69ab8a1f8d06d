//! Why an authority could not be built or could not mint.

use std::path::PathBuf;

use rustls_pki_types::UnixTime;
use spiffe_core::jwt::JwtAlg;
use spiffe_core::x509::X509Error;
use spiffe_core::TrustDomain;
use thiserror::Error;

use crate::keys::{KeyError, KeyType};

/// Why an authority could not be built, or could not mint an SVID.
///
/// Never carries key material or whole inputs, so it is safe to log.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CaError {
    /// The CSR is not a well-formed PKCS#10 request, or its algorithm is not supported.
    #[error("malformed certificate request")]
    MalformedCsr(#[source] X509Error),
    /// The CSR's signature does not verify with the key it carries (no proof of possession).
    #[error("certificate request signature does not verify (no proof of possession)")]
    CsrSignatureInvalid,
    /// The public key is not a DER `SubjectPublicKeyInfo`.
    #[error("malformed public key (not a SubjectPublicKeyInfo)")]
    MalformedPublicKey,
    /// The public key's type is not one this authority issues for (`None`: a type or size
    /// outside EC P-256, EC P-384, RSA-2048 and RSA-4096).
    #[error("key type {key_type:?} is not allowed by this authority")]
    KeyTypeNotAllowed {
        /// The key type, when it is one of [`KeyType`].
        key_type: Option<KeyType>,
    },
    /// A TTL of zero was asked for.
    #[error("TTL must be greater than zero")]
    ZeroTtl,
    /// The SPIFFE ID belongs to another trust domain than the authority's.
    #[error("SPIFFE ID is in trust domain {trust_domain}, not the authority's {expected}")]
    ForeignTrustDomain {
        /// The ID's trust domain.
        trust_domain: TrustDomain,
        /// The authority's trust domain.
        expected: TrustDomain,
    },
    /// The SPIFFE ID has no path, which an SVID's ID must have (X509-5).
    #[error("SPIFFE ID has no path; an SVID's ID must have one (X509-5)")]
    IdWithoutPath,
    /// The authority has expired (`now` is at or after its notAfter).
    #[error("authority expired at {not_after:?} (now {now:?})")]
    AuthorityExpired {
        /// The authority's end of validity.
        not_after: UnixTime,
        /// The time of the request.
        now: UnixTime,
    },
    /// The authority is not valid yet (`now` is before its notBefore).
    #[error("authority not valid before {not_before:?} (now {now:?})")]
    AuthorityNotYetValid {
        /// The authority's start of validity.
        not_before: UnixTime,
        /// The time of the request.
        now: UnixTime,
    },
    /// notBefore is not before notAfter.
    #[error("validity period is empty (notBefore must be before notAfter)")]
    EmptyValidity,
    /// A DNS name is not a valid hostname (index in the request's list).
    #[error("DNS name {index} is not a valid hostname")]
    InvalidDnsName {
        /// Position of the name in the request.
        index: usize,
    },
    /// A subject attribute is empty or too long, or a country is not two letters.
    #[error("subject attribute {attribute} is empty, too long or malformed")]
    InvalidSubject {
        /// The attribute, e.g. `CN`.
        attribute: &'static str,
    },
    /// The signer failed to sign.
    #[error("signing failed")]
    Signer(#[source] KeyError),
    /// The system random number generator failed (serial numbers, key ids).
    #[error("the system random number generator failed")]
    Random,
    /// The signer's public key is not the certificate's.
    #[error("the signer's public key does not match the CA certificate")]
    SignerMismatch,
    /// A certificate (given, loaded or just produced) was rejected by the parser.
    #[error("certificate rejected")]
    Certificate(#[source] X509Error),
    /// A CA certificate is not a CA for this trust domain (cA, keyCertSign, URI SAN).
    #[error("certificate is not a signing CA for the trust domain (X509-7/9)")]
    NotACa,
    /// An upstream chain does not end at a self-signed root.
    #[error("upstream chain does not end at a self-signed root")]
    UpstreamChainIncomplete,
    /// An upstream authority that signs remotely (another server) failed or refused; the
    /// source says why (it never carries key material).
    #[error("upstream authority failed")]
    UpstreamUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// No usable private key: not PKCS#8, SEC1 or PKCS#1, or not the certificate's key type.
    #[error("no usable private key (PKCS#8, SEC1 or PKCS#1 of the certificate's key type)")]
    MalformedKey,
    /// Reading a file failed.
    #[error("reading {path} failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JWT-SVID request named no audience (JWT-10).
    #[error("a JWT-SVID needs at least one audience (JWT-10)")]
    NoAudience,
    /// An extra claim would replace a registered one the authority sets.
    #[error("extra claim {claim} would override a registered claim")]
    ReservedClaim {
        /// The claim name.
        claim: &'static str,
    },
    /// The JWS algorithm does not fit the signing key.
    #[error("algorithm {alg:?} cannot be used with a {key_type:?} key")]
    AlgorithmMismatch {
        /// The algorithm asked for.
        alg: JwtAlg,
        /// The key's type.
        key_type: KeyType,
    },
}
