//! The cache state shared by the sync task (writer) and the Workload API (readers): entries,
//! SVIDs, bundles and the generation that counts changes.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use rustls_pki_types::UnixTime;
use spiffe_attest::{EntryId, EntryIndex, RegistrationEntry, Selector};
use spiffe_core::TrustDomain;

use super::bundles::{IssuerStatus, TrustBundles};
use super::svid_cache::SvidCache;
use super::view::{WorkloadIdentity, WorkloadView};

/// Everything the agent serves from.
#[derive(Debug)]
pub(crate) struct CacheState {
    /// The authorized entries, for selector matching.
    pub(crate) index: EntryIndex,
    pub(crate) svids: SvidCache,
    pub(crate) bundles: TrustBundles,
    /// Bumped on every change a workload could see.
    pub(crate) generation: u64,
}

// === impl CacheState ===

impl CacheState {
    pub(crate) fn new(trust_domain: &TrustDomain) -> Self {
        Self {
            index: EntryIndex::new(trust_domain),
            svids: SvidCache::default(),
            bundles: TrustBundles::default(),
            generation: 0,
        }
    }

    /// What a workload with `selectors` gets at `now`. The agent serves every synced entry
    /// whose selectors are all among the workload's, whatever its parent (the server already
    /// decided the agent may serve it: its own children, those of its node aliases, nested
    /// ones), as SPIRE's agent does.
    pub(crate) fn view(&self, selectors: &[Selector], now: UnixTime) -> WorkloadView {
        let mut entries = self.index.matching(selectors);
        entries.retain(|e| !e.is_expired(now));
        entries.sort_unstable_by(|a, b| a.id().cmp(b.id()));
        let federates_with: BTreeSet<&TrustDomain> =
            entries.iter().flat_map(|e| e.federates_with()).collect();
        let x509_bundles = self.bundles.x509_for(federates_with.iter().copied());
        let jwt_bundles = self.bundles.jwt_for(federates_with.iter().copied());
        let identities = entries
            .into_iter()
            .map(|entry| WorkloadIdentity {
                svid: self.svids.use_svid(entry.id().as_str()).cloned(),
                entry,
            })
            .collect();
        WorkloadView {
            generation: self.generation,
            identities,
            x509_bundles,
            jwt_bundles,
        }
    }

    /// The entries to sign at `now`, most urgent first: those a workload is waiting for, then
    /// SVIDs due for rotation, then entries without an SVID while the cache has room for them
    /// (`max` SVIDs). An entry with `disable_x509_svid_prefetch` is never signed ahead: only
    /// when a workload waits for it; once held, its SVID is rotated like any other (SPIRE's
    /// agent does the same).
    pub(crate) fn plan(
        &self,
        now: UnixTime,
        demand: &HashSet<EntryId>,
        max: usize,
    ) -> Vec<Arc<RegistrationEntry>> {
        let mut wanted = Vec::new();
        let mut due = Vec::new();
        let mut missing = Vec::new();
        for entry in self.index.iter() {
            if entry.is_expired(now) {
                continue;
            }
            let id = entry.id().as_str();
            match self.svids.get(id) {
                Some(record) if !record.is_due(now) => {}
                _ if demand.contains(id) => wanted.push(entry.clone()),
                Some(_) => due.push(entry.clone()),
                None if entry.disable_x509_svid_prefetch() => {}
                None => missing.push(entry.clone()),
            }
        }
        let room = max.saturating_sub(self.svids.len() + wanted.len());
        missing.sort_unstable_by(|a, b| a.id().cmp(b.id()));
        missing.truncate(room);
        wanted.extend(due);
        wanted.extend(missing);
        wanted
    }

    /// After the own bundle changed: marks for re-signing every SVID whose issuer is now
    /// tainted or gone. Returns how many.
    pub(crate) fn mark_untrusted_svids(&mut self) -> usize {
        let bundles = &self.bundles;
        let mut marked = 0;
        self.svids.mark_all_stale_where(|record| {
            let untrusted = bundles.issuer_status(&record.svid) != IssuerStatus::Trusted;
            marked += usize::from(untrusted && !record.stale);
            untrusted
        });
        marked
    }
}
