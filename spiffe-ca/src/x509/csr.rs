//! Writing PKCS#10 certification requests (RFC 2986): how a key holder (an agent for its
//! workloads) asks a CA to certify a key it generated, proving possession by signing.

use rustls_pki_types::CertificateSigningRequestDer;

use crate::der_writer::{tag, DerWriter};
use crate::keys::Signer;
use crate::CaError;

use super::profile::signature_params;

/// `version INTEGER 0` (v1, the only version RFC 2986 §4.1 defines).
const VERSION_V1: &[u8] = &[0x02, 0x01, 0x00];

/// A PKCS#10 `CertificationRequest` (RFC 2986 §4) for `signer`'s key, signed by it: an empty
/// subject and no attributes.
///
/// A SPIFFE CA takes only the public key from a request (the SPIFFE ID, DNS names and subject
/// come from its own registration data), so nothing else is written. The signature scheme is
/// the one the key type signs certificates with (ECDSA with SHA-256/384, RSA PKCS#1 v1.5 with
/// SHA-256).
///
/// ```
/// # use std::time::Duration;
/// # use spiffe_ca::keys::{KeyType, SoftwareSigner};
/// # use spiffe_ca::x509::{certification_request, X509SvidRequest};
/// # use spiffe_core::SpiffeId;
/// let key = SoftwareSigner::generate("workload", KeyType::EcP256)?;
/// let csr = certification_request(&key)?;
/// // A CA checks the proof of possession and certifies the key for an ID of its choosing.
/// let id = SpiffeId::new("spiffe://example.org/web")?;
/// let request = X509SvidRequest::from_csr(id, csr.as_ref(), Duration::from_secs(3600))?;
/// # let _ = request;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn certification_request(
    signer: &dyn Signer,
) -> Result<CertificateSigningRequestDer<'static>, CaError> {
    let spki = signer.public_key().spki_der();
    let (scheme, algorithm) = signature_params(signer.public_key().key_type());
    let mut info = DerWriter::with_capacity(spki.len() + 16);
    info.nested(tag::SEQUENCE, |w| {
        w.raw(VERSION_V1);
        // subject: the empty Name.
        w.nested(tag::SEQUENCE, |_| {});
        w.raw(spki);
        // attributes [0] IMPLICIT SET OF Attribute: none.
        w.nested(tag::context_constructed(0), |_| {});
    });
    let info = info.finish();
    let signature = signer.sign(scheme, &info).map_err(CaError::Signer)?;
    let mut csr = DerWriter::with_capacity(info.len() + signature.len() + 32);
    csr.nested(tag::SEQUENCE, |w| {
        w.raw(&info);
        w.raw(algorithm);
        w.octet_aligned_bits(&signature);
    });
    Ok(CertificateSigningRequestDer::from(csr.finish()))
}

#[cfg(test)]
mod tests {
    use spiffe_core::x509::CertificateRequest;

    use super::*;
    use crate::keys::{KeyType, SoftwareSigner};

    #[test]
    fn every_key_type_writes_a_request_that_verifies() {
        for key_type in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
            let key = SoftwareSigner::generate("k", key_type).expect("generate");
            let csr = certification_request(&key).expect("csr");
            let parsed = CertificateRequest::from_der(csr.as_ref()).expect("verifies");
            assert_eq!(
                parsed.subject_public_key_info(),
                key.public_key().spki_der(),
                "{key_type:?}"
            );
            // The empty Name.
            assert_eq!(parsed.subject_der(), &[0x30, 0x00]);
        }
    }

    #[test]
    fn a_tampered_request_is_refused() {
        let key = SoftwareSigner::generate("k", KeyType::EcP256).expect("generate");
        let mut der = certification_request(&key).expect("csr").as_ref().to_vec();
        // Flip a bit of the public key inside the signed info: the signature no longer holds.
        let at = der.len() / 3;
        der[at] ^= 0x01;
        assert!(CertificateRequest::from_der(&der).is_err());
    }
}
