use rustls_pki_types::CertificateDer;

use super::{Certificate, X509Error};
use crate::TrustDomain;

/// The X.509 authorities of one trust domain (BUNDLE-1: a bundle is always held with the
/// name of its trust domain).
///
/// Certificates are parsed once, when added, so verification never re-parses a root.
#[derive(Debug, Clone)]
pub struct X509Bundle {
    trust_domain: TrustDomain,
    authorities: Vec<Certificate>,
}

// === impl X509Bundle ===

impl X509Bundle {
    /// An empty bundle: every X.509-SVID of `trust_domain` is untrusted (BUNDLE-9).
    pub fn new(trust_domain: TrustDomain) -> Self {
        Self {
            trust_domain,
            authorities: Vec::new(),
        }
    }

    /// A bundle of already parsed authorities.
    pub fn from_authorities(trust_domain: TrustDomain, authorities: Vec<Certificate>) -> Self {
        let mut bundle = Self::new(trust_domain);
        for authority in authorities {
            bundle.add_authority(authority);
        }
        bundle
    }

    /// Parses each DER certificate and builds a bundle of them.
    pub fn from_der_authorities<I>(trust_domain: TrustDomain, ders: I) -> Result<Self, X509Error>
    where
        I: IntoIterator<Item = CertificateDer<'static>>,
    {
        let authorities = ders
            .into_iter()
            .map(Certificate::from_der)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_authorities(trust_domain, authorities))
    }

    /// The trust domain these authorities belong to.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// Puts the authorities under another trust domain's name (a bundle file does not name
    /// its own, BUNDLE-1).
    pub(crate) fn relabel(&mut self, trust_domain: TrustDomain) {
        self.trust_domain = trust_domain;
    }

    /// The authorities, in the order added.
    pub fn authorities(&self) -> &[Certificate] {
        &self.authorities
    }

    /// Adds an authority; a certificate already present (same DER) is not added twice.
    /// Returns whether it was added.
    pub fn add_authority(&mut self, authority: Certificate) -> bool {
        if self.contains(&authority) {
            return false;
        }
        self.authorities.push(authority);
        true
    }

    /// Removes an authority with the same DER; returns whether one was removed.
    pub fn remove_authority(&mut self, authority: &Certificate) -> bool {
        let before = self.authorities.len();
        self.authorities.retain(|a| a.der() != authority.der());
        self.authorities.len() != before
    }

    /// Whether a certificate with the same DER is an authority here.
    pub fn contains(&self, authority: &Certificate) -> bool {
        self.authorities.iter().any(|a| a.der() == authority.der())
    }

    /// Number of authorities.
    pub fn len(&self) -> usize {
        self.authorities.len()
    }

    /// Whether there are no authorities (BUNDLE-9: nothing of this trust domain verifies).
    pub fn is_empty(&self) -> bool {
        self.authorities.is_empty()
    }
}

impl PartialEq for X509Bundle {
    /// Same trust domain and the same authorities (by DER) in the same order.
    fn eq(&self, other: &Self) -> bool {
        self.trust_domain == other.trust_domain
            && self.authorities.len() == other.authorities.len()
            && self
                .authorities
                .iter()
                .zip(&other.authorities)
                .all(|(a, b)| a.der() == b.der())
    }
}
impl Eq for X509Bundle {}
