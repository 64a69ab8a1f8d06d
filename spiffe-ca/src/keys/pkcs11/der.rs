//! The few DER structures the PKCS#11 key manager builds by hand: `SubjectPublicKeyInfo`
//! (RFC 5280 §4.1.2.7) for EC (RFC 5480) and RSA (RFC 8017 A.1.1) keys, `Ecdsa-Sig-Value`
//! (RFC 5480 §2.2 / RFC 3279 §2.2.3) from a raw `r || s`, and the SHA-256 `DigestInfo`
//! prefix (RFC 8017 §9.2).

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

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;

/// The SPKI of an EC public key: `curve_oid` is [`OID_P256`] or [`OID_P384`], `point` the
/// uncompressed point.
pub(super) fn ec_spki(curve_oid: &[u8], point: &[u8]) -> Vec<u8> {
    let alg = tlv(SEQUENCE, &[OID_EC_PUBLIC_KEY, curve_oid].concat());
    spki(&alg, point)
}

/// The SPKI of an RSA public key from its big-endian modulus and public exponent.
pub(super) fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let alg = tlv(SEQUENCE, RSA_ENCRYPTION_ALG);
    let rsa_public_key = tlv(SEQUENCE, &[integer(modulus), integer(exponent)].concat());
    spki(&alg, &rsa_public_key)
}

/// A DER `Ecdsa-Sig-Value` from a raw `r || s` signature (halves of equal length).
pub(super) fn ecdsa_sig_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    tlv(SEQUENCE, &[integer(r), integer(s)].concat())
}

/// The contents of a DER OCTET STRING that spans all of `der`.
pub(super) fn octet_string(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    if tag != OCTET_STRING {
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

fn spki(alg: &[u8], key: &[u8]) -> Vec<u8> {
    let mut bits = Vec::with_capacity(key.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(key);
    tlv(SEQUENCE, &[alg, &tlv(BIT_STRING, &bits)].concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes.
fn integer(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len().saturating_sub(1));
    let trimmed = magnitude.get(start..).unwrap_or(&[]);
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(INTEGER, &content)
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 4);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        // Nothing built here reaches 64 KiB (an RSA-4096 SPKI is 550 bytes).
        out.push(0x82);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal_and_non_negative() {
        assert_eq!(integer(&[0, 0, 1]), [2, 1, 1]);
        assert_eq!(integer(&[0x80]), [2, 2, 0, 0x80]);
        assert_eq!(integer(&[0, 0]), [2, 1, 0]);
        assert_eq!(integer(&[]), [2, 1, 0]);
        assert_eq!(integer(&[1, 0, 1]), [2, 3, 1, 0, 1]);
    }

    #[test]
    fn octet_strings() {
        assert_eq!(octet_string(&[4, 2, 9, 9]), Some(&[9u8, 9][..]));
        assert_eq!(octet_string(&[4, 3, 9, 9]), None);
        assert_eq!(octet_string(&[3, 2, 9, 9]), None);
        let long = [&[4u8, 0x81, 0x80][..], &[7; 0x80]].concat();
        assert_eq!(octet_string(&long).map(<[u8]>::len), Some(0x80));
    }

    #[test]
    fn long_lengths() {
        assert_eq!(&tlv(SEQUENCE, &[0; 0x80])[..3], &[0x30, 0x81, 0x80]);
        assert_eq!(&tlv(SEQUENCE, &[0; 0x100])[..4], &[0x30, 0x82, 1, 0]);
    }
}
