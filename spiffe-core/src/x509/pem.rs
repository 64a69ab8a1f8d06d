//! Reading lists of certificates given as PEM or as (concatenated) DER.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::der::Reader;

use super::{Certificate, X509Error};

/// Parses certificates from PEM (`-----BEGIN CERTIFICATE-----` blocks; other blocks are
/// skipped) or from one or more concatenated DER certificates, and returns them in order.
///
/// Input without any certificate is an error ([`X509Error::NoCertificates`]).
pub fn parse_certificates(input: &[u8]) -> Result<Vec<Certificate>, X509Error> {
    let certs = if input.trim_ascii_start().starts_with(b"-----BEGIN") {
        CertificateDer::pem_slice_iter(input)
            .map(|der| {
                der.map_err(|_| X509Error::MalformedPem)
                    .and_then(Certificate::from_der)
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        parse_concatenated_der(input)?
    };
    if certs.is_empty() {
        return Err(X509Error::NoCertificates);
    }
    Ok(certs)
}

/// Splits concatenated DER certificates (the Workload API's `x509_svid` and `bundle`
/// fields, WAPI-14) and parses each.
pub(crate) fn parse_concatenated_der(input: &[u8]) -> Result<Vec<Certificate>, X509Error> {
    let mut reader = Reader::new(input);
    let mut certs = Vec::new();
    while !reader.is_empty() {
        let (_, _, raw) = reader.read_any()?;
        certs.push(Certificate::from_der(CertificateDer::from(raw.to_vec()))?);
    }
    Ok(certs)
}
