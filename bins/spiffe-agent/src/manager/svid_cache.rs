//! The X.509-SVID cache: one record per entry, a soft LRU bound, and intermediates parsed once.
//!
//! Invariants a reviewer should check:
//! - A record's SVID is in use while anything besides the cache holds its `Arc` (the Workload
//!   API provider keeps the answer it last served to each live caller). Such a record is never
//!   evicted, so the soft bound can be exceeded by SVIDs in use, never by idle ones.
//! - Eviction removes idle records least recently used first ("used": minted, or handed to a
//!   workload answer).
//! - Intermediate certificates are parsed once and the same [`Certificate`] (one shared
//!   allocation) goes into every chain that carries them; [`SvidCache::prune_intermediates`]
//!   forgets those no record uses.
//! - The private key is kept only as PKCS#8 DER inside the [`X509Svid`] (never logged:
//!   `X509Svid`'s `Debug` omits it).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use spiffe_attest::EntryId;
use spiffe_core::x509::X509Error;
use spiffe_core::{Certificate, X509Svid};

/// The cached SVID of one entry.
#[derive(Debug)]
pub(crate) struct SvidRecord {
    pub(crate) svid: Arc<X509Svid>,
    /// When to re-sign: half the lifetime, with jitter.
    pub(crate) rotate_at: UnixTime,
    /// Re-sign at the next sync whatever `rotate_at` says (entry changed, issuer tainted or
    /// gone from the bundle).
    pub(crate) stale: bool,
    last_used: AtomicU64,
}

impl SvidRecord {
    /// Whether something besides the cache holds the SVID.
    pub(crate) fn in_use(&self) -> bool {
        Arc::strong_count(&self.svid) > 1
    }

    /// Whether the SVID must be re-signed at `now`.
    pub(crate) fn is_due(&self, now: UnixTime) -> bool {
        self.stale || now.as_secs() >= self.rotate_at.as_secs()
    }
}

/// The records, by entry id.
#[derive(Debug, Default)]
pub(crate) struct SvidCache {
    records: HashMap<EntryId, SvidRecord>,
    tick: AtomicU64,
    intermediates: HashMap<CertificateDer<'static>, Certificate>,
}

// === impl SvidCache ===

impl SvidCache {
    /// The earliest expiry among the SVIDs due to be re-signed at `now`: what a failing sync
    /// must retry before.
    pub(crate) fn earliest_due_expiry(&self, now: UnixTime) -> Option<UnixTime> {
        self.records
            .values()
            .filter(|r| r.is_due(now))
            .map(|r| r.svid.leaf().not_after())
            .min_by_key(UnixTime::as_secs)
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn get(&self, id: &str) -> Option<&SvidRecord> {
        self.records.get(id)
    }

    /// The record of `id`, marked as just used.
    pub(crate) fn use_svid(&self, id: &str) -> Option<&Arc<X509Svid>> {
        let record = self.records.get(id)?;
        record.last_used.store(self.next_tick(), Ordering::Relaxed);
        Some(&record.svid)
    }

    pub(crate) fn insert(&mut self, id: EntryId, svid: Arc<X509Svid>, rotate_at: UnixTime) {
        let record = SvidRecord {
            svid,
            rotate_at,
            stale: false,
            last_used: AtomicU64::new(self.next_tick()),
        };
        self.records.insert(id, record);
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<SvidRecord> {
        self.records.remove(id)
    }

    /// Marks the SVID of `id` for re-signing at the next sync.
    pub(crate) fn mark_stale(&mut self, id: &str) {
        if let Some(record) = self.records.get_mut(id) {
            record.stale = true;
        }
    }

    pub(crate) fn mark_all_stale_where(&mut self, mut pred: impl FnMut(&SvidRecord) -> bool) {
        for record in self.records.values_mut() {
            if pred(record) {
                record.stale = true;
            }
        }
    }

    /// Evicts idle records, least recently used first, until at most `max` remain or only
    /// records in use (or `keep`) are left. Returns the evicted ids.
    pub(crate) fn evict(&mut self, max: usize, keep: impl Fn(&EntryId) -> bool) -> Vec<EntryId> {
        if self.records.len() <= max {
            return Vec::new();
        }
        let mut idle: Vec<(u64, EntryId)> = self
            .records
            .iter()
            .filter(|(id, r)| !r.in_use() && !keep(id))
            .map(|(id, r)| (r.last_used.load(Ordering::Relaxed), id.clone()))
            .collect();
        idle.sort_unstable();
        let excess = self.records.len() - max;
        let evicted: Vec<EntryId> = idle.into_iter().take(excess).map(|(_, id)| id).collect();
        for id in &evicted {
            self.records.remove(id);
        }
        evicted
    }

    /// Builds an SVID from a chain the server signed and the key generated for it, reusing
    /// already parsed intermediates.
    pub(crate) fn build_svid(
        &mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<X509Svid, X509Error> {
        let mut certificates = Vec::with_capacity(chain.len());
        let mut ders = chain.into_iter();
        let leaf = ders.next().ok_or(X509Error::NoCertificates)?;
        certificates.push(Certificate::from_der(leaf)?);
        for der in ders {
            let certificate = match self.intermediates.get(&der) {
                Some(known) => known.clone(),
                None => {
                    let parsed = Certificate::from_der(der.clone())?;
                    self.intermediates.insert(der, parsed.clone());
                    parsed
                }
            };
            certificates.push(certificate);
        }
        X509Svid::from_parts(certificates, key)
    }

    /// Forgets intermediates no record's chain carries.
    pub(crate) fn prune_intermediates(&mut self) {
        if self.intermediates.is_empty() {
            return;
        }
        let used: HashSet<&[u8]> = self
            .records
            .values()
            .flat_map(|r| r.svid.chain().iter().skip(1))
            .map(|c| c.der().as_ref())
            .collect();
        self.intermediates
            .retain(|der, _| used.contains(der.as_ref()));
    }

    /// Number of distinct intermediates held.
    pub(crate) fn intermediate_count(&self) -> usize {
        self.intermediates.len()
    }

    fn next_tick(&self) -> u64 {
        self.tick.fetch_add(1, Ordering::Relaxed)
    }
}
