//! Private keys of X.509-SVIDs: loading with aws-lc-rs, and checking that a key belongs to
//! the leaf certificate (WAPI-13).

use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;

use super::algorithm::KeyKind;
use super::{Certificate, X509Error};

/// Checks that `key` is the private half of `cert`'s public key.
///
/// `KeyMismatch` when the key loads but belongs to another public key (or another key type);
/// `MalformedPrivateKey` when it does not load at all (including encrypted keys).
pub(crate) fn check_key_matches(
    cert: &Certificate,
    key: &PrivateKeyDer<'_>,
) -> Result<(), X509Error> {
    match public_key_of(key, cert.key_kind()) {
        Some(public) if public == cert.key_bits() => Ok(()),
        Some(_) => Err(X509Error::KeyMismatch),
        None => {
            let loads_as_other = [
                KeyKind::EcP256,
                KeyKind::EcP384,
                KeyKind::EcP521,
                KeyKind::Rsa,
                KeyKind::Ed25519,
            ]
            .into_iter()
            .any(|kind| public_key_of(key, kind).is_some());
            Err(if loads_as_other {
                X509Error::KeyMismatch
            } else {
                X509Error::MalformedPrivateKey
            })
        }
    }
}

/// The public key (in SPKI bit-string form) of `key` loaded as a `kind` key.
fn public_key_of(key: &PrivateKeyDer<'_>, kind: KeyKind) -> Option<Vec<u8>> {
    let bytes = key.secret_der();
    let ec = |alg: &'static signature::EcdsaSigningAlgorithm| match key {
        PrivateKeyDer::Pkcs8(_) | PrivateKeyDer::Sec1(_) => {
            EcdsaKeyPair::from_private_key_der(alg, bytes)
                .ok()
                .map(|kp| kp.public_key().as_ref().to_vec())
        }
        _ => None,
    };
    match kind {
        KeyKind::EcP256 => ec(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        KeyKind::EcP384 => ec(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        KeyKind::EcP521 => ec(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
        KeyKind::Rsa => match key {
            PrivateKeyDer::Pkcs8(_) => RsaKeyPair::from_pkcs8(bytes).ok(),
            PrivateKeyDer::Pkcs1(_) => RsaKeyPair::from_der(bytes).ok(),
            _ => None,
        }
        .map(|kp| kp.public_key().as_ref().to_vec()),
        KeyKind::Ed25519 => match key {
            PrivateKeyDer::Pkcs8(_) => Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes)
                .ok()
                .map(|kp| kp.public_key().as_ref().to_vec()),
            _ => None,
        },
        KeyKind::Other => None,
    }
}
