//! Private keys of X.509-SVIDs: checking that a key belongs to the leaf certificate (WAPI-13).
//!
//! A key file carries more than its secret: an RSA private key holds its modulus and exponent,
//! and EC keys written by SPIRE, Go, OpenSSL and aws-lc carry the public point next to the
//! scalar (RFC 5915 `publicKey`). That public half is only a claim: a key whose carried point
//! is the leaf's but whose scalar is another key's would pass a comparison of the carried point
//! alone (conformance vector 65b). So a key matches the leaf when
//!
//! 1. its carried public half equals the leaf's public key (read with the crate's DER reader,
//!    nanoseconds; a difference is a mismatch at once), and
//! 2. the secret produces that public half: aws-lc loads the key, which recomputes the EC point
//!    from the scalar (a P-256 base-point multiplication, ~7 µs) or checks the RSA primes
//!    against the modulus, and rejects a key whose parts disagree.
//!
//! Step 2 is done once per key: the SHA-256 of every key encoding that passed it is remembered
//! (a bounded set, see [`CheckedKeys`]), so a key parsed again (the Workload API resends the
//! same SVID and key with every bundle update) costs a hash instead of a scalar multiplication.
//! The digest covers every byte of the key, so a key that differs in any byte, scalar or
//! carried point, is checked afresh. Keys without a carried public half (EC keys without
//! `publicKey`, Ed25519) are loaded and their public key derived every time.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;

use super::algorithm::KeyKind;
use super::spki::rsa_public_key;
use super::{Certificate, X509Error};
use crate::der::{self, tag, DerError, Reader};

/// `id-ecPublicKey` (RFC 5480), as the contents of an OID.
const ID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// `rsaEncryption` (RFC 8017).
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// Named curves (RFC 5480): P-256, P-384, P-521.
const SECP256R1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const SECP384R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const SECP521R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];

/// Key encodings remembered as consistent, per generation; see [`CheckedKeys`].
const CHECKED_KEYS_PER_GENERATION: usize = 512;

/// The key encodings whose secret was found to produce their carried public half: SHA-256
/// digests of the whole DER, in two generations (when the current one is full it becomes the
/// previous one, and the old previous one is dropped), so the set stays under
/// `2 * CHECKED_KEYS_PER_GENERATION` entries and a key in use is seen again before it ages out.
/// Only successes are remembered; a digest reveals nothing of the key.
struct CheckedKeys {
    current: BTreeSet<[u8; 32]>,
    previous: BTreeSet<[u8; 32]>,
}

static CHECKED_KEYS: Mutex<CheckedKeys> = Mutex::new(CheckedKeys {
    current: BTreeSet::new(),
    previous: BTreeSet::new(),
});

/// Checks that `key` is the private half of `cert`'s public key.
///
/// `KeyMismatch` when the key belongs to another public key (or another key type), including a
/// key whose carried public half is the leaf's but whose secret does not produce it;
/// `MalformedPrivateKey` when it does not load at all (including encrypted keys).
pub(crate) fn check_key_matches(
    cert: &Certificate,
    key: &PrivateKeyDer<'_>,
) -> Result<(), X509Error> {
    match carried_public_key(key) {
        Ok(Some(carried)) => {
            if !carried.matches(cert) {
                return Err(X509Error::KeyMismatch);
            }
            // The carried public half is the leaf's; the secret must produce it (WAPI-13).
            let fingerprint = fingerprint(key);
            if CheckedKeys::contains(&fingerprint) {
                return Ok(());
            }
            match public_key_of(key, cert.key_kind()) {
                Some(public) if public == cert.key_bits() => {
                    CheckedKeys::insert(fingerprint);
                    Ok(())
                }
                // aws-lc refuses a key whose scalar (or RSA primes) disagree with the public
                // half it carries: that secret is not the leaf's.
                _ => Err(X509Error::KeyMismatch),
            }
        }
        Ok(None) => derived_key_matches(cert, key),
        Err(_) => Err(X509Error::MalformedPrivateKey),
    }
}

