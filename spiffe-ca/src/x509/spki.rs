//! Classifying a `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7) handed to the CA: which key type
//! it is, and its key bits (for the subjectKeyIdentifier and JWKs). The DER is read by
//! [`SubjectPublicKeyInfo`]; this module only maps it onto the CA's [`KeyType`]s, strictly:
//! anything but EC P-256, EC P-384 and RSA-2048/4096 is "not a key type this CA knows".

use spiffe_core::x509::{PublicKeyAlgorithm, RsaPublicKey, SubjectPublicKeyInfo};

use crate::keys::KeyType;

/// A public key the CA understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpkiKey<'a> {
    pub(crate) key_type: KeyType,
    /// The subjectPublicKey BIT STRING contents: an uncompressed EC point or a PKCS#1
    /// `RSAPublicKey`.
    pub(crate) key_bits: &'a [u8],
    /// The modulus and exponent of an RSA key.
    pub(crate) rsa: Option<RsaPublicKey<'a>>,
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
    let info = SubjectPublicKeyInfo::from_der(spki).map_err(|_| SpkiError::Malformed)?;
    let key_bits = info.key_bits();
    if key_bits.is_empty() {
        return Err(SpkiError::Malformed);
    }
    let rsa = info.rsa_public_key();
    let uncompressed = |len: usize| key_bits.len() == len && key_bits[0] == 0x04;
    let key_type = match info.algorithm() {
        PublicKeyAlgorithm::EcP256 if uncompressed(65) => KeyType::EcP256,
        PublicKeyAlgorithm::EcP384 if uncompressed(97) => KeyType::EcP384,
        PublicKeyAlgorithm::EcP256 | PublicKeyAlgorithm::EcP384 => {
            return Err(SpkiError::Malformed)
        }
        // `from_der` checked the `RSAPublicKey` of every rsaEncryption key.
        PublicKeyAlgorithm::Rsa { .. } => match rsa.map(|key| key.modulus().len()) {
            Some(256) => KeyType::Rsa2048,
            Some(512) => KeyType::Rsa4096,
            _ => return Err(SpkiError::UnknownKeyType),
        },
        _ => return Err(SpkiError::UnknownKeyType),
    };
    Ok(SpkiKey {
        key_type,
        key_bits,
        rsa,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Signer, SoftwareSigner};

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
        let mut ed = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        ed.extend([1u8; 32]);
        assert_eq!(read(&ed), Err(SpkiError::UnknownKeyType));
    }
}
