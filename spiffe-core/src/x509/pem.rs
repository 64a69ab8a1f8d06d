//! Reading lists of certificates given as PEM or as (concatenated) DER.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::{Certificate, X509Error};

/// Parses certificates from PEM (`-----BEGIN CERTIFICATE-----` blocks; other blocks are
/// skipped) or from one or more concatenated DER certificates, and returns them in order.
///
/// STUB: the X.509 work replaces this with the real implementation (same signature).
pub fn parse_certificates(input: &[u8]) -> Result<Vec<Certificate>, X509Error> {
    let trimmed = input.trim_ascii_start();
    if trimmed.starts_with(b"-----BEGIN") {
        CertificateDer::pem_slice_iter(input)
            .map(|der| {
                der.map_err(|_| X509Error::MalformedCertificate)
                    .and_then(Certificate::from_der)
            })
            .collect()
    } else {
        Ok(vec![Certificate::from_der(CertificateDer::from(
            input.to_vec(),
        ))?])
    }
}
