//! PEM and DER import and export of X.509 authorities.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rustls_pki_types::pem::{PemObject, SectionKind};

use super::BundleError;
use crate::x509::{parse_certificates, X509Error};
use crate::{TrustDomain, X509Bundle};

const PEM_LINE: usize = 64;

// === impl X509Bundle ===

impl X509Bundle {
    /// Reads the authorities of `trust_domain` from PEM (`CERTIFICATE` blocks) or from one or
    /// more concatenated DER certificates.
    ///
    /// PEM blocks of other types are skipped (CRLs, requests, public keys), except private
    /// keys: a bundle file holding one is refused ([`BundleError::PemPrivateKey`]), as it is
    /// almost certainly the wrong file, and its key material must not travel further. Input
    /// without any certificate is refused ([`BundleError::NoCertificates`]); an empty bundle
    /// is built with [`X509Bundle::new`].
    pub fn parse_pem(trust_domain: TrustDomain, input: &[u8]) -> Result<Self, BundleError> {
        if input.trim_ascii().is_empty() {
            return Err(BundleError::NoCertificates);
        }
        if input.trim_ascii_start().starts_with(b"-----BEGIN") {
            for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(input) {
                let (kind, _) = section.map_err(|_| BundleError::MalformedPem)?;
                if matches!(
                    kind,
                    SectionKind::PrivateKey
                        | SectionKind::RsaPrivateKey
                        | SectionKind::EcPrivateKey
                ) {
                    return Err(BundleError::PemPrivateKey);
                }
            }
        }
        let certificates = parse_certificates(input).map_err(|e| match e {
            X509Error::NoCertificates => BundleError::NoCertificates,
            e => BundleError::Certificate(e),
        })?;
        if certificates.is_empty() {
            return Err(BundleError::NoCertificates);
        }
        Ok(Self::from_authorities(trust_domain, certificates))
    }

    /// The authorities as PEM `CERTIFICATE` blocks, in order, 64 base64 characters a line.
    pub fn to_pem(&self) -> String {
        let mut out = String::new();
        for authority in self.authorities() {
            let encoded = STANDARD.encode(authority.der());
            out.push_str("-----BEGIN CERTIFICATE-----\n");
            for line in encoded.as_bytes().chunks(PEM_LINE) {
                // base64 output is ASCII.
                out.push_str(std::str::from_utf8(line).unwrap_or_default());
                out.push('\n');
            }
            out.push_str("-----END CERTIFICATE-----\n");
        }
        out
    }

    /// The authorities as concatenated DER certificates.
    pub fn to_der(&self) -> Vec<u8> {
        self.authorities()
            .iter()
            .flat_map(|a| a.der().iter().copied())
            .collect()
    }
}
