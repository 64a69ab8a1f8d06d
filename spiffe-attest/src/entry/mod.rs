//! Registration entries: the operator's statement "a workload (or node) matching these selectors,
//! under this parent, gets this SPIFFE ID", with SPIRE's fields (`spire.api.types.Entry`).
//!
//! An entry is built with [`RegistrationEntryBuilder`], which checks what can be checked without
//! knowing the server (an id in SPIRE's character set, at least one selector, DNS names, the
//! hint); [`EntryRules`] then checks it against a server: IDs in the server's trust domain, TTL
//! bounds, federation with other trust domains only.
//!
//! ```
//! use spiffe_attest::entry::{EntryId, EntryRules, RegistrationEntry};
//! use spiffe_attest::Selector;
//! use spiffe_core::{SpiffeId, TrustDomain};
//!
//! let entry = RegistrationEntry::builder(
//!     EntryId::new("web-1")?,
//!     SpiffeId::new("spiffe://example.org/web")?,
//!     SpiffeId::new("spiffe://example.org/spire/agent/join_token/abc")?,
//! )
//! .selector(Selector::parse("unix:uid:1000")?)
//! .dns_name("web.example.org")
//! .build()?;
//! EntryRules::new(TrustDomain::new("example.org")?).check(&entry)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod dns;
mod error;
mod id;
mod rules;

use std::time::Duration;

use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};

use crate::Selector;

pub use builder::RegistrationEntryBuilder;
pub use dns::check_dns_name;
pub use error::{DnsNameError, EntryError, EntryField};
pub use id::{EntryId, MAX_ENTRY_ID_LEN};
pub use rules::{EntryRules, MAX_HINT_LEN};

/// A registration entry (SPIRE's `types.Entry`).
///
/// Immutable once built; change one with [`RegistrationEntry::to_builder`]. The selectors are a
/// set: sorted and without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationEntry {
    pub(crate) id: EntryId,
    pub(crate) spiffe_id: SpiffeId,
    pub(crate) parent_id: SpiffeId,
    pub(crate) selectors: Vec<Selector>,
    pub(crate) x509_svid_ttl: Option<Duration>,
    pub(crate) jwt_svid_ttl: Option<Duration>,
    pub(crate) dns_names: Vec<String>,
    pub(crate) federates_with: Vec<TrustDomain>,
    pub(crate) admin: bool,
    pub(crate) downstream: bool,
    pub(crate) store_svid: bool,
    pub(crate) disable_x509_svid_prefetch: bool,
    pub(crate) jwt_svid_include_jti: bool,
    pub(crate) hint: Option<String>,
    pub(crate) expires_at: Option<UnixTime>,
    pub(crate) revision_number: u64,
    pub(crate) created_at: Option<UnixTime>,
}

// === impl RegistrationEntry ===

impl RegistrationEntry {
    /// Starts an entry with its three identifying fields; at least one selector must follow.
    pub fn builder(
        id: EntryId,
        spiffe_id: SpiffeId,
        parent_id: SpiffeId,
    ) -> RegistrationEntryBuilder {
        RegistrationEntryBuilder::new(id, spiffe_id, parent_id)
    }

    /// A builder holding this entry's fields, to derive a changed entry (an update).
    pub fn to_builder(&self) -> RegistrationEntryBuilder {
        RegistrationEntryBuilder::from_entry(self.clone())
    }

    /// The entry's id (`id`).
    pub fn id(&self) -> &EntryId {
        &self.id
    }

    /// The SPIFFE ID issued to matching workloads (`spiffe_id`).
    pub fn spiffe_id(&self) -> &SpiffeId {
        &self.spiffe_id
    }

    /// Who may obtain SVIDs for this entry (`parent_id`): an agent's ID, the SPIFFE ID of another
    /// entry (nested entries), or the server's own ID `spiffe://<td>/spire/server`, which makes
    /// this a node-alias entry matched against agents' node selectors.
    pub fn parent_id(&self) -> &SpiffeId {
        &self.parent_id
    }

    /// The selectors a workload (or, for a node-alias entry, a node) must all have; sorted,
    /// without duplicates, never empty.
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// Lifetime of X.509-SVIDs minted for this entry; `None` for the server's default
    /// (SPIRE's 0).
    pub fn x509_svid_ttl(&self) -> Option<Duration> {
        self.x509_svid_ttl
    }

    /// Lifetime of JWT-SVIDs minted for this entry; `None` for the server's default.
    pub fn jwt_svid_ttl(&self) -> Option<Duration> {
        self.jwt_svid_ttl
    }

    /// DNS names added to the X.509-SVID's SANs; the first also becomes the subject CN in SPIRE.
    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }

    /// Foreign trust domains whose bundles workloads of this entry receive.
    pub fn federates_with(&self) -> &[TrustDomain] {
        &self.federates_with
    }

    /// Whether the SVID holder may use the server's admin APIs.
    pub fn admin(&self) -> bool {
        self.admin
    }

    /// Whether the SVID holder is a downstream server (may ask for an intermediate CA).
    pub fn downstream(&self) -> bool {
        self.downstream
    }

    /// Whether the agent pushes this entry's SVID to an SVIDStore instead of serving it.
    pub fn store_svid(&self) -> bool {
        self.store_svid
    }

    /// Whether the agent leaves this entry's X.509-SVID unsigned until a workload asks for it
    /// (SPIRE's `additional_attributes.disable_x509_svid_prefetch`): it is not signed at sync
    /// time, only when a matching workload calls the Workload API, then kept and rotated like
    /// any other while it stays cached.
    pub fn disable_x509_svid_prefetch(&self) -> bool {
        self.disable_x509_svid_prefetch
    }

    /// Whether JWT-SVIDs minted for this entry carry a unique `jti` claim
    /// (SPIRE's `additional_attributes.jwt_svid_include_jti`); the agent then mints a fresh
    /// token for every request instead of reusing a cached one.
    pub fn jwt_svid_include_jti(&self) -> bool {
        self.jwt_svid_include_jti
    }

    /// A free-form hint given to workloads that receive several SVIDs.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// When the entry stops being valid, if ever (`expires_at`).
    pub fn expires_at(&self) -> Option<UnixTime> {
        self.expires_at
    }

    /// Whether the entry has expired at `now` (it expires at the instant `expires_at`).
    pub fn is_expired(&self, now: UnixTime) -> bool {
        self.expires_at
            .is_some_and(|at| now.as_secs() >= at.as_secs())
    }

    /// The entry's revision, bumped by the datastore on every change.
    pub fn revision_number(&self) -> u64 {
        self.revision_number
    }

    /// When the entry was created, as recorded by the datastore.
    pub fn created_at(&self) -> Option<UnixTime> {
        self.created_at
    }

    /// Whether this is a node-alias entry for a server with SPIFFE ID `server_id`: its parent is
    /// the server, so its selectors are matched against nodes, not workloads.
    pub fn is_node_alias(&self, server_id: &SpiffeId) -> bool {
        &self.parent_id == server_id
    }
}

/// The SPIFFE ID of a SPIRE server of `trust_domain`, `spiffe://<td>/spire/server`: the parent
/// of node-alias entries.
pub fn server_id(trust_domain: &TrustDomain) -> SpiffeId {
    // A trust domain followed by a fixed valid path is always a valid ID.
    SpiffeId::from_path(trust_domain, "/spire/server")
        .expect("a trust domain and the path /spire/server form a valid SPIFFE ID")
}
