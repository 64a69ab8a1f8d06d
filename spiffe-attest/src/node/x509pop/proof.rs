//! Proof of possession: the agent signs `SHA-256(server nonce ‖ agent nonce)` with the leaf's
//! key; the server checks it with the leaf's public key.
//!
//! SPIRE signs the digest itself (Go's `ecdsa.Sign` and `rsa.SignPSS` take a hash), so both
//! sides here work on the digest: `sign_digest` / `verify_digest_sig` of aws-lc-rs.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::RsaPssSaltLength;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use rustls_pki_types::PrivateKeyDer;
use spiffe_core::x509::{PublicKeyAlgorithm, SubjectPublicKeyInfo};
use spiffe_core::Certificate;

use super::wire::{combined_digest, ChallengeKind, Proof, NONCE_LEN};
use super::X509PopError;

/// Verification with the salt length Go's `rsa.SignPSS` uses by default (the maximum).
static RSA_PSS_SHA256_MAX_SALT: signature::RsaParameters =
    signature::RSA_PSS_2048_8192_SHA256.with_pss_salt_length(RsaPssSaltLength::Max);

/// The leaf's public key, in a form the verifier can use.
#[derive(Debug, Clone)]
pub(crate) enum LeafKey {
    EcP256(Vec<u8>),
    EcP384(Vec<u8>),
    Rsa(Vec<u8>),
}

// === impl LeafKey ===

impl LeafKey {
    /// The key of `leaf`, when it is one x509pop supports (ECDSA P-256/P-384, RSA).
    pub(crate) fn of(leaf: &Certificate) -> Result<Self, X509PopError> {
        let spki = SubjectPublicKeyInfo::from_der(leaf.subject_public_key_info())
            .map_err(|_| X509PopError::UnsupportedKey)?;
        let bits = spki.key_bits().to_vec();
        match spki.algorithm() {
            PublicKeyAlgorithm::EcP256 => Ok(Self::EcP256(bits)),
            PublicKeyAlgorithm::EcP384 => Ok(Self::EcP384(bits)),
            PublicKeyAlgorithm::Rsa { .. } => Ok(Self::Rsa(bits)),
            _ => Err(X509PopError::UnsupportedKey),
        }
    }

    /// A challenge of the kind this key answers, with a fresh nonce.
    pub(crate) fn challenge(&self) -> Result<ChallengeKind, X509PopError> {
        let nonce = random_nonce()?;
        Ok(match self {
            Self::Rsa(_) => ChallengeKind::Rsa(nonce),
            Self::EcP256(_) | Self::EcP384(_) => ChallengeKind::Ecdsa(nonce),
        })
    }

    /// Checks `proof` against the challenge this attempt issued.
    pub(crate) fn verify(&self, issued: ChallengeKind, proof: &Proof) -> Result<(), X509PopError> {
        let digest =
            |server: &[u8; NONCE_LEN], agent: &[u8; NONCE_LEN]| combined_digest(server, agent);
        match (self, issued, proof) {
            (Self::Rsa(key), ChallengeKind::Rsa(server), Proof::Rsa { nonce, signature }) => {
                let digest = digest(&server, nonce);
                // Go's SignPSS uses the maximum salt length; aws-lc-rs (and our agent) the
                // digest length. Accept both.
                let ok = [
                    &signature::RSA_PSS_2048_8192_SHA256,
                    &RSA_PSS_SHA256_MAX_SALT,
                ]
                .into_iter()
                .any(|params| {
                    UnparsedPublicKey::new(params, key)
                        .verify_digest(&digest, signature)
                        .is_ok()
                });
                ok.then_some(()).ok_or(X509PopError::BadSignature)
            }
            (Self::EcP256(key), ChallengeKind::Ecdsa(server), Proof::Ecdsa { nonce, r, s }) => {
                let sig = ecdsa_sig_der(r, s).ok_or(X509PopError::BadSignatureEncoding)?;
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, key)
                    .verify_digest(&digest(&server, nonce), &sig)
                    .map_err(|_| X509PopError::BadSignature)
            }
            (Self::EcP384(key), ChallengeKind::Ecdsa(server), Proof::Ecdsa { nonce, r, s }) => {
                let sig = ecdsa_sig_der(r, s).ok_or(X509PopError::BadSignatureEncoding)?;
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA256_ASN1, key)
                    .verify_digest(&digest(&server, nonce), &sig)
                    .map_err(|_| X509PopError::BadSignature)
            }
            _ => Err(X509PopError::WrongProofKind),
        }
    }
}

/// DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3) from unsigned big-endian `r` and `s`.
fn ecdsa_sig_der(r: &[u8], s: &[u8]) -> Option<Vec<u8>> {
    fn integer(out: &mut Vec<u8>, value: &[u8]) {
        let start = value.iter().position(|&b| b != 0).unwrap_or(value.len());
        let value = &value[start..];
        let pad = value.first().is_none_or(|&b| b & 0x80 != 0);
        out.push(0x02);
        out.push((value.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(value);
    }
    // Short-form lengths only: each integer is at most 67 bytes with its padding.
    if r.len() > 66 || s.len() > 66 {
        return None;
    }
    let mut body = Vec::with_capacity(r.len() + s.len() + 6);
    integer(&mut body, r);
    integer(&mut body, s);
    let mut out = Vec::with_capacity(body.len() + 3);
    out.push(0x30);
    if body.len() < 0x80 {
        out.push(body.len() as u8);
    } else {
        out.push(0x81);
        out.push(body.len() as u8);
    }
    out.extend(body);
    Some(out)
}

fn random_nonce() -> Result<[u8; NONCE_LEN], X509PopError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| X509PopError::Random)?;
    Ok(nonce)
}

/// The agent's signing key.
pub(crate) enum SigningKey {
    EcP256(EcdsaKeyPair),
    EcP384(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

// === impl SigningKey ===

impl SigningKey {
    /// Loads `key` for the algorithm of `leaf`'s public key and checks that they match.
    pub(crate) fn new(leaf: &Certificate, key: &PrivateKeyDer<'_>) -> Result<Self, X509PopError> {
        let der = key.secret_der();
        let (loaded, public) = match LeafKey::of(leaf)? {
            LeafKey::EcP256(public) => (
                EcdsaKeyPair::from_private_key_der(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                )
                .map(Self::EcP256),
                public,
            ),
            LeafKey::EcP384(public) => (
                EcdsaKeyPair::from_private_key_der(
                    &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    der,
                )
                .map(Self::EcP384),
                public,
            ),
            LeafKey::Rsa(public) => {
                let pair = match key {
                    PrivateKeyDer::Pkcs1(_) => RsaKeyPair::from_der(der),
                    _ => RsaKeyPair::from_pkcs8(der),
                };
                (pair.map(Self::Rsa), public)
            }
        };
        let loaded = loaded.map_err(|_| X509PopError::BadPrivateKey)?;
        let matches = match &loaded {
            Self::EcP256(pair) | Self::EcP384(pair) => pair.public_key().as_ref() == public,
            Self::Rsa(pair) => pair.public_key().as_ref() == public,
        };
        matches.then_some(loaded).ok_or(X509PopError::KeyMismatch)
    }

    /// Answers a challenge.
    pub(crate) fn prove(&self, challenge: ChallengeKind) -> Result<Proof, X509PopError> {
        let nonce = random_nonce()?;
        match (self, challenge) {
            (Self::EcP256(pair), ChallengeKind::Ecdsa(server)) => {
                let digest = combined_digest(&server, &nonce);
                let sig = pair
                    .sign_digest(&digest)
                    .map_err(|_| X509PopError::SigningFailed)?;
                Ok(split_fixed(nonce, sig.as_ref()))
            }
            (Self::EcP384(pair), ChallengeKind::Ecdsa(server)) => {
                // ECDSA uses the digest as an integer; a 32-byte digest on P-384 (what SPIRE
                // verifies) is the same integer as that digest left-padded with zeros to the
                // 48 bytes the P-384/SHA-384 signer expects.
                let combined = combined_digest(&server, &nonce);
                let mut padded = [0u8; 48];
                padded[16..].copy_from_slice(combined.as_ref());
                let digest = Digest::import_less_safe(&padded, &digest::SHA384)
                    .map_err(|_| X509PopError::SigningFailed)?;
                let sig = pair
                    .sign_digest(&digest)
                    .map_err(|_| X509PopError::SigningFailed)?;
                Ok(split_fixed(nonce, sig.as_ref()))
            }
            (Self::Rsa(pair), ChallengeKind::Rsa(server)) => {
                let digest = combined_digest(&server, &nonce);
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign_digest(&signature::RSA_PSS_SHA256, &digest, &mut signature)
                    .map_err(|_| X509PopError::SigningFailed)?;
                Ok(Proof::Rsa { nonce, signature })
            }
            _ => Err(X509PopError::WrongProofKind),
        }
    }
}

/// A fixed-width `r ‖ s` signature as Go's `big.Int.Bytes()` would give them (no leading
/// zeros).
fn split_fixed(nonce: [u8; NONCE_LEN], sig: &[u8]) -> Proof {
    let (r, s) = sig.split_at(sig.len() / 2);
    let trim = |v: &[u8]| {
        let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
        v[start..].to_vec()
    };
    Proof::Ecdsa {
        nonce,
        r: trim(r),
        s: trim(s),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_sig_der_is_minimal() {
        assert_eq!(
            ecdsa_sig_der(&[0, 0, 1], &[0x80]),
            Some(vec![0x30, 7, 2, 1, 1, 2, 2, 0, 0x80])
        );
        assert_eq!(
            ecdsa_sig_der(&[], &[1]),
            Some(vec![0x30, 6, 2, 1, 0, 2, 1, 1])
        );
        assert_eq!(ecdsa_sig_der(&[1; 67], &[1]), None);
    }
}
