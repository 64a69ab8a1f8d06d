//! Signature and public-key algorithms (RFC 5280 `AlgorithmIdentifier`), recognised by their
//! exact DER encodings as rustls-webpki does, and their mapping to aws-lc-rs.

use std::fmt;

use aws_lc_rs::signature::{self, VerificationAlgorithm};

use crate::der::{tag, Reader};

/// A certificate's signature algorithm (RFC 5280 §4.1.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// `ecdsa-with-SHA256`.
    EcdsaSha256,
    /// `ecdsa-with-SHA384`.
    EcdsaSha384,
    /// `ecdsa-with-SHA512`.
    EcdsaSha512,
    /// `sha256WithRSAEncryption` (PKCS#1 v1.5).
    RsaPkcs1Sha256,
    /// `sha384WithRSAEncryption` (PKCS#1 v1.5).
    RsaPkcs1Sha384,
    /// `sha512WithRSAEncryption` (PKCS#1 v1.5).
    RsaPkcs1Sha512,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt.
    RsaPssSha384,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512 and a 64-byte salt.
    RsaPssSha512,
    /// Ed25519 (RFC 8410).
    Ed25519,
    /// Anything else; certificates signed this way never verify.
    Other,
}

/// The algorithm of a public key: a certificate's or CSR's subject public key, or the key of a
/// JWT authority (a JWK; only the EC curves and RSA occur there).
///
/// Displays as `EC P-256`, `EC P-384`, `EC P-521`, `RSA-2048` (any size), `Ed25519` or `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PublicKeyAlgorithm {
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
    /// ECDSA on NIST P-521.
    EcP521,
    /// RSA with a modulus of `bits` bits.
    Rsa {
        /// Modulus size in bits.
        bits: u32,
    },
    /// Ed25519.
    Ed25519,
    /// Anything else (another curve or key type).
    Other,
}

/// The key type only, without RSA size, stored on a parsed certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    EcP256,
    EcP384,
    EcP521,
    Rsa,
    Ed25519,
    Other,
}

// Contents (inside the SEQUENCE) of the AlgorithmIdentifiers we recognise.
const ECDSA_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const ECDSA_SHA384: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const ECDSA_SHA512: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
const RSA_PREFIX: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

const PSS_SHA256_PARAMS: &[u8] = &pss_params(0x01, 0x20);
const PSS_SHA384_PARAMS: &[u8] = &pss_params(0x02, 0x30);
const PSS_SHA512_PARAMS: &[u8] = &pss_params(0x03, 0x40);

/// `RSASSA-PSS-params` for SHA-2 hash `h` (last OID arc) with MGF1 of the same hash, salt
/// length `salt` and the default trailer field.
const fn pss_params(h: u8, salt: u8) -> [u8; 54] {
    [
        0x30, 0x34, // SEQUENCE
        0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, h,
        0x05, 0x00, // [0] hashAlgorithm
        0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08,
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, h, 0x05,
        0x00, // [1] maskGenAlgorithm
        0xa2, 0x03, 0x02, 0x01, salt, // [2] saltLength
    ]
}

// === impl SignatureAlgorithm ===

impl SignatureAlgorithm {
    /// Recognises the contents of a signature `AlgorithmIdentifier` SEQUENCE.
    pub(crate) fn from_der(contents: &[u8]) -> Self {
        match contents {
            ECDSA_SHA256 => return Self::EcdsaSha256,
            ECDSA_SHA384 => return Self::EcdsaSha384,
            ECDSA_SHA512 => return Self::EcdsaSha512,
            ED25519 => return Self::Ed25519,
            _ => {}
        }
        let Some(rest) = contents.strip_prefix(RSA_PREFIX) else {
            return Self::Other;
        };
        // PKCS#1 v1.5: the NULL parameters are required by RFC 4055 but often omitted.
        let pkcs1 = |arc: u8| rest == [arc, 0x05, 0x00] || rest == [arc];
        if pkcs1(0x0b) {
            Self::RsaPkcs1Sha256
        } else if pkcs1(0x0c) {
            Self::RsaPkcs1Sha384
        } else if pkcs1(0x0d) {
            Self::RsaPkcs1Sha512
        } else if let Some(params) = rest.strip_prefix(&[0x0a]) {
            match params {
                PSS_SHA256_PARAMS => Self::RsaPssSha256,
                PSS_SHA384_PARAMS => Self::RsaPssSha384,
                PSS_SHA512_PARAMS => Self::RsaPssSha512,
                _ => Self::Other,
            }
        } else {
            Self::Other
        }
    }

