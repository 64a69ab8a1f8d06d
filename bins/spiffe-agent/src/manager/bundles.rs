//! The bundles the agent holds: its own trust domain's (with taint flags) and the federated
//! ones its entries ask for, each held once and shared by every workload answer.

use std::collections::BTreeMap;
use std::sync::Arc;

use spiffe_core::{Certificate, JwtBundle, TrustDomain, X509Bundle, X509Svid};

use crate::server::ServerBundle;

/// Own and federated bundles.
#[derive(Debug, Default)]
pub(crate) struct TrustBundles {
    own: Option<ServerBundle>,
    federated: BTreeMap<TrustDomain, ServerBundle>,
}

/// Whether an SVID may be kept after a bundle change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IssuerStatus {
    /// Issued under an authority of the bundle that is not tainted.
    Trusted,
    /// Issued under a tainted authority: re-sign.
    Tainted,
    /// Issued under an authority the bundle no longer has: re-sign.
    Unknown,
}

// === impl TrustBundles ===

impl TrustBundles {
    pub(crate) fn own(&self) -> Option<&ServerBundle> {
        self.own.as_ref()
    }

    pub(crate) fn federated(&self, trust_domain: &str) -> Option<&ServerBundle> {
        self.federated.get(trust_domain)
    }

    pub(crate) fn federated_count(&self) -> usize {
        self.federated.len()
    }

    /// Replaces the own bundle; returns whether it changed.
    pub(crate) fn replace_own(&mut self, bundle: ServerBundle) -> bool {
        if self.own.as_ref() == Some(&bundle) {
            return false;
        }
        self.own = Some(bundle);
        true
    }

    /// Replaces the federated bundles with `bundles` (those the entries federate with and the
    /// server has); returns whether any changed. An unchanged bundle keeps its `Arc`s.
    pub(crate) fn replace_federated(&mut self, bundles: Vec<ServerBundle>) -> bool {
        let mut next = BTreeMap::new();
        let mut changed = false;
        for bundle in bundles {
            let td = bundle.trust_domain().clone();
            match self.federated.remove(&td) {
                Some(old) if old == bundle => {
                    next.insert(td, old);
                }
                _ => {
                    changed = true;
                    next.insert(td, bundle);
                }
            }
        }
        changed |= !self.federated.is_empty();
        self.federated = next;
        changed
    }

    /// Whether `svid` chains to an authority of the own bundle that is not tainted. The
    /// issuing authority is found by key identifier (the chain's top certificate's
    /// authorityKeyIdentifier against each authority's subjectKeyIdentifier), or by name when
    /// either lacks one.
    pub(crate) fn issuer_status(&self, svid: &X509Svid) -> IssuerStatus {
        let Some(own) = &self.own else {
            return IssuerStatus::Unknown;
        };
        let Some(top) = svid.chain().last() else {
            return IssuerStatus::Unknown;
        };
        match own
            .x509()
            .authorities()
            .iter()
            .find(|authority| issued(authority, top))
        {
            Some(authority) if own.is_x509_tainted(authority) => IssuerStatus::Tainted,
            Some(_) => IssuerStatus::Trusted,
            None => IssuerStatus::Unknown,
        }
    }

    /// The X.509 bundles a workload with SVIDs of the own trust domain and entries federating
    /// with `federates_with` trusts: the own first, then each federated one held.
    pub(crate) fn x509_for<'a>(
        &self,
        federates_with: impl Iterator<Item = &'a TrustDomain>,
    ) -> Vec<Arc<X509Bundle>> {
        let mut out: Vec<Arc<X509Bundle>> = self.own.iter().map(|b| b.x509().clone()).collect();
        for td in federates_with {
            if let Some(bundle) = self.federated.get(td) {
                if !out.iter().any(|b| b.trust_domain() == td) {
                    out.push(bundle.x509().clone());
                }
            }
        }
        out
    }

    /// The JWT bundles, in the same way as [`Self::x509_for`].
    pub(crate) fn jwt_for<'a>(
        &self,
        federates_with: impl Iterator<Item = &'a TrustDomain>,
    ) -> Vec<Arc<JwtBundle>> {
        let mut out: Vec<Arc<JwtBundle>> = self.own.iter().map(|b| b.jwt().clone()).collect();
        for td in federates_with {
            if let Some(bundle) = self.federated.get(td) {
                if !out.iter().any(|b| b.trust_domain() == td) {
                    out.push(bundle.jwt().clone());
                }
            }
        }
        out
    }

    /// Whether the JWT key `kid` of the own trust domain may still be relied on: present and
    /// not tainted.
    pub(crate) fn jwt_key_trusted(&self, kid: &str) -> bool {
        self.own
            .as_ref()
            .is_some_and(|own| own.jwt().get(kid).is_some() && !own.tainted_jwt().contains(kid))
    }
}

/// Whether `authority` issued `certificate`.
fn issued(authority: &Certificate, certificate: &Certificate) -> bool {
    match (authority.subject_key_id(), certificate.authority_key_id()) {
        (Some(ski), Some(aki)) => ski == aki,
        _ => authority.subject_der() == certificate.issuer_der(),
    }
}
