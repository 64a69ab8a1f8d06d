//! Private keys of X.509-SVIDs: checking that a key belongs to the leaf certificate (WAPI-13).
//!
//! The check compares the key's public half with the leaf's public key. Most keys carry it:
//! an RSA private key holds its modulus and exponent, and EC keys written by SPIRE, Go, OpenSSL
//! and aws-lc carry the public point next to the scalar (RFC 5915 `publicKey`). That is read with
//! the crate's DER reader, which costs nanoseconds, where deriving the public key (a scalar
//! multiplication, several microseconds) would dominate the whole SVID parse. Keys without
//! their public half are loaded with aws-lc-rs and the public key derived. Whether the private
//! scalar agrees with the public point it carries is checked by the crypto backend when the key
//! is loaded for signing (aws-lc's `EC_KEY_check_key`, as rustls' providers do), so an
//! inconsistent key file fails there, before it signs anything.

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

/// Checks that `key` is the private half of `cert`'s public key.
///
/// `KeyMismatch` when the key loads but belongs to another public key (or another key type);
/// `MalformedPrivateKey` when it does not load at all (including encrypted keys).
pub(crate) fn check_key_matches(
    cert: &Certificate,
    key: &PrivateKeyDer<'_>,
) -> Result<(), X509Error> {
    match carried_public_key(key) {
        Ok(Some(carried)) => {
            return if carried.matches(cert) {
                Ok(())
            } else {
                Err(X509Error::KeyMismatch)
            };
        }
        Ok(None) => {} // no public half inside: derive it below
        Err(_) => return Err(X509Error::MalformedPrivateKey),
    }
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
        // A truncated key is malformed, not a mismatch.
        let der = key.secret_der();
        let truncated =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der[..der.len() - 3].to_vec()));
        assert_eq!(
            check_key_matches(leaf, &truncated),
            Err(X509Error::MalformedPrivateKey)
        );
    }
}
