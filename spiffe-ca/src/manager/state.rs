//! The manager's state: journaled records with their live authorities, and the bundle they
//! publish.

use std::sync::Arc;

use rustls_pki_types::UnixTime;
use spiffe_core::{JwtBundle, SpiffeBundle, TrustDomain, X509Bundle};

use crate::jwt::JwtSvidIssuer;
use crate::x509::X509SvidIssuer;

use super::journal::{AuthorityStatus, JournalState, JwtKeyRecord, X509AuthorityRecord};

/// An X.509 authority: its journal record and the authority built from it.
#[derive(Debug, Clone)]
pub(crate) struct X509Entry {
    pub(crate) record: X509AuthorityRecord,
    pub(crate) authority: Arc<X509SvidIssuer>,
}

/// A JWT key: its journal record and the signing authority built from it.
#[derive(Debug, Clone)]
pub(crate) struct JwtEntry {
    pub(crate) record: JwtKeyRecord,
    pub(crate) authority: Arc<JwtSvidIssuer>,
}

/// Common view of both entry kinds, for the slot logic.
pub(crate) trait Entry {
    fn id(&self) -> &str;
    fn key_id(&self) -> &str;
    fn status(&self) -> AuthorityStatus;
    fn set_status(&mut self, status: AuthorityStatus);
    fn tainted(&self) -> bool;
    fn set_tainted(&mut self);
    fn not_before(&self) -> u64;
    fn not_after(&self) -> u64;
}

macro_rules! impl_entry {
    ($ty:ty, $id:ident) => {
        impl Entry for $ty {
            fn id(&self) -> &str {
                &self.record.$id
            }
            fn key_id(&self) -> &str {
                &self.record.key_id
            }
            fn status(&self) -> AuthorityStatus {
                self.record.status
            }
            fn set_status(&mut self, status: AuthorityStatus) {
                self.record.status = status;
            }
            fn tainted(&self) -> bool {
                self.record.tainted
            }
            fn set_tainted(&mut self) {
                self.record.tainted = true;
            }
            fn not_before(&self) -> u64 {
                self.record.not_before
            }
            fn not_after(&self) -> u64 {
                self.record.not_after
            }
        }
    };
}

impl_entry!(X509Entry, authority_id);
impl_entry!(JwtEntry, kid);

/// Everything the manager knows; replaced as a whole on every change.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) bundle_sequence: u64,
    pub(crate) x509: Vec<X509Entry>,
    pub(crate) jwt: Vec<JwtEntry>,
    pub(crate) revoked_x509: Vec<String>,
    pub(crate) revoked_jwt: Vec<String>,
}

// === impl State ===

impl State {
    /// The journal form of this state.
    pub(crate) fn to_journal(&self, trust_domain: &TrustDomain) -> JournalState {
        let mut journal = JournalState::new(trust_domain.as_str());
        journal.bundle_sequence = self.bundle_sequence;
        journal.x509 = self.x509.iter().map(|e| e.record.clone()).collect();
        journal.jwt = self.jwt.iter().map(|e| e.record.clone()).collect();
        journal.revoked_x509 = self.revoked_x509.clone();
        journal.revoked_jwt = self.revoked_jwt.clone();
        journal
    }

    /// The trust bundle: every authority held (revoked ones are no longer held; expired ones
    /// are pruned by rotation) in creation order, with the sequence number.
    pub(crate) fn bundle(&self, trust_domain: &TrustDomain) -> SpiffeBundle {
        let mut x509 = X509Bundle::new(trust_domain.clone());
        for entry in &self.x509 {
            // Intermediates under one upstream share their anchor; `add_authority` dedupes.
            x509.add_authority(entry.authority.trust_anchor().clone());
        }
        let mut jwt = JwtBundle::new(trust_domain.clone());
        for entry in &self.jwt {
            jwt.insert(entry.authority.jwt_authority());
        }
        let mut bundle = SpiffeBundle::new(trust_domain.clone());
        // Both parts are of `trust_domain`, so neither setter can fail.
        let _ = bundle.set_x509_authorities(x509);
        let _ = bundle.set_jwt_authorities(jwt);
        bundle.set_sequence(Some(self.bundle_sequence));
        bundle
    }
}

/// The index of the entry with `status`.
pub(crate) fn position<E: Entry>(entries: &[E], status: AuthorityStatus) -> Option<usize> {
    entries.iter().position(|e| e.status() == status)
}

/// Removes entries that are past their notAfter at `now` (never the active one); returns
/// their key ids.
pub(crate) fn prune_expired<E: Entry>(entries: &mut Vec<E>, now: UnixTime) -> Vec<String> {
    let now = now.as_secs();
    let mut removed = Vec::new();
    entries.retain(|e| {
        // An authority stays in the bundle through its last second of validity: an SVID it
        // signed may expire at that very second.
        let keep = e.status() == AuthorityStatus::Active || now <= e.not_after();
        if !keep {
            removed.push(e.key_id().to_owned());
        }
        keep
    });
    removed
}

/// Makes the prepared entry active and the active one old. Returns false when nothing is
/// prepared.
pub(crate) fn activate_prepared<E: Entry>(entries: &mut [E]) -> bool {
    let Some(next) = position(entries, AuthorityStatus::Prepared) else {
        return false;
    };
    if let Some(current) = position(entries, AuthorityStatus::Active) {
        entries[current].set_status(AuthorityStatus::Old);
    }
    entries[next].set_status(AuthorityStatus::Active);
    true
}
