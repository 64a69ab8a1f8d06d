//! Keys held in process memory and used through aws-lc-rs: the signer behind the `memory` and
//! `disk` key managers.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};

use super::{KeyError, KeyType, PublicKey, Signer, SigningScheme};

/// A software key (aws-lc-rs). Its PKCS#8 form can be exported for persistence
/// ([`SoftwareSigner::to_pkcs8`]); `Debug` shows only the id and key type.
pub struct SoftwareSigner {
    id: String,
    public_key: PublicKey,
    key: Key,
}

enum Key {
    /// The same key loaded twice: aws-lc-rs binds the signature encoding to the key pair.
    Ec {
        asn1: EcdsaKeyPair,
        fixed: EcdsaKeyPair,
    },
    Rsa(RsaKeyPair),
}

// === impl SoftwareSigner ===

impl SoftwareSigner {
    /// Generates a new key of `key_type`.
    pub fn generate(id: impl Into<String>, key_type: KeyType) -> Result<Self, KeyError> {
        let pkcs8 = match key_type {
            KeyType::EcP256 | KeyType::EcP384 => {
                let (asn1, _) = ec_algs(key_type);
                EcdsaKeyPair::generate_pkcs8(asn1, &SystemRandom::new())
                    .map_err(|_| KeyError::Generate { key_type })?
                    .as_ref()
                    .to_vec()
            }
            KeyType::Rsa2048 | KeyType::Rsa4096 => {
                let size = if key_type == KeyType::Rsa2048 {
                    KeySize::Rsa2048
                } else {
                    KeySize::Rsa4096
                };
                let pair =
                    RsaKeyPair::generate(size).map_err(|_| KeyError::Generate { key_type })?;
                let der: Pkcs8V1Der<'static> =
                    pair.as_der().map_err(|_| KeyError::Generate { key_type })?;
                der.as_ref().to_vec()
            }
        };
        Self::from_pkcs8(id, key_type, &pkcs8)
    }

    /// Loads an unencrypted PKCS#8 key that must be of `key_type`.
    pub fn from_pkcs8(
        id: impl Into<String>,
        key_type: KeyType,
        pkcs8: &[u8],
    ) -> Result<Self, KeyError> {
        let rejected = |_| KeyError::MalformedKey { key_type };
        let (key, spki) = match key_type {
            KeyType::EcP256 | KeyType::EcP384 => {
                let (asn1_alg, fixed_alg) = ec_algs(key_type);
                let asn1 = EcdsaKeyPair::from_pkcs8(asn1_alg, pkcs8).map_err(rejected)?;
                let fixed = EcdsaKeyPair::from_pkcs8(fixed_alg, pkcs8).map_err(rejected)?;
                let spki = asn1
                    .public_key()
                    .as_der()
                    .map_err(|_| KeyError::MalformedKey { key_type })?;
                let spki = spki.as_ref().to_vec();
                (Key::Ec { asn1, fixed }, spki)
            }
            KeyType::Rsa2048 | KeyType::Rsa4096 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                let bits = pair.public_modulus_len() * 8;
                let expected = if key_type == KeyType::Rsa2048 {
                    2048
                } else {
                    4096
                };
                if bits != expected {
                    return Err(KeyError::MalformedKey { key_type });
                }
                let spki = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| KeyError::MalformedKey { key_type })?;
                let spki = spki.as_ref().to_vec();
                (Key::Rsa(pair), spki)
            }
        };
        Ok(Self {
            id: id.into(),
            public_key: PublicKey::new(key_type, spki),
            key,
        })
    }

    /// The key as unencrypted PKCS#8 DER, for a key manager to persist. Handle with care.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, KeyError> {
        let key_type = self.public_key.key_type();
        let err = |_| KeyError::MalformedKey { key_type };
        Ok(match &self.key {
            Key::Ec { asn1, .. } => asn1.to_pkcs8v1().map_err(err)?.as_ref().to_vec(),
            Key::Rsa(pair) => {
                let der: Pkcs8V1Der<'static> = pair.as_der().map_err(err)?;
                der.as_ref().to_vec()
            }
        })
    }
}

fn ec_algs(
    key_type: KeyType,
) -> (
    &'static signature::EcdsaSigningAlgorithm,
    &'static signature::EcdsaSigningAlgorithm,
) {
    if key_type == KeyType::EcP384 {
        (
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        )
    } else {
        (
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        )
    }
}

