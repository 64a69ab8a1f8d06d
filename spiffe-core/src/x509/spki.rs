//! `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7): the one reader of public keys used by
//! certificates, certificate requests and callers holding a bare SPKI (a CA minting for a key).

use crate::der::{self, tag, DerError, Reader};

use super::algorithm::{KeyKind, PublicKeyAlgorithm};
use super::X509Error;

/// A DER `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7), parsed: its algorithm and key bits,
/// borrowed from the input.
///
/// [`from_der`](Self::from_der) reads exactly one SPKI with the crate's strict DER reader, and
/// for an `rsaEncryption` key also the PKCS#1 `RSAPublicKey` (RFC 8017 §A.1.1) inside it, so a
/// parsed RSA key always has a [`rsa_public_key`](Self::rsa_public_key).
///
/// ```
/// use spiffe_core::x509::{PublicKeyAlgorithm, SubjectPublicKeyInfo, X509Error};
///
/// // An EC P-256 public key.
/// let mut der = vec![
///     0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
///     0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
/// ];
/// der.extend([0x11; 64]);
/// let spki = SubjectPublicKeyInfo::from_der(&der)?;
/// assert_eq!(spki.algorithm(), PublicKeyAlgorithm::EcP256);
/// assert_eq!(spki.key_bits().len(), 65);
/// assert!(spki.rsa_public_key().is_none());
///
/// assert_eq!(
///     SubjectPublicKeyInfo::from_der(b"\x30\x00").unwrap_err(),
///     X509Error::MalformedPublicKey
/// );
/// # Ok::<(), X509Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectPublicKeyInfo<'a> {
    der: &'a [u8],
    kind: KeyKind,
    key_bits: &'a [u8],
}

/// An RSA public key (RFC 8017 §A.1.1 `RSAPublicKey`) as read from a
/// [`SubjectPublicKeyInfo`]: big-endian magnitudes without leading zero octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsaPublicKey<'a> {
    modulus: &'a [u8],
    exponent: &'a [u8],
}

// === impl SubjectPublicKeyInfo ===

impl<'a> SubjectPublicKeyInfo<'a> {
    /// Parses `der` as exactly one DER `SubjectPublicKeyInfo`.
    ///
    /// Keys of any algorithm parse (an unknown one reports [`PublicKeyAlgorithm::Other`]); an
    /// `rsaEncryption` key must hold a well-formed `RSAPublicKey` with a positive modulus and
    /// exponent.
    ///
    /// Errors: [`X509Error::MalformedPublicKey`] for bad DER, trailing data, a subjectPublicKey
    /// BIT STRING with unused bits, or a malformed RSA key.
    pub fn from_der(der: &'a [u8]) -> Result<Self, X509Error> {
        let mut reader = Reader::new(der);
        let spki = Self::read(&mut reader)
            .and_then(|spki| reader.finish().map(|()| spki))
            .map_err(|_| X509Error::MalformedPublicKey)?;
        if spki.kind == KeyKind::Rsa && spki.rsa().is_none() {
            return Err(X509Error::MalformedPublicKey);
        }
        Ok(spki)
    }

    /// Reads one SPKI from `reader`: structure only (the key bits are not interpreted).
    pub(crate) fn read(reader: &mut Reader<'a>) -> Result<Self, DerError> {
        let (value, der) = reader.read_with_raw(tag::SEQUENCE)?;
        let mut fields = Reader::new(value);
        let algorithm = fields.read(tag::SEQUENCE)?;
        let key_bits = fields.read_octet_aligned_bits()?;
        fields.finish()?;
        Ok(Self {
            der,
            kind: KeyKind::from_der(algorithm),
            key_bits,
        })
    }

    /// The whole DER encoding.
    pub fn der(&self) -> &'a [u8] {
        self.der
    }

    /// The key's algorithm (and RSA size).
    pub fn algorithm(&self) -> PublicKeyAlgorithm {
        self.kind.public(self.key_bits)
    }

    /// The subjectPublicKey BIT STRING contents: an uncompressed or compressed EC point, a
    /// PKCS#1 `RSAPublicKey`, or a raw Ed25519 key.
    pub fn key_bits(&self) -> &'a [u8] {
        self.key_bits
    }

    /// The RSA modulus and exponent, or `None` when the key is not an `rsaEncryption` key.
    pub fn rsa_public_key(&self) -> Option<RsaPublicKey<'a>> {
        match self.kind {
            KeyKind::Rsa => self.rsa(),
            _ => None,
        }
    }

    pub(crate) fn kind(&self) -> KeyKind {
        self.kind
    }

    fn rsa(&self) -> Option<RsaPublicKey<'a>> {
        let (n, e) = rsa_public_key(self.key_bits).ok()?;
        Some(RsaPublicKey {
            modulus: positive_magnitude(n)?,
            exponent: positive_magnitude(e)?,
        })
    }
}

