//! What an X.509-SVID is minted from ([`X509SvidRequest`]) and what minting returns
//! ([`MintedX509Svid`]).

use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use spiffe_core::x509::{CertificateRequest, X509Error};
use spiffe_core::SpiffeId;

use crate::keys::PublicKey;
use crate::CaError;

use super::profile::attribute;
use crate::der_writer::{tag, DerWriter};

/// Upper bound on a subject attribute value (RFC 5280 `ub-common-name` and friends are 64).
const MAX_ATTRIBUTE_LEN: usize = 64;

/// A request for one X.509-SVID: the SPIFFE ID, the public key to certify, the TTL, and
/// optionally DNS SANs and a subject.
///
/// ```
/// # use std::time::Duration;
/// # use spiffe_ca::keys::{KeyType, SoftwareSigner, Signer};
/// # use spiffe_ca::x509::{SubjectName, X509SvidRequest};
/// # use spiffe_core::SpiffeId;
/// let key = SoftwareSigner::generate("workload", KeyType::EcP256)?;
/// let id = SpiffeId::new("spiffe://example.org/web")?;
/// let request = X509SvidRequest::new(id, key.public_key(), Duration::from_secs(3600))
///     .with_dns_names(["web.example.org"])
///     .with_subject(SubjectName::new().with_common_name("web"));
/// assert_eq!(request.dns_names(), ["web.example.org"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct X509SvidRequest {
    spiffe_id: SpiffeId,
    spki_der: Vec<u8>,
    ttl: Duration,
    dns_names: Vec<String>,
    subject: Option<SubjectName>,
}

// === impl X509SvidRequest ===

impl X509SvidRequest {
    /// A request to certify `public_key` as `spiffe_id` for `ttl`.
    pub fn new(spiffe_id: SpiffeId, public_key: &PublicKey, ttl: Duration) -> Self {
        Self::from_spki_der(spiffe_id, public_key.spki_der().to_vec(), ttl)
    }

    /// A request to certify the key in `spki_der` (a DER `SubjectPublicKeyInfo`, checked when
    /// minting).
    pub fn from_spki_der(spiffe_id: SpiffeId, spki_der: Vec<u8>, ttl: Duration) -> Self {
        Self {
            spiffe_id,
            spki_der,
            ttl,
            dns_names: Vec::new(),
            subject: None,
        }
    }

    /// A request to certify the key of a PKCS#10 CSR, after checking the CSR's signature
    /// (proof of possession). Only the CSR's public key is used: the ID, TTL, DNS names and
    /// subject are the caller's.
    pub fn from_csr(spiffe_id: SpiffeId, csr_der: &[u8], ttl: Duration) -> Result<Self, CaError> {
        let csr = CertificateRequest::from_der(csr_der).map_err(|e| match e {
            X509Error::CsrSignatureInvalid => CaError::CsrSignatureInvalid,
            other => CaError::MalformedCsr(other),
        })?;
        Ok(Self::from_spki_der(
            spiffe_id,
            csr.subject_public_key_info().to_vec(),
            ttl,
        ))
    }

    /// Adds DNS SANs (X509-3), after the URI SAN.
    pub fn with_dns_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.dns_names.extend(names.into_iter().map(Into::into));
        self
    }

    /// Sets the subject; without one the subject is empty and the SAN critical (X509-6).
    pub fn with_subject(mut self, subject: SubjectName) -> Self {
        self.subject = Some(subject);
        self
    }

    /// The SPIFFE ID.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.spiffe_id
    }

    /// The public key to certify, as `SubjectPublicKeyInfo` DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The requested lifetime (clamped to the authority's).
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The DNS SANs.
    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }

    /// The subject, if set.
    pub fn subject(&self) -> Option<&SubjectName> {
        self.subject.as_ref()
    }
}

/// A certificate subject (RFC 5280 `Name`) built from the common attributes, written in the
/// order C, O, OU, CN. Values are UTF8String (C: PrintableString, two letters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectName {
    country: Option<String>,
    organization: Option<String>,
    organizational_unit: Option<String>,
    common_name: Option<String>,
}

// === impl SubjectName ===

impl SubjectName {
    /// An empty subject.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the country (`C`, two letters).
    pub fn with_country(mut self, value: impl Into<String>) -> Self {
        self.country = Some(value.into());
        self
    }

