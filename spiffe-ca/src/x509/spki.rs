//! Reading a `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7) handed to the CA: which key type it
//! is, and its key bits (for the subjectKeyIdentifier and JWKs). Minimal DER reading, strict:
//! anything but EC P-256, EC P-384 and RSA-2048/4096 is "not a key type this CA knows".

use crate::keys::KeyType;

const EC_P256_ALG: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];
const EC_P384_ALG: &[u8] = &[
    0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
    0x00, 0x22,
];
const RSA_ALG: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// A public key the CA understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpkiKey<'a> {
    pub(crate) key_type: KeyType,
    /// The subjectPublicKey BIT STRING contents: an uncompressed EC point or a PKCS#1
    /// `RSAPublicKey`.
    pub(crate) key_bits: &'a [u8],
}

/// Why an SPKI was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpkiError {
    /// Not DER, or not an SPKI.
    Malformed,
    /// A well-formed key of a type or size the CA does not issue for.
    UnknownKeyType,
}

/// Reads `spki` (one whole DER SPKI) and classifies its key.
pub(crate) fn read(spki: &[u8]) -> Result<SpkiKey<'_>, SpkiError> {
    let (contents, rest) = tlv(spki, 0x30)?;
    if !rest.is_empty() {
        return Err(SpkiError::Malformed);
    }
    let (_, after_alg) = tlv(contents, 0x30)?;
    let alg = &contents[..contents.len() - after_alg.len()];
    let (bits, rest) = tlv(after_alg, 0x03)?;
    if !rest.is_empty() {
        return Err(SpkiError::Malformed);
    }
    let key_bits = match bits {
        [0, key @ ..] if !key.is_empty() => key,
        _ => return Err(SpkiError::Malformed),
    };
    let key_type = match alg {
        EC_P256_ALG if key_bits.len() == 65 && key_bits[0] == 0x04 => KeyType::EcP256,
        EC_P384_ALG if key_bits.len() == 97 && key_bits[0] == 0x04 => KeyType::EcP384,
        EC_P256_ALG | EC_P384_ALG => return Err(SpkiError::Malformed),
        RSA_ALG => match rsa_components(key_bits)?.0.len() {
            256 => KeyType::Rsa2048,
            512 => KeyType::Rsa4096,
            _ => return Err(SpkiError::UnknownKeyType),
        },
        _ => return Err(SpkiError::UnknownKeyType),
    };
    Ok(SpkiKey { key_type, key_bits })
}

/// The modulus and public exponent magnitudes (no leading zero octets) of a PKCS#1
/// `RSAPublicKey`.
pub(crate) fn rsa_components(key: &[u8]) -> Result<(&[u8], &[u8]), SpkiError> {
    let (seq, rest) = tlv(key, 0x30)?;
    if !rest.is_empty() {
        return Err(SpkiError::Malformed);
    }
    let (n, rest) = tlv(seq, 0x02)?;
    let (e, rest) = tlv(rest, 0x02)?;
    if !rest.is_empty() {
        return Err(SpkiError::Malformed);
    }
    fn magnitude(v: &[u8]) -> Result<&[u8], SpkiError> {
        match v {
            [0, rest @ ..] if rest.first().is_some_and(|b| b & 0x80 != 0) => Ok(rest),
            [first, ..] if first & 0x80 == 0 && *first != 0 => Ok(v),
            _ => Err(SpkiError::Malformed), // empty, negative or non-minimal
        }
    }
    Ok((magnitude(n)?, magnitude(e)?))
}

/// Reads one TLV with tag `expected` (definite, minimal lengths up to 2 octets); returns its
/// contents and what follows.
fn tlv(input: &[u8], expected: u8) -> Result<(&[u8], &[u8]), SpkiError> {
    let (&tag, rest) = input.split_first().ok_or(SpkiError::Malformed)?;
    if tag != expected {
        return Err(SpkiError::Malformed);
    }
    let (&first, rest) = rest.split_first().ok_or(SpkiError::Malformed)?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => match rest.split_first() {
            Some((&len, rest)) if len >= 0x80 => (usize::from(len), rest),
            _ => return Err(SpkiError::Malformed),
        },
        0x82 => match rest {
            [hi, lo, rest @ ..] if *hi != 0 => ((usize::from(*hi) << 8) | usize::from(*lo), rest),
            _ => return Err(SpkiError::Malformed),
        },
        _ => return Err(SpkiError::Malformed),
    };
    if rest.len() < len {
        return Err(SpkiError::Malformed);
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{SoftwareSigner, Signer};

    #[test]
    fn classifies_generated_keys() {
        for key_type in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
            let signer = SoftwareSigner::generate("k", key_type).expect("generate");
            let key = read(signer.public_key().spki_der()).expect("valid SPKI");
            assert_eq!(key.key_type, key_type);
        }
    }

    #[test]
    fn rejects_garbage_and_unknown() {
        assert_eq!(read(&[]), Err(SpkiError::Malformed));
        assert_eq!(read(&[0x30, 0x00]), Err(SpkiError::Malformed));
        let signer = SoftwareSigner::generate("k", KeyType::EcP256).expect("generate");
        let mut spki = signer.public_key().spki_der().to_vec();
        spki.push(0);
        assert_eq!(read(&spki), Err(SpkiError::Malformed));
        // Ed25519 SPKI.
        let mut ed = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
        ed.extend([1u8; 32]);
        assert_eq!(read(&ed), Err(SpkiError::UnknownKeyType));
    }
}
