//! Applying an incremental entry sync: the entries the server no longer lists are removed,
//! the full entries it sent are inserted or replace the held ones, and the held revisions follow.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use spiffe_attest::{EntryId, EntryIndex, RegistrationEntry};
use spiffe_core::TrustDomain;

use super::svid_cache::SvidCache;
use crate::server::{AuthorizedEntries, EntryRevision, KnownRevisions};

/// What an entry sync changed.
#[derive(Debug, Default)]
pub(crate) struct EntryChanges {
    pub(crate) added: usize,
    pub(crate) updated: usize,
    pub(crate) removed: Vec<EntryId>,
}

impl EntryChanges {
    pub(crate) fn is_empty(&self) -> bool {
        self.added == 0 && self.updated == 0 && self.removed.is_empty()
    }
}

/// The ids the server says are authorized now.
fn authorized_ids(update: &AuthorizedEntries) -> HashSet<&EntryId> {
    update
        .revisions
        .iter()
        .map(|r| &r.id)
        .chain(update.entries.iter().map(|e| e.id()))
        .collect()
}

/// The trust domains the entries federate with once `update` is applied to `index`.
pub(crate) fn federated_after(index: &EntryIndex, update: &AuthorizedEntries) -> Vec<TrustDomain> {
    let authorized = authorized_ids(update);
    let replaced: HashSet<&EntryId> = update.entries.iter().map(|e| e.id()).collect();
    let mut out = BTreeSet::new();
    for entry in index.iter() {
        if authorized.contains(entry.id()) && !replaced.contains(entry.id()) {
            out.extend(entry.federates_with().iter().cloned());
        }
    }
    for entry in &update.entries {
        out.extend(entry.federates_with().iter().cloned());
    }
    out.into_iter().collect()
}

/// Applies `update` to the index, the SVID cache (an SVID of a removed entry goes; one whose
/// entry changed what the SVID certifies is re-signed) and the held revisions.
pub(crate) fn apply(
    index: &mut EntryIndex,
    svids: &mut SvidCache,
    known: &mut KnownRevisions,
    update: AuthorizedEntries,
) -> EntryChanges {
    let mut changes = EntryChanges::default();
    let authorized = authorized_ids(&update);
    changes.removed = known
        .ids()
        .filter(|id| !authorized.contains(id))
        .cloned()
        .collect();
    for id in &changes.removed {
        index.remove(id.as_str());
        known.remove(id.as_str());
        svids.remove(id.as_str());
    }
    for entry in update.entries {
        let revision = EntryRevision::of(&entry);
        let entry = Arc::new(entry);
        match index.insert(entry.clone()) {
            Some(old) => {
                changes.updated += 1;
                if changes_the_svid(&old, &entry) {
                    svids.mark_stale(entry.id().as_str());
                }
            }
            None => changes.added += 1,
        }
        known.insert(revision);
    }
    changes
}

/// Whether an SVID minted for `old` no longer fits `new`: another SPIFFE ID, DNS names or
/// lifetime. (A change of selectors, hint or federation changes who gets the SVID or what
/// comes with it, not the SVID.)
fn changes_the_svid(old: &RegistrationEntry, new: &RegistrationEntry) -> bool {
    old.spiffe_id() != new.spiffe_id()
        || old.dns_names() != new.dns_names()
        || old.x509_svid_ttl() != new.x509_svid_ttl()
}
