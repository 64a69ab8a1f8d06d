use std::fmt;

use aws_lc_rs::signature::{self, EcdsaVerificationAlgorithm, RsaParameters};

use crate::x509::PublicKeyAlgorithm;

/// A JWS `alg` on the JWT-SVID allowlist (JWT-4): RS/ES/PS with SHA-256/384/512.
///
/// Everything else (`none`, `HS*`, `EdDSA`, `ES256K`, …) has no value of this type, so it can
/// never reach key selection or signature verification (JWT-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwtAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384 and MGF1 with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512 and MGF1 with SHA-512.
    Ps512,
}

// === impl JwtAlg ===

impl JwtAlg {
    /// Every allowed algorithm.
    pub const ALL: [Self; 9] = [
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Es256,
        Self::Es384,
        Self::Es512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
    ];

    /// The algorithm named `name` (case-sensitive, RFC 7518 §3.1), or `None` when it is not on
    /// the allowlist (JWT-4).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::Rs256,
            "RS384" => Self::Rs384,
            "RS512" => Self::Rs512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "ES512" => Self::Es512,
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            _ => return None,
        })
    }

    /// The JWS name, e.g. `ES256`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
        }
    }

    /// Whether a key of `algorithm` can verify this algorithm (JWT-13): the exact curve for ES*,
    /// any RSA key for RS* and PS*.
    pub fn fits(self, algorithm: PublicKeyAlgorithm) -> bool {
        match self {
            Self::Es256 => algorithm == PublicKeyAlgorithm::EcP256,
            Self::Es384 => algorithm == PublicKeyAlgorithm::EcP384,
            Self::Es512 => algorithm == PublicKeyAlgorithm::EcP521,
            Self::Rs256 | Self::Rs384 | Self::Rs512 | Self::Ps256 | Self::Ps384 | Self::Ps512 => {
                matches!(algorithm, PublicKeyAlgorithm::Rsa { .. })
            }
        }
    }

    /// Index of an RSA algorithm in [`RSA_ALGS`].
    pub(super) fn rsa_index(self) -> Option<usize> {
        RSA_ALGS.iter().position(|(alg, _)| *alg == self)
    }

    /// The aws-lc-rs ECDSA algorithm (fixed-length `r||s` signatures, RFC 7518 §3.4).
    pub(super) fn ecdsa(self) -> Option<&'static EcdsaVerificationAlgorithm> {
        match self {
            Self::Es256 => Some(&signature::ECDSA_P256_SHA256_FIXED),
            Self::Es384 => Some(&signature::ECDSA_P384_SHA384_FIXED),
            Self::Es512 => Some(&signature::ECDSA_P521_SHA512_FIXED),
            _ => None,
        }
    }
}

/// The RSA algorithms and their aws-lc-rs parameters; an RSA authority pre-parses its key for
/// each of them.
pub(super) static RSA_ALGS: [(JwtAlg, &RsaParameters); 6] = [
    (JwtAlg::Rs256, &signature::RSA_PKCS1_2048_8192_SHA256),
    (JwtAlg::Rs384, &signature::RSA_PKCS1_2048_8192_SHA384),
    (JwtAlg::Rs512, &signature::RSA_PKCS1_2048_8192_SHA512),
    (JwtAlg::Ps256, &signature::RSA_PSS_2048_8192_SHA256),
    (JwtAlg::Ps384, &signature::RSA_PSS_2048_8192_SHA384),
    (JwtAlg::Ps512, &signature::RSA_PSS_2048_8192_SHA512),
];

impl fmt::Display for JwtAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
