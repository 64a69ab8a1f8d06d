use std::time::Duration;

use spiffe_core::pki_types::UnixTime;
use spiffe_core::TrustDomain;

/// A trust bundle as the server keeps it (SPIRE's `spire.api.types.Bundle`): the server's own
/// or a federated trust domain's.
///
/// Unlike a SPIFFE bundle document, it remembers which authorities were tainted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bundle {
    /// The trust domain.
    pub trust_domain: TrustDomain,
    /// X.509 authorities (CA certificates), in the order published.
    pub x509_authorities: Vec<X509Authority>,
    /// JWT authorities (signing keys), in the order published.
    pub jwt_authorities: Vec<JwtAuthority>,
    /// How often consumers should poll for a new bundle; `None` for no hint.
    pub refresh_hint: Option<Duration>,
    /// The bundle's sequence number (`spiffe_sequence`).
    pub sequence_number: u64,
}

/// An X.509 authority of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct X509Authority {
    /// The CA certificate, DER.
    pub der: Vec<u8>,
    /// Whether the authority was tainted (SVIDs it signed should be replaced).
    pub tainted: bool,
}

/// A JWT authority of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwtAuthority {
    /// The key id (`kid`).
    pub key_id: String,
    /// The public key, DER `SubjectPublicKeyInfo` (SPIRE's `public_key`).
    pub public_key: Vec<u8>,
    /// When the key stops being valid, if ever.
    pub expires_at: Option<UnixTime>,
    /// Whether the key was tainted.
    pub tainted: bool,
}

/// Which fields of a bundle an update replaces (SPIRE's `BundleMask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BundleMask {
    /// `x509_authorities`.
    pub x509_authorities: bool,
    /// `jwt_authorities`.
    pub jwt_authorities: bool,
    /// `refresh_hint`.
    pub refresh_hint: bool,
    /// `sequence_number`.
    pub sequence_number: bool,
}

impl BundleMask {
    /// Every field.
    pub fn all() -> Self {
        Self {
            x509_authorities: true,
            jwt_authorities: true,
            refresh_hint: true,
            sequence_number: true,
        }
    }
}

/// What deleting a federated bundle does to the entries that federate with it (SPIRE's
/// `BatchDeleteFederatedBundleRequest.Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum BundleDeleteMode {
    /// `RESTRICT` (0): refuse while any entry federates with it.
    #[default]
    Restrict,
    /// `DELETE` (1): delete those entries too.
    Delete,
    /// `DISSOCIATE` (2): remove the trust domain from those entries' `federates_with`.
    Dissociate,
}

impl BundleDeleteMode {
    /// From the protobuf enum value; `None` for an unknown value.
    pub fn from_proto(value: i32) -> Option<Self> {
        match value {
            0 => Some(Self::Restrict),
            1 => Some(Self::Delete),
            2 => Some(Self::Dissociate),
            _ => None,
        }
    }
}

// === impl Bundle ===

impl Bundle {
    /// An empty bundle of `trust_domain`.
    pub fn new(trust_domain: TrustDomain) -> Self {
        Self {
            trust_domain,
            x509_authorities: Vec::new(),
            jwt_authorities: Vec::new(),
            refresh_hint: None,
            sequence_number: 0,
        }
    }

    /// Adds `other`'s authorities that this bundle lacks (an X.509 authority by its DER, a JWT
    /// authority by its key id); returns whether anything was added (SPIRE's AppendBundle).
    pub(crate) fn merge(&mut self, other: &Bundle) -> bool {
        let mut changed = false;
        for authority in &other.x509_authorities {
            if !self.x509_authorities.iter().any(|a| a.der == authority.der) {
                self.x509_authorities.push(authority.clone());
                changed = true;
            }
        }
        for key in &other.jwt_authorities {
            if !self.jwt_authorities.iter().any(|k| k.key_id == key.key_id) {
                self.jwt_authorities.push(key.clone());
                changed = true;
            }
        }
        changed
    }

    /// Replaces the fields selected by `mask` with `other`'s.
    pub(crate) fn apply(&mut self, other: &Bundle, mask: BundleMask) {
        if mask.x509_authorities {
            self.x509_authorities = other.x509_authorities.clone();
        }
        if mask.jwt_authorities {
            self.jwt_authorities = other.jwt_authorities.clone();
        }
        if mask.refresh_hint {
            self.refresh_hint = other.refresh_hint;
        }
        if mask.sequence_number {
            self.sequence_number = other.sequence_number;
        }
    }
}

impl X509Authority {
    /// An untainted authority.
    pub fn new(der: impl Into<Vec<u8>>) -> Self {
        Self {
            der: der.into(),
            tainted: false,
        }
    }
}

impl JwtAuthority {
    /// An untainted key.
    pub fn new(
        key_id: impl Into<String>,
        public_key: impl Into<Vec<u8>>,
        expires_at: Option<UnixTime>,
    ) -> Self {
        Self {
            key_id: key_id.into(),
            public_key: public_key.into(),
            expires_at,
            tainted: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_only_missing_authorities() {
        let td = TrustDomain::new("example.org").expect("td");
        let mut a = Bundle::new(td.clone());
        a.x509_authorities.push(X509Authority::new(vec![1]));
        a.jwt_authorities
            .push(JwtAuthority::new("k1", vec![9], None));
        let mut b = Bundle::new(td);
        b.x509_authorities.push(X509Authority::new(vec![1]));
        b.x509_authorities.push(X509Authority::new(vec![2]));
        b.jwt_authorities
            .push(JwtAuthority::new("k1", vec![7], None));
        assert!(a.merge(&b));
        assert_eq!(a.x509_authorities.len(), 2);
        assert_eq!(a.jwt_authorities.len(), 1);
        assert_eq!(a.jwt_authorities[0].public_key, vec![9]);
        assert!(!a.merge(&b), "a second merge adds nothing");
    }
}