/// The match for a key without a carried public half: derive it.
fn derived_key_matches(cert: &Certificate, key: &PrivateKeyDer<'_>) -> Result<(), X509Error> {
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

fn fingerprint(key: &PrivateKeyDer<'_>) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, key.secret_der()).as_ref());
    out
}

// === impl CheckedKeys ===

impl CheckedKeys {
    fn contains(fingerprint: &[u8; 32]) -> bool {
        let keys = CHECKED_KEYS.lock().unwrap_or_else(PoisonError::into_inner);
        keys.current.contains(fingerprint) || keys.previous.contains(fingerprint)
    }

    fn insert(fingerprint: [u8; 32]) {
        let mut keys = CHECKED_KEYS.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.current.len() >= CHECKED_KEYS_PER_GENERATION {
            keys.previous = std::mem::take(&mut keys.current);
        }
        keys.current.insert(fingerprint);
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

/// The public half a private key carries, as read from its DER.
enum CarriedPublicKey<'a> {
    /// An EC key: its curve, when named, and its public point.
    Ec {
        curve: Option<KeyKind>,
        point: &'a [u8],
    },
    /// An RSA key: modulus and public exponent (INTEGER contents).
    Rsa { n: &'a [u8], e: &'a [u8] },
}

impl CarriedPublicKey<'_> {
    fn matches(&self, cert: &Certificate) -> bool {
        match *self {
            Self::Ec { curve, point } => {
                matches!(
                    cert.key_kind(),
                    KeyKind::EcP256 | KeyKind::EcP384 | KeyKind::EcP521
                ) && curve.is_none_or(|c| c == cert.key_kind())
                    && point == cert.key_bits()
            }
            Self::Rsa { n, e } => {
                cert.key_kind() == KeyKind::Rsa
                    && rsa_public_key(cert.key_bits()).is_ok_and(|(cn, ce)| cn == n && ce == e)
            }
        }
    }
}

/// Reads the public half out of a PKCS#8 (RFC 5208/5958), SEC1 (RFC 5915) or PKCS#1 (RFC 8017)
/// private key: `Ok(None)` when the key has none (an EC key without `publicKey`, Ed25519,
/// unknown algorithms), an error when the DER is malformed.
fn carried_public_key<'a>(
    key: &'a PrivateKeyDer<'_>,
) -> Result<Option<CarriedPublicKey<'a>>, DerError> {
    match key {
        PrivateKeyDer::Pkcs8(der) => {
            let mut info = Reader::new(der::read_single(der.secret_pkcs8_der(), tag::SEQUENCE)?);
            info.read(tag::INTEGER)?; // version
            let mut alg = Reader::new(info.read(tag::SEQUENCE)?);
            let oid = alg.read(tag::OID)?;
            let private_key = info.read(tag::OCTET_STRING)?;
            if oid == ID_EC_PUBLIC_KEY {
                let curve = named_curve(alg.read(tag::OID)?);
                ec_private_key(private_key, Some(curve))
            } else if oid == RSA_ENCRYPTION {
                rsa_private_key(private_key).map(Some)
            } else {
                Ok(None)
            }
        }
        PrivateKeyDer::Sec1(der) => ec_private_key(der.secret_sec1_der(), None),
        PrivateKeyDer::Pkcs1(der) => rsa_private_key(der.secret_pkcs1_der()).map(Some),
        _ => Ok(None),
    }
}

/// `ECPrivateKey` (RFC 5915): its curve (from PKCS#8 or its own `parameters`) and `publicKey`.
fn ec_private_key(
    der: &[u8],
    outer_curve: Option<KeyKind>,
) -> Result<Option<CarriedPublicKey<'_>>, DerError> {
    let mut seq = Reader::new(der::read_single(der, tag::SEQUENCE)?);
    seq.read(tag::INTEGER)?; // version
    if seq.read(tag::OCTET_STRING)?.is_empty() {
        return Err(DerError::InvalidValue);
    }
    let own_curve = seq
        .read_optional(tag::context_constructed(0))?
        .map(|params| der::read_single(params, tag::OID).map(named_curve))
        .transpose()?;
    let Some(public) = seq.read_optional(tag::context_constructed(1))? else {
        return Ok(None);
    };
    let point = Reader::new(public).read_octet_aligned_bits()?;
    let curve = match (outer_curve, own_curve) {
        (Some(a), Some(b)) if a != b => return Err(DerError::InvalidValue),
        (a, b) => a.or(b),
    };
    Ok(Some(CarriedPublicKey::Ec { curve, point }))
}

