//! A bounded cache of chains that verified, so a peer that reconnects costs no second chain
//! verification while nothing it depends on has changed.
//!
//! An entry is the presented chain (all its bytes, compared in full), the bundle it verified
//! against and the verified path. It is used only while the bundle source still returns that
//! same bundle object for the peer's trust domain (a rotated bundle is a new object; the entry
//! keeps the old one alive, so its address cannot be reused) and while every certificate of the
//! path is within its validity period at the handshake's time (X509-20). Everything else the
//! verification checked depends only on the bytes. The authorizer runs on every handshake,
//! cached or not. Failures are never cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls_pki_types::{CertificateDer, UnixTime};
use spiffe_core::{TrustDomain, VerifiedX509Svid, X509Bundle, X509BundleSource};

/// Entries kept; when full, the cache starts over (peers in active use come back at once).
const CAPACITY: usize = 256;

/// Verified chains by their presented bytes.
#[derive(Default)]
pub(crate) struct VerifiedCache {
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
}

struct Entry {
    bundle: Arc<X509Bundle>,
    verified: VerifiedX509Svid,
}

// === impl VerifiedCache ===

impl VerifiedCache {
    /// The cache key of a presented chain: each certificate's length and bytes.
    pub(crate) fn key(chain: &[CertificateDer<'_>]) -> Vec<u8> {
        let len = chain.iter().map(|c| c.len() + 8).sum();
        let mut key = Vec::with_capacity(len);
        for cert in chain {
            key.extend_from_slice(&(cert.len() as u64).to_be_bytes());
            key.extend_from_slice(cert);
        }
        key
    }

    /// The cached verification of `key`, if its bundle is still the current one and its path
    /// is valid at `now`.
    pub(crate) fn get(
        &self,
        key: &[u8],
        bundles: &dyn X509BundleSource,
        now: UnixTime,
    ) -> Option<VerifiedX509Svid> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        let current = bundles.x509_bundle_for(&entry.verified.spiffe_id().trust_domain())?;
        if !Arc::ptr_eq(&current, &entry.bundle) {
            return None;
        }
        // X509-20: every certificate of the path, the anchor included, at this handshake's time.
        if !entry.verified.chain().iter().all(|c| c.is_valid_at(now)) {
            return None;
        }
        Some(entry.verified.clone())
    }

    /// Remembers that `key` verified to `verified` against `bundle`.
    pub(crate) fn insert(&self, key: Vec<u8>, bundle: Arc<X509Bundle>, verified: VerifiedX509Svid) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(key, Entry { bundle, verified });
        }
    }
}

/// A bundle source that remembers the bundle it handed out (the verification asks once, for
/// the leaf's trust domain).
pub(crate) struct Recording<'a> {
    inner: &'a dyn X509BundleSource,
    used: Mutex<Vec<Arc<X509Bundle>>>,
}

// === impl Recording ===

impl<'a> Recording<'a> {
    pub(crate) fn new(inner: &'a dyn X509BundleSource) -> Self {
        Self {
            inner,
            used: Mutex::new(Vec::new()),
        }
    }

    /// The bundle handed out, if one bundle object was (however often).
    pub(crate) fn used(self) -> Option<Arc<X509Bundle>> {
        let used = self.used.into_inner().ok()?;
        let first = used.first()?;
        used.iter()
            .all(|b| Arc::ptr_eq(b, first))
            .then(|| first.clone())
    }
}

impl X509BundleSource for Recording<'_> {
    fn x509_bundle_for(&self, trust_domain: &TrustDomain) -> Option<Arc<X509Bundle>> {
        let bundle = self.inner.x509_bundle_for(trust_domain)?;
        if let Ok(mut used) = self.used.lock() {
            used.push(bundle.clone());
        }
        Some(bundle)
    }
}
