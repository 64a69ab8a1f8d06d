use std::time::Duration;

use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};

use super::{check_dns_name, EntryError, EntryId, RegistrationEntry, MAX_HINT_LEN};
use crate::Selector;

/// Builds a [`RegistrationEntry`]; [`build`](Self::build) runs the checks that need no server
/// context.
#[derive(Debug, Clone)]
pub struct RegistrationEntryBuilder {
    entry: RegistrationEntry,
}

// === impl RegistrationEntryBuilder ===

impl RegistrationEntryBuilder {
    pub(super) fn new(id: EntryId, spiffe_id: SpiffeId, parent_id: SpiffeId) -> Self {
        Self {
            entry: RegistrationEntry {
                id,
                spiffe_id,
                parent_id,
                selectors: Vec::new(),
                x509_svid_ttl: None,
                jwt_svid_ttl: None,
                dns_names: Vec::new(),
                federates_with: Vec::new(),
                admin: false,
                downstream: false,
                store_svid: false,
                disable_x509_svid_prefetch: false,
                jwt_svid_include_jti: false,
                hint: None,
                expires_at: None,
                revision_number: 0,
                created_at: None,
            },
        }
    }

    pub(super) fn from_entry(entry: RegistrationEntry) -> Self {
        Self { entry }
    }

    /// Replaces the SPIFFE ID.
    pub fn spiffe_id(mut self, spiffe_id: SpiffeId) -> Self {
        self.entry.spiffe_id = spiffe_id;
        self
    }

    /// Replaces the parent ID.
    pub fn parent_id(mut self, parent_id: SpiffeId) -> Self {
        self.entry.parent_id = parent_id;
        self
    }

    /// Adds a selector; a duplicate is dropped at [`build`](Self::build).
    pub fn selector(mut self, selector: Selector) -> Self {
        self.entry.selectors.push(selector);
        self
    }

    /// Replaces all selectors.
    pub fn selectors(mut self, selectors: impl IntoIterator<Item = Selector>) -> Self {
        self.entry.selectors = selectors.into_iter().collect();
        self
    }

    /// Sets the X.509-SVID lifetime; `None` for the server's default.
    pub fn x509_svid_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.entry.x509_svid_ttl = ttl;
        self
    }

    /// Sets the JWT-SVID lifetime; `None` for the server's default.
    pub fn jwt_svid_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.entry.jwt_svid_ttl = ttl;
        self
    }

    /// Adds a DNS name.
    pub fn dns_name(mut self, name: impl Into<String>) -> Self {
        self.entry.dns_names.push(name.into());
        self
    }

    /// Replaces all DNS names.
    pub fn dns_names(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.entry.dns_names = names.into_iter().collect();
        self
    }

    /// Adds a trust domain to federate with.
    pub fn federates_with(mut self, trust_domain: TrustDomain) -> Self {
        self.entry.federates_with.push(trust_domain);
        self
    }

    /// Sets the admin flag.
    pub fn admin(mut self, admin: bool) -> Self {
        self.entry.admin = admin;
        self
    }

    /// Sets the downstream flag.
    pub fn downstream(mut self, downstream: bool) -> Self {
        self.entry.downstream = downstream;
        self
    }

    /// Sets the store-SVID flag.
    pub fn store_svid(mut self, store_svid: bool) -> Self {
        self.entry.store_svid = store_svid;
        self
    }

    /// Sets whether the agent signs this entry's X.509-SVID only when a workload asks for it
    /// (no prefetch at sync time).
    pub fn disable_x509_svid_prefetch(mut self, disable: bool) -> Self {
        self.entry.disable_x509_svid_prefetch = disable;
        self
    }

    /// Sets whether JWT-SVIDs for this entry carry a unique `jti` claim.
    pub fn jwt_svid_include_jti(mut self, include: bool) -> Self {
        self.entry.jwt_svid_include_jti = include;
        self
    }

    /// Sets the hint; an empty hint is no hint (as in SPIRE).
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        let hint = hint.into();
        self.entry.hint = (!hint.is_empty()).then_some(hint);
        self
    }

    /// Sets the expiry.
    pub fn expires_at(mut self, at: Option<UnixTime>) -> Self {
        self.entry.expires_at = at;
        self
    }

    /// Sets the revision number (normally the datastore's job).
    pub fn revision_number(mut self, revision: u64) -> Self {
        self.entry.revision_number = revision;
        self
    }

    /// Sets the creation time (normally the datastore's job).
    pub fn created_at(mut self, at: Option<UnixTime>) -> Self {
        self.entry.created_at = at;
        self
    }

    /// Checks the entry and returns it, its selectors sorted and deduplicated and its
    /// federated trust domains deduplicated.
    ///
    /// Rejects: no selectors; `store_svid` with mixed selector types or with
    /// `disable_x509_svid_prefetch`; an invalid DNS name; a hint over [`MAX_HINT_LEN`] bytes or
    /// with a control character.
    pub fn build(self) -> Result<RegistrationEntry, EntryError> {
        let mut entry = self.entry;
        entry.selectors.sort_unstable();
        entry.selectors.dedup();
        entry.federates_with.sort_unstable();
        entry.federates_with.dedup();
        let Some(first) = entry.selectors.first() else {
            return Err(EntryError::NoSelectors);
        };
        if entry.store_svid
            && entry
                .selectors
                .iter()
                .any(|s| s.selector_type() != first.selector_type())
        {
            return Err(EntryError::StoreSvidMixedSelectorTypes);
        }
        // As SPIRE's datastore: a stored SVID is pushed to its store by the agent, so it cannot
        // wait for a workload to ask for it.
        if entry.store_svid && entry.disable_x509_svid_prefetch {
            return Err(EntryError::StoreSvidWithoutPrefetch);
        }
        for (index, name) in entry.dns_names.iter().enumerate() {
            check_dns_name(name).map_err(|reason| EntryError::DnsName { index, reason })?;
        }
        if let Some(hint) = &entry.hint {
            if hint.len() > MAX_HINT_LEN {
                return Err(EntryError::HintTooLong {
                    len: hint.len(),
                    max: MAX_HINT_LEN,
                });
            }
            if let Some((at, _)) = hint.char_indices().find(|(_, c)| c.is_control()) {
                return Err(EntryError::HintCharacter { at });
            }
        }
        Ok(entry)
    }
}