/// `RSAPrivateKey` (RFC 8017 §A.1.2): modulus and public exponent.
fn rsa_private_key(der: &[u8]) -> Result<CarriedPublicKey<'_>, DerError> {
    let mut seq = Reader::new(der::read_single(der, tag::SEQUENCE)?);
    seq.read(tag::INTEGER)?; // version
    let n = der::integer_bytes(seq.read(tag::INTEGER)?)?;
    let e = der::integer_bytes(seq.read(tag::INTEGER)?)?;
    Ok(CarriedPublicKey::Rsa { n, e })
}

fn named_curve(oid: &[u8]) -> KeyKind {
    match oid {
        SECP256R1 => KeyKind::EcP256,
        SECP384R1 => KeyKind::EcP384,
        SECP521R1 => KeyKind::EcP521,
        _ => KeyKind::Other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::PrivatePkcs8KeyDer;

    use super::*;
    use crate::x509::parse_certificates;

    const LEAF: &[u8] = include_bytes!("../../tests/data/x509/36-chain.pem");
    const KEY: &[u8] = include_bytes!("../../tests/data/x509/36-key.pem");
    const OTHER_KEY: &[u8] = include_bytes!("../../tests/data/x509/37-key.pem");

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n @ 0..=0x7f => out.push(n as u8),
            n @ 0x80..=0xff => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    /// Rebuilds a P-256 PKCS#8 key from its scalar, with `public` as the carried point (or none).
    fn pkcs8(scalar: &[u8], public: Option<&[u8]>) -> PrivateKeyDer<'static> {
        let mut ec = tlv(tag::INTEGER, &[1]);
        ec.extend(tlv(tag::OCTET_STRING, scalar));
        if let Some(point) = public {
            let mut bits = vec![0];
            bits.extend_from_slice(point);
            ec.extend(tlv(
                tag::context_constructed(1),
                &tlv(tag::BIT_STRING, &bits),
            ));
        }
        let mut alg = tlv(tag::OID, ID_EC_PUBLIC_KEY);
        alg.extend(tlv(tag::OID, SECP256R1));
        let mut info = tlv(tag::INTEGER, &[0]);
        info.extend(tlv(tag::SEQUENCE, &alg));
        info.extend(tlv(tag::OCTET_STRING, &tlv(tag::SEQUENCE, &ec)));
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(tlv(tag::SEQUENCE, &info)))
    }

    fn scalar_and_point(key: &PrivateKeyDer<'_>) -> (Vec<u8>, Vec<u8>) {
        let mut info = Reader::new(der::read_single(key.secret_der(), tag::SEQUENCE).unwrap());
        info.read(tag::INTEGER).unwrap();
        info.read(tag::SEQUENCE).unwrap();
        let mut ec = Reader::new(
            der::read_single(info.read(tag::OCTET_STRING).unwrap(), tag::SEQUENCE).unwrap(),
        );
        ec.read(tag::INTEGER).unwrap();
        let scalar = ec.read(tag::OCTET_STRING).unwrap().to_vec();
        ec.read_optional(tag::context_constructed(0)).unwrap();
        let public = ec.read(tag::context_constructed(1)).unwrap();
        (
            scalar,
            Reader::new(public)
                .read_octet_aligned_bits()
                .unwrap()
                .to_vec(),
        )
    }

    #[test]
    fn wapi_13_matches_by_carried_public_key_or_by_derivation() {
        let leaf = &parse_certificates(LEAF).unwrap()[0];
        let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
        let (scalar, point) = scalar_and_point(&key);
        assert_eq!(
            point,
            leaf.key_bits(),
            "the vector's key carries its public point"
        );
        // Carried public key: matched structurally.
        assert_eq!(
            check_key_matches(leaf, &pkcs8(&scalar, Some(&point))),
            Ok(())
        );
        // No carried public key: derived with aws-lc-rs, still matched.
        assert_eq!(check_key_matches(leaf, &pkcs8(&scalar, None)), Ok(()));
        // Another key, carried or derived: mismatch either way.
        let other = PrivateKeyDer::from_pem_slice(OTHER_KEY).unwrap();
        let (other_scalar, other_point) = scalar_and_point(&other);
        assert_eq!(
            check_key_matches(leaf, &pkcs8(&other_scalar, Some(&other_point))),
            Err(X509Error::KeyMismatch)
        );
        assert_eq!(
            check_key_matches(leaf, &pkcs8(&other_scalar, None)),
            Err(X509Error::KeyMismatch)
        );
        // Another key's scalar carrying the leaf's point: the carried point is a lie. Checked
        // before and after the genuine key was remembered as consistent.
        let forged = pkcs8(&other_scalar, Some(&point));
        assert_eq!(
            check_key_matches(leaf, &forged),
            Err(X509Error::KeyMismatch)
        );
        assert_eq!(check_key_matches(leaf, &key), Ok(()));
        assert_eq!(check_key_matches(leaf, &key), Ok(()));
        assert_eq!(
            check_key_matches(leaf, &forged),
            Err(X509Error::KeyMismatch)
        );
        // A truncated key is malformed, not a mismatch.
        let der = key.secret_der();
        let truncated =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der[..der.len() - 3].to_vec()));
        assert_eq!(
            check_key_matches(leaf, &truncated),
            Err(X509Error::MalformedPrivateKey)
        );
    }

    /// `RSAPrivateKey` (RFC 8017 §A.1.2) with the modulus and public exponent of `public` and
    /// every secret field of `secret`, as PKCS#8.
    fn rsa_spliced(public: &[u8], secret: &[u8]) -> PrivateKeyDer<'static> {
        let fields = |pkcs8: &[u8]| -> Vec<Vec<u8>> {
            let mut info = Reader::new(der::read_single(pkcs8, tag::SEQUENCE).unwrap());
            info.read(tag::INTEGER).unwrap();
            info.read(tag::SEQUENCE).unwrap();
            let rsa = info.read(tag::OCTET_STRING).unwrap();
            let mut seq = Reader::new(der::read_single(rsa, tag::SEQUENCE).unwrap());
            (0..9)
                .map(|_| seq.read(tag::INTEGER).unwrap().to_vec())
                .collect()
        };
        let (public, secret) = (fields(public), fields(secret));
        let mut rsa = Vec::new();
        for (i, field) in secret.iter().enumerate() {
            let field = if i == 1 || i == 2 { &public[i] } else { field };
            rsa.extend(tlv(tag::INTEGER, field));
        }
        let mut alg = tlv(tag::OID, RSA_ENCRYPTION);
        alg.extend([0x05, 0x00]);
        let mut info = tlv(tag::INTEGER, &[0]);
        info.extend(tlv(tag::SEQUENCE, &alg));
        info.extend(tlv(tag::OCTET_STRING, &tlv(tag::SEQUENCE, &rsa)));
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(tlv(tag::SEQUENCE, &info)))
    }

    #[test]
    fn wapi_13_an_rsa_key_carrying_the_leafs_modulus_with_other_primes_is_refused() {
        const RSA_LEAF: &[u8] = include_bytes!("../../tests/data/x509/alg-rsa-chain.pem");
        const RSA_KEY: &[u8] = include_bytes!("../../tests/data/x509/alg-rsa-key.pem");
        let leaf = &parse_certificates(RSA_LEAF).unwrap()[0];
        let key = PrivateKeyDer::from_pem_slice(RSA_KEY).unwrap();
        assert_eq!(check_key_matches(leaf, &key), Ok(()));
        let other = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let other =
            aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&other)
                .unwrap();
        // Sanity: the splice itself is sound (the genuine fields give the genuine key).
        assert_eq!(
            check_key_matches(leaf, &rsa_spliced(key.secret_der(), key.secret_der())),
            Ok(())
        );
        let forged = rsa_spliced(key.secret_der(), other.as_ref());
        assert_eq!(
            check_key_matches(leaf, &forged),
            Err(X509Error::KeyMismatch)
        );
    }
}