    /// The aws-lc-rs algorithm verifying this signature with a key of kind `key`, if the
    /// combination is supported.
    pub(crate) fn verification_algorithm(
        self,
        key: KeyKind,
    ) -> Option<&'static dyn VerificationAlgorithm> {
        use KeyKind as K;
        use SignatureAlgorithm as S;
        Some(match (self, key) {
            (S::EcdsaSha256, K::EcP256) => &signature::ECDSA_P256_SHA256_ASN1,
            (S::EcdsaSha384, K::EcP256) => &signature::ECDSA_P256_SHA384_ASN1,
            (S::EcdsaSha512, K::EcP256) => &signature::ECDSA_P256_SHA512_ASN1,
            (S::EcdsaSha256, K::EcP384) => &signature::ECDSA_P384_SHA256_ASN1,
            (S::EcdsaSha384, K::EcP384) => &signature::ECDSA_P384_SHA384_ASN1,
            (S::EcdsaSha512, K::EcP384) => &signature::ECDSA_P384_SHA512_ASN1,
            (S::EcdsaSha256, K::EcP521) => &signature::ECDSA_P521_SHA256_ASN1,
            (S::EcdsaSha384, K::EcP521) => &signature::ECDSA_P521_SHA384_ASN1,
            (S::EcdsaSha512, K::EcP521) => &signature::ECDSA_P521_SHA512_ASN1,
            (S::RsaPkcs1Sha256, K::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (S::RsaPkcs1Sha384, K::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (S::RsaPkcs1Sha512, K::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (S::RsaPssSha256, K::Rsa) => &signature::RSA_PSS_2048_8192_SHA256,
            (S::RsaPssSha384, K::Rsa) => &signature::RSA_PSS_2048_8192_SHA384,
            (S::RsaPssSha512, K::Rsa) => &signature::RSA_PSS_2048_8192_SHA512,
            (S::Ed25519, K::Ed25519) => &signature::ED25519,
            _ => return None,
        })
    }
}

// Public-key AlgorithmIdentifier contents.
const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const CURVE_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const CURVE_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const CURVE_P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
const RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

// === impl PublicKeyAlgorithm ===

impl fmt::Display for PublicKeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EcP256 => f.write_str("EC P-256"),
            Self::EcP384 => f.write_str("EC P-384"),
            Self::EcP521 => f.write_str("EC P-521"),
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
            Self::Ed25519 => f.write_str("Ed25519"),
            Self::Other => f.write_str("other"),
        }
    }
}

// === impl KeyKind ===

impl KeyKind {
    /// Recognises the contents of an SPKI `AlgorithmIdentifier` SEQUENCE.
    pub(crate) fn from_der(contents: &[u8]) -> Self {
        if let Some(curve) = contents.strip_prefix(EC_PUBLIC_KEY) {
            return match curve {
                CURVE_P256 => Self::EcP256,
                CURVE_P384 => Self::EcP384,
                CURVE_P521 => Self::EcP521,
                _ => Self::Other,
            };
        }
        match contents {
            RSA_ENCRYPTION => Self::Rsa,
            ED25519 => Self::Ed25519,
            _ => Self::Other,
        }
    }

    /// The public algorithm, computing the RSA modulus size from the key bits.
    pub(crate) fn public(self, key_bits: &[u8]) -> PublicKeyAlgorithm {
        match self {
            Self::EcP256 => PublicKeyAlgorithm::EcP256,
            Self::EcP384 => PublicKeyAlgorithm::EcP384,
            Self::EcP521 => PublicKeyAlgorithm::EcP521,
            Self::Ed25519 => PublicKeyAlgorithm::Ed25519,
            Self::Rsa => rsa_modulus_bits(key_bits).map_or(PublicKeyAlgorithm::Other, |bits| {
                PublicKeyAlgorithm::Rsa { bits }
            }),
            Self::Other => PublicKeyAlgorithm::Other,
        }
    }
}

/// Bit length of the modulus of a PKCS#1 `RSAPublicKey`.
fn rsa_modulus_bits(key: &[u8]) -> Option<u32> {
    let mut outer = Reader::new(key);
    let mut seq = Reader::new(outer.read(tag::SEQUENCE).ok()?);
    let modulus = crate::der::integer_bytes(seq.read(tag::INTEGER).ok()?).ok()?;
    let modulus = match modulus {
        [0, rest @ ..] => rest,
        other => other,
    };
    let first = *modulus.first()?;
    let bits = modulus.len().checked_mul(8)? - first.leading_zeros() as usize;
    u32::try_from(bits).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_signature_algorithms() {
        assert_eq!(
            SignatureAlgorithm::from_der(ECDSA_SHA256),
            SignatureAlgorithm::EcdsaSha256
        );
        let mut rsa = RSA_PREFIX.to_vec();
        rsa.extend([0x0b, 0x05, 0x00]);
        assert_eq!(
            SignatureAlgorithm::from_der(&rsa),
            SignatureAlgorithm::RsaPkcs1Sha256
        );
        let mut pss = RSA_PREFIX.to_vec();
        pss.push(0x0a);
        pss.extend(PSS_SHA384_PARAMS);
        assert_eq!(
            SignatureAlgorithm::from_der(&pss),
            SignatureAlgorithm::RsaPssSha384
        );
        pss.push(0);
        assert_eq!(
            SignatureAlgorithm::from_der(&pss),
            SignatureAlgorithm::Other
        );
        // ecdsa-with-SHA256 with (forbidden) NULL parameters.
        let mut ec_null = ECDSA_SHA256.to_vec();
        ec_null.extend([0x05, 0x00]);
        assert_eq!(
            SignatureAlgorithm::from_der(&ec_null),
            SignatureAlgorithm::Other
        );
    }

    #[test]
    fn mismatched_key_and_signature_unsupported() {
        assert!(SignatureAlgorithm::EcdsaSha256
            .verification_algorithm(KeyKind::Rsa)
            .is_none());
        assert!(SignatureAlgorithm::Ed25519
            .verification_algorithm(KeyKind::Ed25519)
            .is_some());
    }

    #[test]
    fn rsa_bits() {
        // SEQUENCE { INTEGER 0x00ff.. (9 bytes, 64 bits), INTEGER 3 }
        let key = [
            0x30, 0x0e, 0x02, 0x09, 0x00, 0xff, 1, 2, 3, 4, 5, 6, 7, 0x02, 0x01, 0x03,
        ];
        assert_eq!(rsa_modulus_bits(&key), Some(64));
    }
}
