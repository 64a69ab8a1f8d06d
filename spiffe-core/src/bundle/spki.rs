//! The JWK public-key members (`kty`, `crv`, `x`, `y`, `n`, `e`) of an X.509 authority.
//!
//! A SPIFFE bundle's x509-svid entry is a JWK, so it carries `kty` (BUNDLE-12) and, for
//! consumers whose JOSE library insists on it (go-jose), the key itself. We read the
//! certificate's SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) with a minimal DER walk that only
//! locates the SPKI; the certificate itself is parsed and checked by `Certificate`.
//! When `Certificate` grows an SPKI accessor this walk should be replaced by it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_ED448: &[u8] = &[0x2b, 0x65, 0x71];

const TAG_SEQUENCE: u8 = 0x30;
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OID: u8 = 0x06;
const TAG_VERSION: u8 = 0xa0;

/// The JWK members describing the public key of certificate `der`, or `None` for a key type
/// JWK has no parameters for here (or DER this walk cannot follow).
pub(crate) fn jwk_key_members(der: &[u8]) -> Option<Map<String, Value>> {
    let (tag, certificate) = Reader(der).read()?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let (tag, tbs) = Reader(certificate).read()?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let mut tbs = Reader(tbs);
    if tbs.peek_tag()? == TAG_VERSION {
        tbs.read()?;
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        tbs.read()?;
    }
    let (tag, spki) = tbs.read()?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let mut spki = Reader(spki);
    let (tag, algorithm) = spki.read()?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let (tag, key_bits) = spki.read()?;
    if tag != TAG_BIT_STRING {
        return None;
    }
    // No unused bits in a key.
    let key = key_bits.strip_prefix(&[0])?;

    let mut algorithm = Reader(algorithm);
    let (tag, oid) = algorithm.read()?;
    if tag != TAG_OID {
        return None;
    }
    let mut jwk = Map::new();
    match oid {
        OID_EC_PUBLIC_KEY => {
            let (tag, curve) = algorithm.read()?;
            if tag != TAG_OID {
                return None;
            }
            let (crv, size) = match curve {
                OID_P256 => ("P-256", 32),
                OID_P384 => ("P-384", 48),
                OID_P521 => ("P-521", 66),
                _ => return None,
            };
            // Uncompressed point only: 0x04 || x || y.
            let point = key.strip_prefix(&[0x04])?;
            if point.len() != 2 * size {
                return None;
            }
            let (x, y) = point.split_at(size);
            jwk.insert("kty".into(), "EC".into());
            jwk.insert("crv".into(), crv.into());
            jwk.insert("x".into(), URL_SAFE_NO_PAD.encode(x).into());
            jwk.insert("y".into(), URL_SAFE_NO_PAD.encode(y).into());
        }
        OID_RSA => {
            // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
            let (tag, rsa) = Reader(key).read()?;
            if tag != TAG_SEQUENCE {
                return None;
            }
            let mut rsa = Reader(rsa);
            let (tag_n, n) = rsa.read()?;
            let (tag_e, e) = rsa.read()?;
            if tag_n != TAG_INTEGER || tag_e != TAG_INTEGER {
                return None;
            }
            jwk.insert("kty".into(), "RSA".into());
            jwk.insert("n".into(), URL_SAFE_NO_PAD.encode(unsigned(n)).into());
            jwk.insert("e".into(), URL_SAFE_NO_PAD.encode(unsigned(e)).into());
        }
        OID_ED25519 | OID_ED448 => {
            let crv = if oid == OID_ED25519 {
                "Ed25519"
            } else {
                "Ed448"
            };
            jwk.insert("kty".into(), "OKP".into());
            jwk.insert("crv".into(), crv.into());
            jwk.insert("x".into(), URL_SAFE_NO_PAD.encode(key).into());
        }
        _ => return None,
    }
    Some(jwk)
}

/// A DER INTEGER's content without the sign-padding zero bytes (RFC 7518 §6.3.1: minimal).
fn unsigned(integer: &[u8]) -> &[u8] {
    let leading = integer.iter().take_while(|b| **b == 0).count();
    &integer[leading.min(integer.len().saturating_sub(1))..]
}

/// Reads DER TLVs (definite lengths, single-byte tags) from a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn peek_tag(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn read(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (bytes, rest) = rest.split_at(count);
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, rest)
        };
        if rest.len() < len {
            return None;
        }
        let (content, rest) = rest.split_at(len);
        self.0 = rest;
        Some((tag, content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_gives_none() {
        assert_eq!(jwk_key_members(b""), None);
        assert_eq!(jwk_key_members(b"\x30\x05abc"), None);
        assert_eq!(jwk_key_members(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn strips_sign_padding_only() {
        assert_eq!(unsigned(&[0x00, 0x80, 0x01]), &[0x80, 0x01]);
        assert_eq!(unsigned(&[0x01, 0x00, 0x01]), &[0x01, 0x00, 0x01]);
        assert_eq!(unsigned(&[0x00]), &[0x00]);
    }
}
