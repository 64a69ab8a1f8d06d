//! The manager's state: journaled records with their live authorities, and the bundle they
//! publish.

use std::sync::Arc;

use rustls_pki_types::UnixTime;
use spiffe_core::{Certificate, JwtBundle, SpiffeBundle, TrustDomain, X509Bundle};

use crate::jwt::JwtSvidIssuer;
use crate::x509::X509SvidIssuer;

use super::journal::{AuthorityStatus, JournalState, JwtKeyRecord, X509AuthorityRecord};

/// An X.509 authority: its journal record and the authority built from it.
#[derive(Debug, Clone)]
pub(crate) struct X509Entry {
    pub(crate) record: X509AuthorityRecord,
    pub(crate) authority: Arc<X509SvidIssuer>,
    /// The id of the upstream root it chains to (the trust anchor it puts in the bundle);
    /// `None` when self-signed.
    pub(crate) upstream_id: Option<String>,
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
    /// The upstream root an X.509 authority chains to; `None` for self-signed and JWT.
    fn upstream_id(&self) -> Option<&str> {
        None
    }
}

macro_rules! impl_entry {
    ($ty:ty, $id:ident { $($extra:tt)* }) => {
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
            $($extra)*
        }
    };
}

impl_entry!(X509Entry, authority_id {
    fn upstream_id(&self) -> Option<&str> {
        self.upstream_id.as_deref()
    }
});
impl_entry!(JwtEntry, kid {});

// === impl X509Entry ===

impl X509Entry {
    pub(crate) fn new(record: X509AuthorityRecord, authority: Arc<X509SvidIssuer>) -> Self {
        let upstream_id = (authority.certificate() != authority.trust_anchor())
            .then(|| upstream_authority_id(authority.trust_anchor()));
        Self {
            record,
            authority,
            upstream_id,
        }
    }
}

/// The id of an upstream root: its subjectKeyIdentifier in lowercase hex (what SPIRE calls the
/// upstream authority's subject key id), or, for a root without one, the SHA-1 of its public
/// key (RFC 5280 §4.2.1.2 method 1), as an SKI would be computed.
pub(crate) fn upstream_authority_id(root: &Certificate) -> String {
    let computed;
    let id = match root.subject_key_id() {
        Some(id) => id,
        None => {
            let key_bits = crate::x509::spki::read(root.subject_public_key_info())
                .map(|key| key.key_bits)
                .unwrap_or_else(|_| root.subject_public_key_info());
            computed =
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, key_bits);
            computed.as_ref()
        }
    };
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything the manager knows; replaced as a whole on every change.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) bundle_sequence: u64,
    pub(crate) x509: Vec<X509Entry>,
    pub(crate) jwt: Vec<JwtEntry>,
    pub(crate) revoked_x509: Vec<String>,
    pub(crate) revoked_jwt: Vec<String>,
    /// Upstream roots tainted by the operator: no new authority may chain to them.
    pub(crate) tainted_upstream: Vec<String>,
    /// Upstream roots revoked by the operator: no new authority may chain to them.
    pub(crate) revoked_upstream: Vec<String>,
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
        journal.tainted_upstream_x509 = self.tainted_upstream.clone();
        journal.revoked_upstream_x509 = self.revoked_upstream.clone();
        journal
    }

    /// The trust bundle: the trust anchor of every authority held (revoked ones are no longer
    /// held; expired ones are pruned by rotation) in creation order, with the sequence number.
    /// Under an upstream authority the anchor is the upstream root, shared by every intermediate
    /// it signed: it leaves the bundle only when no authority held chains to it.
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
