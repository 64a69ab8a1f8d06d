use std::collections::BTreeMap;

use super::JwtAuthority;
use crate::TrustDomain;

/// The JWT-SVID signing keys of one trust domain, by `kid` (BUNDLE-1, JWT-16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtBundle {
    trust_domain: TrustDomain,
    authorities: BTreeMap<String, JwtAuthority>,
}

// === impl JwtBundle ===

impl JwtBundle {
    /// An empty bundle: every JWT-SVID of `trust_domain` is untrusted (BUNDLE-9).
    pub fn new(trust_domain: TrustDomain) -> Self {
        Self {
            trust_domain,
            authorities: BTreeMap::new(),
        }
    }

    /// The trust domain these keys belong to.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// Adds or replaces the key with the same `kid`; returns the replaced key.
    pub fn insert(&mut self, authority: JwtAuthority) -> Option<JwtAuthority> {
        self.authorities
            .insert(authority.kid().to_owned(), authority)
    }

    /// Removes the key `kid`.
    pub fn remove(&mut self, kid: &str) -> Option<JwtAuthority> {
        self.authorities.remove(kid)
    }

    /// The key `kid`.
    pub fn get(&self, kid: &str) -> Option<&JwtAuthority> {
        self.authorities.get(kid)
    }

    /// The keys, ordered by `kid`.
    pub fn authorities(&self) -> impl ExactSizeIterator<Item = &JwtAuthority> + '_ {
        self.authorities.values()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.authorities.len()
    }

    /// Whether there are no keys (BUNDLE-9).
    pub fn is_empty(&self) -> bool {
        self.authorities.is_empty()
    }
}
