//! A JWT authority's public key as SPIRE carries it (a DER `SubjectPublicKeyInfo`, RFC 5280
//! §4.1.2.7) to and from the JWK (RFC 7517/7518) a [`JwtAuthority`] holds.
//!
//! Reading uses spiffe-core's SPKI reader and then [`JwtAuthority::from_jwk`], so the key gets
//! exactly the checks a bundle's JWK gets (point on the curve, RSA modulus size). Writing
//! encodes only the two SPKI shapes a JWT authority can have:
//!
//! ```text
//! EC:  SEQUENCE { SEQUENCE { id-ecPublicKey, namedCurve }, BIT STRING 04 || x || y }
//! RSA: SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING RSAPublicKey { n, e } }
//! ```
//!
//! A JWK's members beyond the key and `kid` (such as `alg`) have no place in an SPKI and are
//! not carried.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use spiffe_core::json::JsonObject;
use spiffe_core::x509::{PublicKeyAlgorithm, SubjectPublicKeyInfo};
use spiffe_core::JwtAuthority;

use super::{ConvertError, FieldPath};

/// id-ecPublicKey (RFC 5480 §2.1.1), DER-encoded OID.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// rsaEncryption (RFC 8017 §A.1), DER-encoded OID followed by its NULL parameters.
const OID_RSA_ENCRYPTION_NULL: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// The curves a JWT authority may use: JWK `crv`, coordinate size, DER-encoded namedCurve OID
/// (RFC 5480 §2.1.1.1).
const CURVES: [(&str, usize, &[u8]); 3] = [
    (
        "P-256",
        32,
        &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
    ),
    ("P-384", 48, &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]),
    ("P-521", 66, &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23]),
];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;

/// The JWT authority `kid` with the public key `spki_der`. Errors name `public_key`.
pub(super) fn jwt_authority_from_spki(
    kid: &str,
    spki_der: &[u8],
) -> Result<JwtAuthority, ConvertError> {
    let field = || FieldPath::new("public_key");
    let spki = SubjectPublicKeyInfo::from_der(spki_der).map_err(|source| {
        ConvertError::MalformedPublicKey {
            field: field(),
            source,
        }
    })?;
    let unsupported = || ConvertError::UnsupportedPublicKey { field: field() };
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let mut jwk = JsonObject::new();
    let crv = match spki.algorithm() {
        PublicKeyAlgorithm::EcP256 => Some("P-256"),
        PublicKeyAlgorithm::EcP384 => Some("P-384"),
        PublicKeyAlgorithm::EcP521 => Some("P-521"),
        PublicKeyAlgorithm::Rsa { .. } => None,
        _ => return Err(unsupported()),
    };
    match crv {
        Some(crv) => {
            let size = curve(crv)
                .map(|(_, size, _)| size)
                .ok_or_else(unsupported)?;
            // Only an uncompressed point (SEC 1 §2.3.3) carries both JWK coordinates.
            let point = spki
                .key_bits()
                .strip_prefix(&[0x04])
                .ok_or_else(unsupported)?;
            if point.len() != 2 * size {
                return Err(unsupported());
            }
            let (x, y) = point.split_at(size);
            jwk.insert_str("kty", "EC");
            jwk.insert_str("crv", crv);
            jwk.insert_str("x", b64(x));
            jwk.insert_str("y", b64(y));
        }
        None => {
            let rsa = spki.rsa_public_key().ok_or_else(unsupported)?;
            jwk.insert_str("kty", "RSA");
            jwk.insert_str("n", b64(rsa.modulus()));
            jwk.insert_str("e", b64(rsa.exponent()));
        }
    }
    jwk.insert_str("kid", kid);
    JwtAuthority::from_jwk(&jwk).map_err(|source| ConvertError::JwtAuthority {
        field: field(),
        source,
    })
}

