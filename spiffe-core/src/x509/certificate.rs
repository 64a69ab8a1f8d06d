use rustls_pki_types::CertificateDer;

use super::X509Error;

/// One parsed X.509 certificate (RFC 5280 `Certificate`), owning its DER.
///
/// STUB: to be replaced by the real single-pass parser.
#[derive(Clone)]
pub struct Certificate {
    der: CertificateDer<'static>,
}

impl Certificate {
    /// Parses one DER certificate.
    pub fn from_der(der: CertificateDer<'static>) -> Result<Self, X509Error> {
        Ok(Self { der })
    }

    /// The certificate's DER.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate").finish_non_exhaustive()
    }
}