impl Signer for SoftwareSigner {
    fn id(&self) -> &str {
        &self.id
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn sign(&self, scheme: SigningScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let key_type = self.public_key.key_type();
        let unsupported = KeyError::UnsupportedScheme { scheme, key_type };
        let rng = SystemRandom::new();
        match (&self.key, scheme, key_type) {
            (Key::Ec { asn1, .. }, SigningScheme::EcdsaP256Sha256Asn1, KeyType::EcP256)
            | (Key::Ec { asn1, .. }, SigningScheme::EcdsaP384Sha384Asn1, KeyType::EcP384) => asn1
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Sign),
            (Key::Ec { fixed, .. }, SigningScheme::EcdsaP256Sha256Fixed, KeyType::EcP256)
            | (Key::Ec { fixed, .. }, SigningScheme::EcdsaP384Sha384Fixed, KeyType::EcP384) => {
                fixed
                    .sign(&rng, message)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| KeyError::Sign)
            }
            (Key::Rsa(pair), SigningScheme::RsaPkcs1Sha256 | SigningScheme::RsaPssSha256, _) => {
                let padding: &'static dyn signature::RsaEncoding =
                    if scheme == SigningScheme::RsaPkcs1Sha256 {
                        &signature::RSA_PKCS1_SHA256
                    } else {
                        &signature::RSA_PSS_SHA256
                    };
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, message, &mut out)
                    .map_err(|_| KeyError::Sign)?;
                Ok(out)
            }
            _ => Err(unsupported),
        }
    }
}

impl fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareSigner")
            .field("id", &self.id)
            .field("key_type", &self.public_key.key_type())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{UnparsedPublicKey, VerificationAlgorithm};

    use super::*;

    fn spki_point(spki: &[u8], len: usize) -> &[u8] {
        &spki[spki.len() - len..]
    }

    #[test]
    fn signs_and_round_trips_every_key_type() {
        let cases: [(
            KeyType,
            SigningScheme,
            &'static dyn VerificationAlgorithm,
            usize,
        ); 4] = [
            (
                KeyType::EcP256,
                SigningScheme::EcdsaP256Sha256Asn1,
                &signature::ECDSA_P256_SHA256_ASN1,
                65,
            ),
            (
                KeyType::EcP256,
                SigningScheme::EcdsaP256Sha256Fixed,
                &signature::ECDSA_P256_SHA256_FIXED,
                65,
            ),
            (
                KeyType::EcP384,
                SigningScheme::EcdsaP384Sha384Fixed,
                &signature::ECDSA_P384_SHA384_FIXED,
                97,
            ),
            (
                KeyType::EcP384,
                SigningScheme::EcdsaP384Sha384Asn1,
                &signature::ECDSA_P384_SHA384_ASN1,
                97,
            ),
        ];
        for (key_type, scheme, alg, point_len) in cases {
            let signer = SoftwareSigner::generate("k", key_type).expect("generate");
            let sig = signer.sign(scheme, b"message").expect("sign");
            let point = spki_point(signer.public_key().spki_der(), point_len);
            UnparsedPublicKey::new(alg, point)
                .verify(b"message", &sig)
                .expect("signature verifies");
            let again =
                SoftwareSigner::from_pkcs8("k", key_type, &signer.to_pkcs8().expect("export"))
                    .expect("reload");
            assert_eq!(again.public_key(), signer.public_key());
        }
    }

    #[test]
    fn rsa_signs_pkcs1_and_pss() {
        let signer = SoftwareSigner::generate("r", KeyType::Rsa2048).expect("generate");
        let spki = signer.public_key().spki_der();
        for (scheme, alg) in [
            (
                SigningScheme::RsaPkcs1Sha256,
                &signature::RSA_PKCS1_2048_8192_SHA256,
            ),
            (
                SigningScheme::RsaPssSha256,
                &signature::RSA_PSS_2048_8192_SHA256,
            ),
        ] {
            let sig = signer.sign(scheme, b"m").expect("sign");
            // The RSAPublicKey is the BIT STRING's contents: the last 270 bytes of a 2048-bit SPKI.
            UnparsedPublicKey::new(alg, &spki[spki.len() - 270..])
                .verify(b"m", &sig)
                .expect("signature verifies");
        }
        assert!(matches!(
            signer.sign(SigningScheme::EcdsaP256Sha256Asn1, b"m"),
            Err(KeyError::UnsupportedScheme { .. })
        ));
    }

    #[test]
    fn wrong_key_type_and_debug() {
        let signer = SoftwareSigner::generate("k", KeyType::EcP256).expect("generate");
        let pkcs8 = signer.to_pkcs8().expect("export");
        assert!(SoftwareSigner::from_pkcs8("k", KeyType::EcP384, &pkcs8).is_err());
        assert!(SoftwareSigner::from_pkcs8("k", KeyType::Rsa2048, &pkcs8).is_err());
        let debug = format!("{signer:?}");
        assert!(debug.contains("EcP256") && !debug.contains("key:"));
    }
}
