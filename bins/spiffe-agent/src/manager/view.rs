use std::sync::Arc;

use spiffe_attest::RegistrationEntry;
use spiffe_core::{JwtBundle, X509Bundle, X509Svid};

/// What a workload with a given set of selectors gets, at one [`generation`](Self::generation)
/// of the cache: its identities (matching entries, each with its X.509-SVID once signed) and the
/// bundles it trusts. Cheap to clone: everything is shared.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WorkloadView {
    /// The cache generation this view was computed at; a view is current while
    /// [`AgentManager::generation`](super::AgentManager::generation) is the same.
    pub generation: u64,
    /// One identity per matching entry, ordered by entry id; unexpired entries only.
    pub identities: Vec<WorkloadIdentity>,
    /// The own trust domain's X.509 bundle first, then those of the trust domains the
    /// matching entries federate with.
    pub x509_bundles: Vec<Arc<X509Bundle>>,
    /// The JWT bundles, in the same way.
    pub jwt_bundles: Vec<Arc<JwtBundle>>,
}

/// One matching entry and its X.509-SVID.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkloadIdentity {
    /// The entry.
    pub entry: Arc<RegistrationEntry>,
    /// Its SVID; `None` until signed (or after eviction, until signed again: the manager was
    /// asked for it by [`AgentManager::request_svids`](super::AgentManager::request_svids)).
    pub svid: Option<Arc<X509Svid>>,
}

impl WorkloadView {
    /// Whether no entry matches.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    /// The identities that have an SVID.
    pub fn svids(&self) -> impl Iterator<Item = (&Arc<RegistrationEntry>, &Arc<X509Svid>)> + '_ {
        self.identities
            .iter()
            .filter_map(|i| i.svid.as_ref().map(|s| (&i.entry, s)))
    }

    /// The entries still waiting for an SVID.
    pub fn pending(&self) -> impl Iterator<Item = &Arc<RegistrationEntry>> + '_ {
        self.identities
            .iter()
            .filter(|i| i.svid.is_none())
            .map(|i| &i.entry)
    }
}