/// The DER `SubjectPublicKeyInfo` of a JWT authority's key. Errors name `public_key`.
pub(super) fn jwt_authority_to_spki(authority: &JwtAuthority) -> Result<Vec<u8>, ConvertError> {
    let unsupported = || ConvertError::UnsupportedPublicKey {
        field: FieldPath::new("public_key"),
    };
    let jwk = authority.jwk();
    let member = |name: &str| -> Result<Vec<u8>, ConvertError> {
        jwk.get_str(name)
            .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
            .ok_or_else(unsupported)
    };
    let mut algorithm = Vec::new();
    let mut key_bits = vec![0x00]; // no unused bits
    match jwk.get_str("kty") {
        Some("EC") => {
            let crv = jwk.get_str("crv").ok_or_else(unsupported)?;
            let (_, size, oid) = curve(crv).ok_or_else(unsupported)?;
            let (x, y) = (member("x")?, member("y")?);
            if x.len() != size || y.len() != size {
                return Err(unsupported());
            }
            algorithm.extend_from_slice(OID_EC_PUBLIC_KEY);
            algorithm.extend_from_slice(oid);
            key_bits.push(0x04);
            key_bits.extend_from_slice(&x);
            key_bits.extend_from_slice(&y);
        }
        Some("RSA") => {
            algorithm.extend_from_slice(OID_RSA_ENCRYPTION_NULL);
            let mut integers = Vec::new();
            write_unsigned(&member("n")?, &mut integers);
            write_unsigned(&member("e")?, &mut integers);
            write_tlv(SEQUENCE, &integers, &mut key_bits);
        }
        _ => return Err(unsupported()),
    }
    let mut fields = Vec::new();
    write_tlv(SEQUENCE, &algorithm, &mut fields);
    write_tlv(BIT_STRING, &key_bits, &mut fields);
    let mut spki = Vec::new();
    write_tlv(SEQUENCE, &fields, &mut spki);
    Ok(spki)
}

fn curve(crv: &str) -> Option<(&'static str, usize, &'static [u8])> {
    CURVES.iter().copied().find(|(name, _, _)| *name == crv)
}

/// A DER tag-length-value with a definite, minimal length.
fn write_tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let len = content.len();
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out.push(short),
        _ => {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let count = bytes.len() - skip;
            // At most size_of::<usize>() length octets, so the count fits in the low 7 bits.
            out.push(0x80 | u8::try_from(count).unwrap_or(0x7f));
            out.extend_from_slice(&bytes[skip..]);
        }
    }
    out.extend_from_slice(content);
}

/// A DER INTEGER holding the unsigned big-endian `magnitude`: leading zeros dropped, one zero
/// added when the top bit is set (X.690 §8.3).
fn write_unsigned(magnitude: &[u8], out: &mut Vec<u8>) {
    let start = magnitude
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(magnitude.len());
    let magnitude = &magnitude[start..];
    let mut content = Vec::with_capacity(magnitude.len() + 1);
    if magnitude.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0x00);
    }
    content.extend_from_slice(magnitude);
    write_tlv(INTEGER, &content, out);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_are_minimal() {
        let mut out = Vec::new();
        write_tlv(0x04, &[0; 0x7f], &mut out);
        assert_eq!(&out[..2], [0x04, 0x7f]);
        out.clear();
        write_tlv(0x04, &[0; 0x80], &mut out);
        assert_eq!(&out[..3], [0x04, 0x81, 0x80]);
        out.clear();
        write_tlv(0x04, &[0; 0x1234], &mut out);
        assert_eq!(&out[..4], [0x04, 0x82, 0x12, 0x34]);
        assert_eq!(out.len(), 4 + 0x1234);
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        let encode = |magnitude: &[u8]| {
            let mut out = Vec::new();
            write_unsigned(magnitude, &mut out);
            out
        };
        assert_eq!(encode(&[0x01, 0x00, 0x01]), [0x02, 0x03, 0x01, 0x00, 0x01]);
        assert_eq!(encode(&[0x00, 0x00, 0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(encode(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(encode(&[]), [0x02, 0x01, 0x00]);
    }

    #[test]
    fn keys_of_other_types_are_refused_by_name() {
        // An Ed25519 SPKI (RFC 8410 §4): JWT authorities cannot be OKP keys.
        let mut ed25519 = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        ed25519.extend([0x11; 32]);
        assert_eq!(
            jwt_authority_from_spki("k1", &ed25519),
            Err(ConvertError::UnsupportedPublicKey {
                field: FieldPath::new("public_key")
            })
        );
        // A compressed P-256 point.
        let mut compressed = vec![
            0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00, 0x02,
        ];
        compressed.extend([0x11; 32]);
        assert!(matches!(
            jwt_authority_from_spki("k1", &compressed),
            Err(ConvertError::UnsupportedPublicKey { .. })
        ));
        // An uncompressed point that is not on the curve.
        let mut off_curve = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
        ];
        off_curve.extend([0x11; 64]);
        assert!(matches!(
            jwt_authority_from_spki("k1", &off_curve),
            Err(ConvertError::JwtAuthority { .. })
        ));
        assert!(matches!(
            jwt_authority_from_spki("k1", b"\x30\x00"),
            Err(ConvertError::MalformedPublicKey { .. })
        ));
    }
}
