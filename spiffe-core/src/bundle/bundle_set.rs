use std::collections::btree_map;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::{BundleMap, SpiffeBundle};
use crate::{JwtBundle, JwtBundleSource, TrustDomain, X509Bundle, X509BundleSource};

/// Trust bundles of several trust domains, each kept under its own name (BUNDLE-1, FED-7:
/// never pooled), ready to hand to verifiers as an [`X509BundleSource`] and a
/// [`JwtBundleSource`].
///
/// A trust domain may have X.509 authorities, JWT authorities or both. Bundles are held in
/// `Arc`s, so answering a source query is a reference-count increment.
///
/// ```
/// use spiffe_core::bundle::BundleSet;
/// use spiffe_core::{TrustDomain, X509Bundle, X509BundleSource};
///
/// let td = TrustDomain::new("example.org")?;
/// let mut set = BundleSet::new();
/// set.insert_x509(X509Bundle::new(td.clone()));
/// assert!(set.x509_bundle_for(&td).is_some());
/// assert!(set.x509_bundle_for(&TrustDomain::new("other.org")?).is_none());
/// # Ok::<(), spiffe_core::IdError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleSet {
    entries: BTreeMap<TrustDomain, BundleSetEntry>,
}

/// The bundles of one trust domain in a [`BundleSet`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleSetEntry {
    x509: Option<Arc<X509Bundle>>,
    jwt: Option<Arc<JwtBundle>>,
}

// === impl BundleSet ===

impl BundleSet {
    /// An empty set: every SVID is untrusted.
    pub fn new() -> Self {
        Self::default()
    }

    /// The X.509 and JWT authorities of a SPIFFE bundle, replacing both of its trust domain
    /// (BUNDLE-2: a newer bundle is the whole truth; a key it lacks is revoked). Empty
    /// authorities are kept as empty bundles (BUNDLE-9).
    pub fn insert_bundle(&mut self, bundle: SpiffeBundle) {
        let (x509, jwt) = bundle.into_parts();
        let entry = self.entries.entry(x509.trust_domain().clone()).or_default();
        entry.x509 = Some(Arc::new(x509));
        entry.jwt = Some(Arc::new(jwt));
    }

    /// Adds or replaces the X.509 bundle of its trust domain; returns the replaced one.
    pub fn insert_x509(&mut self, bundle: impl Into<Arc<X509Bundle>>) -> Option<Arc<X509Bundle>> {
        let bundle = bundle.into();
        let entry = self
            .entries
            .entry(bundle.trust_domain().clone())
            .or_default();
        entry.x509.replace(bundle)
    }

    /// Adds or replaces the JWT bundle of its trust domain; returns the replaced one.
    pub fn insert_jwt(&mut self, bundle: impl Into<Arc<JwtBundle>>) -> Option<Arc<JwtBundle>> {
        let bundle = bundle.into();
        let entry = self
            .entries
            .entry(bundle.trust_domain().clone())
            .or_default();
        entry.jwt.replace(bundle)
    }

    /// Removes both bundles of `trust_domain` (FED-31: ending a federation relationship);
    /// returns whether there was any.
    pub fn remove(&mut self, trust_domain: &str) -> bool {
        self.entries.remove(trust_domain).is_some()
    }

    /// Removes the X.509 bundle of `trust_domain`.
    pub fn remove_x509(&mut self, trust_domain: &str) -> Option<Arc<X509Bundle>> {
        let entry = self.entries.get_mut(trust_domain)?;
        let removed = entry.x509.take();
        self.prune(trust_domain);
        removed
    }

    /// Removes the JWT bundle of `trust_domain`.
    pub fn remove_jwt(&mut self, trust_domain: &str) -> Option<Arc<JwtBundle>> {
        let entry = self.entries.get_mut(trust_domain)?;
        let removed = entry.jwt.take();
        self.prune(trust_domain);
        removed
    }

    fn prune(&mut self, trust_domain: &str) {
        if self
            .entries
            .get(trust_domain)
            .is_some_and(|e| e.x509.is_none() && e.jwt.is_none())
        {
            self.entries.remove(trust_domain);
        }
    }

    /// The X.509 bundle of `trust_domain` (a name or a [`TrustDomain`]).
    pub fn x509_bundle(&self, trust_domain: &str) -> Option<&Arc<X509Bundle>> {
        self.entries.get(trust_domain)?.x509.as_ref()
    }

    /// The JWT bundle of `trust_domain` (a name or a [`TrustDomain`]).
    pub fn jwt_bundle(&self, trust_domain: &str) -> Option<&Arc<JwtBundle>> {
        self.entries.get(trust_domain)?.jwt.as_ref()
    }

    /// Whether any bundle of `trust_domain` is held.
    pub fn contains(&self, trust_domain: &str) -> bool {
        self.entries.contains_key(trust_domain)
    }

    /// The trust domains with at least one bundle, in name order.
    pub fn trust_domains(&self) -> btree_map::Keys<'_, TrustDomain, BundleSetEntry> {
        self.entries.keys()
    }

    /// Each trust domain with its bundles, in name order.
    pub fn iter(&self) -> btree_map::Iter<'_, TrustDomain, BundleSetEntry> {
        self.entries.iter()
    }

    /// Number of trust domains with at least one bundle.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no bundle is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl From<BundleMap> for BundleSet {
    /// The complete state of the world a Bundle Map describes (BUNDLE-17).
    fn from(map: BundleMap) -> Self {
        map.into_iter().collect()
    }
}

impl FromIterator<SpiffeBundle> for BundleSet {
    fn from_iter<I: IntoIterator<Item = SpiffeBundle>>(bundles: I) -> Self {
        let mut set = Self::new();
        set.extend(bundles);
        set
    }
}

impl Extend<SpiffeBundle> for BundleSet {
    fn extend<I: IntoIterator<Item = SpiffeBundle>>(&mut self, bundles: I) {
        for bundle in bundles {
            self.insert_bundle(bundle);
        }
    }
}

impl<'a> IntoIterator for &'a BundleSet {
    type Item = (&'a TrustDomain, &'a BundleSetEntry);
    type IntoIter = btree_map::Iter<'a, TrustDomain, BundleSetEntry>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Answers with the bundle of exactly the asked trust domain (WAPI-11, FED-7), or `None`.
impl X509BundleSource for BundleSet {
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>> {
        self.x509_bundle(trust_domain.as_str()).cloned()
    }
}

/// Answers with the bundle of exactly the asked trust domain (JWT-20), or `None`.
impl JwtBundleSource for BundleSet {
    fn jwt_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<JwtBundle>> {
        self.jwt_bundle(trust_domain.as_str()).cloned()
    }
}

// === impl BundleSetEntry ===

impl BundleSetEntry {
    /// The X.509 authorities, if held.
    pub fn x509(&self) -> Option<&Arc<X509Bundle>> {
        self.x509.as_ref()
    }

    /// The JWT authorities, if held.
    pub fn jwt(&self) -> Option<&Arc<JwtBundle>> {
        self.jwt.as_ref()
    }
}
