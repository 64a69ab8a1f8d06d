//! Endorsement key certificates: the TPM manufacturer's statement that an EK lives in a
//! genuine TPM. The server accepts one issued directly by a configured manufacturer CA (add
//! intermediate CAs to the configuration as well), valid now, and certifying the EK that the
//! agent sent.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::x509::{Certificate, SignatureAlgorithm, SubjectPublicKeyInfo};

use super::structures::{strip_zeros, RsaPublic};
use super::TpmError;

/// Checks `der` against the manufacturer CAs and that it certifies `ek`.
pub(crate) fn verify_ek_certificate(
    der: &[u8],
    ek: &RsaPublic,
    cas: &[Certificate],
    now: UnixTime,
) -> Result<(), TpmError> {
    let cert = Certificate::from_der(CertificateDer::from(der.to_vec())).map_err(|_| {
        TpmError::Malformed {
            what: "EK certificate",
        }
    })?;
    // The certificate must be about this EK, whoever signed it.
    let spki = SubjectPublicKeyInfo::from_der(cert.subject_public_key_info())
        .map_err(|_| TpmError::EkCertificateMismatch)?;
    let rsa = spki
        .rsa_public_key()
        .ok_or(TpmError::EkCertificateMismatch)?;
    if strip_zeros(rsa.modulus()) != strip_zeros(&ek.modulus)
        || strip_zeros(rsa.exponent()) != ek.exponent_bytes().as_slice()
    {
        return Err(TpmError::EkCertificateMismatch);
    }
    if !cert.is_valid_at(now) {
        return Err(TpmError::EkCertificate {
            reason: "outside its validity period",
        });
    }
    let (tbs, signature) = split_certificate(der)?;
    let issued = cas.iter().any(|ca| {
        ca.subject_der() == cert.issuer_der()
            && ca.is_ca()
            && ca.is_valid_at(now)
            && verify_signature(cert.signature_algorithm(), ca, tbs, signature)
    });
    match issued {
        true => Ok(()),
        false => Err(TpmError::EkCertificate {
            reason: "not issued by a configured manufacturer CA",
        }),
    }
}

fn verify_signature(
    algorithm: SignatureAlgorithm,
    issuer: &Certificate,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let Ok(spki) = SubjectPublicKeyInfo::from_der(issuer.subject_public_key_info()) else {
        return false;
    };
    let is_rsa = spki.rsa_public_key().is_some();
    let alg: &'static dyn VerificationAlgorithm = match (algorithm, is_rsa) {
        (SignatureAlgorithm::RsaPkcs1Sha256, true) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (SignatureAlgorithm::RsaPkcs1Sha384, true) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (SignatureAlgorithm::RsaPkcs1Sha512, true) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (SignatureAlgorithm::RsaPssSha256, true) => &signature::RSA_PSS_2048_8192_SHA256,
        (SignatureAlgorithm::RsaPssSha384, true) => &signature::RSA_PSS_2048_8192_SHA384,
        (SignatureAlgorithm::RsaPssSha512, true) => &signature::RSA_PSS_2048_8192_SHA512,
        (SignatureAlgorithm::EcdsaSha256, false) => match spki.algorithm() {
            spiffe_core::x509::PublicKeyAlgorithm::EcP384 => &signature::ECDSA_P384_SHA256_ASN1,
            _ => &signature::ECDSA_P256_SHA256_ASN1,
        },
        (SignatureAlgorithm::EcdsaSha384, false) => match spki.algorithm() {
            spiffe_core::x509::PublicKeyAlgorithm::EcP256 => &signature::ECDSA_P256_SHA384_ASN1,
            _ => &signature::ECDSA_P384_SHA384_ASN1,
        },
        _ => return false,
    };
    UnparsedPublicKey::new(alg, spki.key_bits())
        .verify(message, signature)
        .is_ok()
}

/// Splits a DER `Certificate` into its `tbsCertificate` TLV and the signature bits.
fn split_certificate(der: &[u8]) -> Result<(&[u8], &[u8]), TpmError> {
    let malformed = TpmError::Malformed {
        what: "EK certificate",
    };
    let (body, rest) = der_tlv(der, 0x30).ok_or(TpmError::Malformed {
        what: "EK certificate",
    })?;
    if !rest.is_empty() {
        return Err(malformed);
    }
    let tbs_len = der_tlv(body, 0x30).map(|(_, rest)| body.len() - rest.len());
    let Some(tbs_len) = tbs_len else {
        return Err(malformed);
    };
    let (tbs, rest) = body.split_at(tbs_len);
    let Some((_, rest)) = der_tlv(rest, 0x30) else {
        return Err(malformed);
    };
    match der_tlv(rest, 0x03) {
        Some(([0, bits @ ..], [])) => Ok((tbs, bits)),
        _ => Err(malformed),
    }
}

/// One DER TLV with tag `tag`: its contents and what follows it.
fn der_tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => (usize::from(*rest.first()?), rest.get(1..)?),
        0x82 => (
            usize::from(*rest.first()?) << 8 | usize::from(*rest.get(1)?),
            rest.get(2..)?,
        ),
        _ => return None,
    };
    (len <= rest.len()).then(|| rest.split_at(len))
}
