//! SPIRE's upstream-authority operations: tainting and revoking an upstream root that the
//! X.509 authorities of an intermediate CA chain to.
//!
//! Under an [`UpstreamAuthority`](crate::x509::UpstreamAuthority) the trust bundle holds the
//! upstream root, which every intermediate it signed shares: removing one intermediate from the
//! manager would leave the bundle as it was, and SVIDs of that intermediate would still verify.
//! So trust is withdrawn at the root:
//!
//! 1. [`taint_x509_upstream`](CaManager::taint_x509_upstream) marks the root tainted. If the
//!    active (or the prepared) authority chains to it, a new authority is prepared from the
//!    upstream and activated at once, which must chain to another root (else nothing changes
//!    and the error says so). Every authority under the root is then old and tainted, and no
//!    new one may chain to it.
//! 2. Workloads and agents replace the SVIDs signed under the tainted root.
//! 3. [`revoke_x509_upstream`](CaManager::revoke_x509_upstream) removes every authority under
//!    the root (their keys are deleted), so the root leaves the bundle and SVIDs chaining to it
//!    no longer verify. The root stays recorded as revoked: an authority the upstream signs
//!    under it later is refused, so it can never come back into the bundle.

use rustls_pki_types::UnixTime;
use spiffe_core::Certificate;

use super::ca_manager::{info, AuthorityInfo, CaManager, Change, Core};
use super::error::AuthorityKind;
use super::journal::AuthorityStatus;
use super::state::{self, Entry, State, X509Entry};
use super::ManagerError;

const KIND: AuthorityKind = AuthorityKind::X509Upstream;

/// An upstream root as listed by [`CaManager::x509_upstream_authorities`] and returned by the
/// upstream operations.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamAuthorityInfo {
    /// The root's id: its subject key identifier in lowercase hex (SPIRE's
    /// `upstream_authority_subject_key_id`).
    pub id: String,
    /// The root certificate, as the bundle holds it; `None` when no authority held chains to
    /// it any more (e.g. after they expired).
    pub root: Option<Certificate>,
    /// Whether the root was tainted.
    pub tainted: bool,
    /// The X.509 authorities that chain to it, oldest first (for a revocation: those removed).
    pub authorities: Vec<AuthorityInfo>,
}

// === impl CaManager ===

impl CaManager {
    /// The upstream roots the X.509 authorities held chain to (the X.509 part of the bundle),
    /// oldest first. Empty for a self-signed CA.
    pub fn x509_upstream_authorities(&self) -> Vec<UpstreamAuthorityInfo> {
        let snapshot = self.snapshot();
        let state = &snapshot.state;
        let mut ids: Vec<&str> = Vec::new();
        for id in state.x509.iter().filter_map(|e| e.upstream_id()) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids.into_iter()
            .map(|id| upstream_info(state, id, state.x509.iter()))
            .collect()
    }

    /// Taints the upstream root `upstream_authority_id` (its subject key identifier in hex, as
    /// [`AuthorityInfo::upstream_authority_id`] and SPIRE's `TaintX509UpstreamAuthority` name
    /// it; case is ignored): SVIDs signed under it should be replaced, and no new X.509
    /// authority may chain to it.
    ///
    /// If the active or the prepared authority chains to it, a new authority is prepared from
    /// the upstream (and activated, when the active one was under the root) in the same change;
    /// it must chain to another root, else the upstream still signs under the tainted root and
    /// the operation fails with [`ManagerError::UpstreamRootDistrusted`], changing nothing.
    /// (SPIRE's API refuses to taint the root of the active authority; SPIRE's CA manager
    /// rotates like this when the upstream reports a root tainted.)
    ///
    /// Errors: [`ManagerError::NoUpstreamAuthority`] for a self-signed CA;
    /// [`UnknownAuthority`](ManagerError::UnknownAuthority) when no authority held chains to
    /// that root; [`AlreadyTainted`](ManagerError::AlreadyTainted).
    pub async fn taint_x509_upstream(
        &self,
        upstream_authority_id: &str,
    ) -> Result<UpstreamAuthorityInfo, ManagerError> {
        self.require_upstream("taint")?;
        let id = upstream_authority_id.to_ascii_lowercase();
        let _guard = self.changes.lock().await;
        let mut change = self.begin();
        let now = self.core.clock.now();
        let result = self.core.taint_upstream_in(&mut change, &id, now).await;
        self.finish(change, result).await
    }