    /// Sets the organization (`O`).
    pub fn with_organization(mut self, value: impl Into<String>) -> Self {
        self.organization = Some(value.into());
        self
    }

    /// Sets the organizational unit (`OU`).
    pub fn with_organizational_unit(mut self, value: impl Into<String>) -> Self {
        self.organizational_unit = Some(value.into());
        self
    }

    /// Sets the common name (`CN`).
    pub fn with_common_name(mut self, value: impl Into<String>) -> Self {
        self.common_name = Some(value.into());
        self
    }

    /// Whether no attribute is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The `Name` DER, after checking every value.
    pub(crate) fn to_der(&self) -> Result<Vec<u8>, CaError> {
        let check = |attribute: &'static str, value: &str| {
            if value.is_empty() || value.len() > MAX_ATTRIBUTE_LEN {
                Err(CaError::InvalidSubject { attribute })
            } else {
                Ok(())
            }
        };
        if let Some(c) = &self.country {
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(CaError::InvalidSubject { attribute: "C" });
            }
        }
        let attrs: [(&'static str, &[u8], u8, Option<&String>); 4] = [
            (
                "C",
                &[0x06, 0x03, 0x55, 0x04, 0x06],
                tag::PRINTABLE_STRING,
                self.country.as_ref(),
            ),
            (
                "O",
                &[0x06, 0x03, 0x55, 0x04, 0x0a],
                tag::UTF8_STRING,
                self.organization.as_ref(),
            ),
            (
                "OU",
                &[0x06, 0x03, 0x55, 0x04, 0x0b],
                tag::UTF8_STRING,
                self.organizational_unit.as_ref(),
            ),
            (
                "CN",
                &[0x06, 0x03, 0x55, 0x04, 0x03],
                tag::UTF8_STRING,
                self.common_name.as_ref(),
            ),
        ];
        for (name, _, _, value) in &attrs {
            if let Some(value) = value {
                check(name, value)?;
            }
        }
        let mut w = DerWriter::with_capacity(128);
        w.nested(tag::SEQUENCE, |w| {
            for (_, oid, string_tag, value) in &attrs {
                if let Some(value) = value {
                    attribute(w, oid, *string_tag, value.as_bytes());
                }
            }
        });
        Ok(w.finish())
    }
}

/// A minted X.509-SVID: the leaf and the chain to present with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedX509Svid {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) spiffe_id: SpiffeId,
    pub(crate) expires_at: UnixTime,
}

// === impl MintedX509Svid ===

impl MintedX509Svid {
    /// The leaf certificate.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }

    /// The chain to present: the leaf first, then the intermediates up to (not including) the
    /// trust anchor.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The chain, owned.
    pub fn into_chain(self) -> Vec<CertificateDer<'static>> {
        self.chain
    }

    /// The SPIFFE ID certified.
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.spiffe_id
    }

    /// The leaf's notAfter.
    pub fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

/// Checks a DNS SAN: a hostname (RFC 1123 labels, letters, digits and hyphens), optionally
/// with a leading `*.` wildcard label, at most 253 bytes.
pub(crate) fn valid_dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        for ok in ["a", "web.example.org", "*.example.org", "x-1.y"] {
            assert!(valid_dns_name(ok), "{ok}");
        }
        for bad in [
            "", ".", "a..b", "-a", "a-", "a b", "*", "a.*.b", "é.org", "a.",
        ] {
            assert!(!valid_dns_name(bad), "{bad}");
        }
        assert!(!valid_dns_name(&"a".repeat(64)));
    }

    #[test]
    fn subject_checks_values() {
        let der = SubjectName::new()
            .with_country("US")
            .with_common_name("w")
            .to_der()
            .expect("valid");
        assert_eq!(der[0], 0x30);
        assert!(matches!(
            SubjectName::new().with_country("USA").to_der(),
            Err(CaError::InvalidSubject { attribute: "C" })
        ));
        assert!(matches!(
            SubjectName::new().with_common_name("").to_der(),
            Err(CaError::InvalidSubject { attribute: "CN" })
        ));
        assert_eq!(SubjectName::new().to_der().expect("empty"), [0x30, 0x00]);
    }
}