// === impl RsaPublicKey ===

impl<'a> RsaPublicKey<'a> {
    /// The modulus `n`, big-endian, without leading zero octets.
    pub fn modulus(&self) -> &'a [u8] {
        self.modulus
    }

    /// The public exponent `e`, big-endian, without leading zero octets.
    pub fn exponent(&self) -> &'a [u8] {
        self.exponent
    }
}

/// `RSAPublicKey` (RFC 8017 §A.1.1): the modulus and public exponent INTEGER contents, checked
/// for minimal encoding only.
pub(crate) fn rsa_public_key(der: &[u8]) -> Result<(&[u8], &[u8]), DerError> {
    let mut seq = Reader::new(der::read_single(der, tag::SEQUENCE)?);
    let n = der::integer_bytes(seq.read(tag::INTEGER)?)?;
    let e = der::integer_bytes(seq.read(tag::INTEGER)?)?;
    seq.finish()?;
    Ok((n, e))
}

/// The magnitude of a minimal INTEGER's contents, if it is positive (neither zero nor negative).
fn positive_magnitude(value: &[u8]) -> Option<&[u8]> {
    match value {
        [0, rest @ ..] if !rest.is_empty() => Some(rest),
        [first, ..] if first & 0x80 == 0 && *first != 0 => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC_P256_HEADER: &[u8] = &[
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];

    fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
        let int = |v: &[u8]| [&[0x02, v.len() as u8][..], v].concat();
        let key = [int(modulus), int(exponent)].concat();
        let key = [&[0x30, key.len() as u8][..], &key].concat();
        let alg = [
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ];
        let bits = [&[0x03, key.len() as u8 + 1, 0][..], &key].concat();
        let body = [&alg[..], &bits].concat();
        [&[0x30, body.len() as u8][..], &body].concat()
    }

    #[test]
    fn ec_key() {
        let der = [EC_P256_HEADER, &[0x04], &[7; 64]].concat();
        let spki = SubjectPublicKeyInfo::from_der(&der).expect("valid SPKI");
        assert_eq!(spki.algorithm(), PublicKeyAlgorithm::EcP256);
        assert_eq!(spki.key_bits(), &der[26..]);
        assert_eq!(spki.der(), &der[..]);
        assert_eq!(spki.rsa_public_key(), None);
    }

    #[test]
    fn rsa_key_components_are_magnitudes() {
        let der = rsa_spki(&[0x00, 0x80, 0x01], &[0x01, 0x00, 0x01]);
        let spki = SubjectPublicKeyInfo::from_der(&der).expect("valid SPKI");
        assert_eq!(spki.algorithm(), PublicKeyAlgorithm::Rsa { bits: 16 });
        let rsa = spki.rsa_public_key().expect("RSA key");
        assert_eq!(rsa.modulus(), [0x80, 0x01]);
        assert_eq!(rsa.exponent(), [0x01, 0x00, 0x01]);
    }

    #[test]
    fn malformed_rsa_keys_rejected() {
        for (n, e) in [
            (&[0x80][..], &[0x03][..]), // negative modulus
            (&[0x00], &[0x03]),         // zero modulus
            (&[0x00, 0x01], &[0x03]),   // non-minimal
            (&[0x01], &[0x00]),         // zero exponent
        ] {
            assert_eq!(
                SubjectPublicKeyInfo::from_der(&rsa_spki(n, e)),
                Err(X509Error::MalformedPublicKey),
                "n {n:02x?} e {e:02x?}"
            );
        }
    }

    #[test]
    fn malformed_and_trailing_rejected() {
        let der = [EC_P256_HEADER, &[0x04], &[7; 64]].concat();
        for bad in [
            &b""[..],
            b"\x30\x00",
            &der[..der.len() - 1],
            &[&der[..], &[0]].concat(),
        ] {
            assert_eq!(
                SubjectPublicKeyInfo::from_der(bad),
                Err(X509Error::MalformedPublicKey)
            );
        }
    }

    #[test]
    fn unknown_algorithms_parse() {
        // Ed448 (1.3.101.113): parses, as an algorithm this crate does not use.
        let mut der = vec![
            0x30, 0x43, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71, 0x03, 0x3a, 0,
        ];
        der.extend([1u8; 57]);
        let spki = SubjectPublicKeyInfo::from_der(&der).expect("valid SPKI");
        assert_eq!(spki.algorithm(), PublicKeyAlgorithm::Other);
        assert_eq!(spki.key_bits().len(), 57);
    }
}