    /// Revokes the tainted upstream root `upstream_authority_id` (SPIRE's
    /// `RevokeX509UpstreamAuthority`): every X.509 authority that chains to it is removed and
    /// its key deleted, so the root leaves the bundle and SVIDs signed under it no longer
    /// verify. The root is remembered as revoked; an authority the upstream signs under it
    /// later is refused.
    ///
    /// Errors: [`ManagerError::NoUpstreamAuthority`] for a self-signed CA;
    /// [`NotTainted`](ManagerError::NotTainted) (taint it first);
    /// [`UnknownAuthority`](ManagerError::UnknownAuthority) for a root that no authority chains
    /// to and that was never tainted (or was revoked already).
    pub async fn revoke_x509_upstream(
        &self,
        upstream_authority_id: &str,
    ) -> Result<UpstreamAuthorityInfo, ManagerError> {
        self.require_upstream("revoke")?;
        let id = upstream_authority_id.to_ascii_lowercase();
        let _guard = self.changes.lock().await;
        let mut change = self.begin();
        let result = revoke_upstream(&mut change, &id);
        self.finish(change, result).await
    }

    fn require_upstream(&self, operation: &'static str) -> Result<(), ManagerError> {
        match self.core.config.upstream() {
            Some(_) => Ok(()),
            None => Err(ManagerError::NoUpstreamAuthority { operation }),
        }
    }
}

// === impl Core ===

impl Core {
    async fn taint_upstream_in(
        &self,
        change: &mut Change,
        id: &str,
        now: UnixTime,
    ) -> Result<UpstreamAuthorityInfo, ManagerError> {
        let state = &change.state;
        if !state.x509.iter().any(|e| chains_to(e, id)) {
            return Err(ManagerError::UnknownAuthority {
                kind: KIND,
                id: id.to_owned(),
            });
        }
        if state.tainted_upstream.iter().any(|t| t == id) {
            return Err(ManagerError::AlreadyTainted {
                kind: KIND,
                id: id.to_owned(),
            });
        }
        let under =
            |status| state::position(&state.x509, status).map(|i| chains_to(&state.x509[i], id));
        let active_under = under(AuthorityStatus::Active).unwrap_or(false);
        let prepared_under = under(AuthorityStatus::Prepared);
        change.state.tainted_upstream.push(id.to_owned());

        // A replacement, prepared after the root is marked tainted, so that the upstream
        // signing under the same root again is refused.
        if prepared_under == Some(true) || (active_under && prepared_under.is_none()) {
            self.prepare_x509_in(change, now).await?;
        }
        if active_under {
            state::activate_prepared(&mut change.state.x509);
        }
        for entry in change.state.x509.iter_mut().filter(|e| chains_to(e, id)) {
            // Only old authorities are left under the root.
            entry.set_tainted();
        }
        Ok(upstream_info(&change.state, id, change.state.x509.iter()))
    }
}

fn revoke_upstream(change: &mut Change, id: &str) -> Result<UpstreamAuthorityInfo, ManagerError> {
    let state = &mut change.state;
    if !state.tainted_upstream.iter().any(|t| t == id) {
        let held = state.x509.iter().any(|e| chains_to(e, id));
        return Err(if held {
            ManagerError::NotTainted {
                kind: KIND,
                id: id.to_owned(),
            }
        } else {
            ManagerError::UnknownAuthority {
                kind: KIND,
                id: id.to_owned(),
            }
        });
    }
    // Tainting replaced the active and prepared authorities under the root, and no new one may
    // chain to it, so this only guards the invariant.
    if let Some(entry) = state
        .x509
        .iter()
        .find(|e| chains_to(e, id) && e.status() != AuthorityStatus::Old)
    {
        return Err(ManagerError::UpstreamAuthorityInUse {
            id: id.to_owned(),
            status: entry.status(),
        });
    }
    let (removed, kept): (Vec<X509Entry>, Vec<X509Entry>) = std::mem::take(&mut state.x509)
        .into_iter()
        .partition(|e| chains_to(e, id));
    state.x509 = kept;
    let mut revoked = upstream_info(state, id, removed.iter());
    revoked.tainted = true;
    for entry in &removed {
        state.revoked_x509.push(entry.id().to_owned());
        change.retired.push(entry.key_id().to_owned());
    }
    state.tainted_upstream.retain(|t| t != id);
    state.revoked_upstream.push(id.to_owned());
    Ok(revoked)
}

fn chains_to(entry: &X509Entry, id: &str) -> bool {
    entry.upstream_id() == Some(id)
}

/// What `state` knows of root `id`, with the authorities of `entries` that chain to it.
fn upstream_info<'a>(
    state: &State,
    id: &str,
    entries: impl Iterator<Item = &'a X509Entry>,
) -> UpstreamAuthorityInfo {
    let under: Vec<&X509Entry> = entries.filter(|e| chains_to(e, id)).collect();
    UpstreamAuthorityInfo {
        id: id.to_owned(),
        root: under.first().map(|e| e.authority.trust_anchor().clone()),
        tainted: state.tainted_upstream.iter().any(|t| t == id),
        authorities: under
            .iter()
            .map(|e| info(*e, AuthorityKind::X509))
            .collect(),
    }
}
