//! The few DER structures the PKCS#11 key manager builds from what a token returns:
//! `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7) for EC (RFC 5480) and RSA (RFC 8017 A.1.1) keys,
//! `Ecdsa-Sig-Value` (RFC 5480 §2.2 / RFC 3279 §2.2.3) from a raw `r || s`, and the SHA-256
//! `DigestInfo` prefix (RFC 8017 §9.2). Encoding is the crate's [`DerWriter`]; this module keeps
//! the PKCS#11-specific constants and shapes.

use crate::der_writer::{tag, DerWriter};

/// `id-ecPublicKey` (1.2.840.10045.2.1), with tag and length.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// `rsaEncryption` (1.2.840.113549.1.1.1) followed by the NULL parameters.
const RSA_ENCRYPTION_ALG: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
/// `prime256v1` (1.2.840.10045.3.1.7): also the `CKA_EC_PARAMS` value for P-256.
pub(super) const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// `secp384r1` (1.3.132.0.34): also the `CKA_EC_PARAMS` value for P-384.
pub(super) const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// `DigestInfo` for SHA-256 up to the digest itself.
pub(super) const SHA256_DIGEST_INFO_PREFIX: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The SPKI of an EC public key: `curve_oid` is [`OID_P256`] or [`OID_P384`], `point` the
/// uncompressed point.
pub(super) fn ec_spki(curve_oid: &[u8], point: &[u8]) -> Vec<u8> {
    let mut w = DerWriter::with_capacity(point.len() + 32);
    w.nested(tag::SEQUENCE, |w| {
        w.nested(tag::SEQUENCE, |w| {
            w.raw(OID_EC_PUBLIC_KEY);
            w.raw(curve_oid);
        });
        w.octet_aligned_bits(point);
    });
    w.finish()
}

/// The SPKI of an RSA public key from its big-endian modulus and public exponent.
pub(super) fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let mut key = DerWriter::with_capacity(modulus.len() + exponent.len() + 16);
    key.nested(tag::SEQUENCE, |w| {
        w.unsigned_integer(modulus);
        w.unsigned_integer(exponent);
    });
    let key = key.finish();
    let mut w = DerWriter::with_capacity(key.len() + 32);
    w.nested(tag::SEQUENCE, |w| {
        w.nested(tag::SEQUENCE, |w| w.raw(RSA_ENCRYPTION_ALG));
        w.octet_aligned_bits(&key);
    });
    w.finish()
}

/// A DER `Ecdsa-Sig-Value` from a raw `r || s` signature (halves of equal length).
pub(super) fn ecdsa_sig_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut w = DerWriter::with_capacity(raw.len() + 8);
    w.nested(tag::SEQUENCE, |w| {
        w.unsigned_integer(r);
        w.unsigned_integer(s);
    });
    w.finish()
}

/// The contents of a DER OCTET STRING that spans all of `der`.
pub(super) fn octet_string(der: &[u8]) -> Option<&[u8]> {
    let (&first_tag, rest) = der.split_first()?;
    if first_tag != tag::OCTET_STRING {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => {
            let (&len, rest) = rest.split_first()?;
            (usize::from(len), rest)
        }
        0x82 => {
            let (len, rest) = rest.split_at_checked(2)?;
            (usize::from(u16::from_be_bytes([len[0], len[1]])), rest)
        }
        _ => return None,
    };
    (rest.len() == len).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octet_strings() {
        assert_eq!(octet_string(&[4, 2, 9, 9]), Some(&[9u8, 9][..]));
        assert_eq!(octet_string(&[4, 3, 9, 9]), None);
        assert_eq!(octet_string(&[3, 2, 9, 9]), None);
        let long = [&[4u8, 0x81, 0x80][..], &[7; 0x80]].concat();
        assert_eq!(octet_string(&long).map(<[u8]>::len), Some(0x80));
    }

    #[test]
    fn ecdsa_signatures_have_minimal_integers() {
        // r = 0x00..01 (leading zeros dropped), s = 0x80.. (a zero octet added).
        let mut raw = [0u8; 64];
        raw[31] = 1;
        raw[32] = 0x80;
        let der = ecdsa_sig_der(&raw);
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x01, 0x01]);
        assert_eq!(&der[5..8], &[0x02, 0x21, 0x00]);
        assert_eq!(der.len(), 0x28);
    }
}
