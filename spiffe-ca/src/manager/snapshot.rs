//! Publishing changes: each change is journaled, then replaces the manager's immutable
//! snapshot (state, active authorities, bundle) as a whole.

use std::sync::{Arc, PoisonError};

use spiffe_core::SpiffeBundle;

use crate::jwt::JwtSvidIssuer;
use crate::x509::X509SvidIssuer;

use super::ca_manager::{CaManager, Change, Core};
use super::journal::AuthorityStatus;
use super::state::{self, State};
use super::ManagerError;

/// One consistent view, replaced as a whole on every change.
pub(super) struct Snapshot {
    pub(super) state: State,
    pub(super) active_x509: Arc<X509SvidIssuer>,
    pub(super) active_jwt: Arc<JwtSvidIssuer>,
    pub(super) bundle: Arc<SpiffeBundle>,
}

// === impl CaManager ===

impl CaManager {
    pub(super) fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Journals and publishes `change` if `result` is a success and the state moved;
    /// otherwise deletes the keys it created.
    pub(super) async fn finish<T>(
        &self,
        mut change: Change,
        result: Result<T, ManagerError>,
    ) -> Result<T, ManagerError> {
        let value = match result {
            Ok(value) => value,
            Err(e) => {
                self.core.discard(&change.created).await;
                return Err(e);
            }
        };
        let retired = std::mem::take(&mut change.retired);
        if let Some(snapshot) = self.core.commit(&self.snapshot().state, change).await? {
            *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
            // The journal no longer names these keys; a failure only leaves an unused key.
            self.core.discard(&retired).await;
        }
        Ok(value)
    }
}

// === impl Core ===

impl Core {
    /// Journals `change` (moving the bundle sequence if the bundle changed) and returns the
    /// snapshot to publish, or `None` when the state did not move. On failure the keys the
    /// change created are deleted.
    pub(super) async fn commit(
        &self,
        previous: &State,
        mut change: Change,
    ) -> Result<Option<Snapshot>, ManagerError> {
        let td = self.config.trust_domain();
        change.state.bundle_sequence = previous.bundle_sequence;
        if change.state.bundle(td) != previous.bundle(td) {
            change.state.bundle_sequence += 1;
        }
        let next = change.state.to_journal(td);
        if next == previous.to_journal(td) {
            return Ok(None);
        }
        let saved = match publishable(change.state, td) {
            Ok(snapshot) => self.journal.save(&next).await.map(|()| snapshot),
            Err(e) => {
                self.discard(&change.created).await;
                return Err(e);
            }
        };
        match saved {
            Ok(snapshot) => Ok(Some(snapshot)),
            Err(e) => {
                self.discard(&change.created).await;
                Err(e.into())
            }
        }
    }

    pub(super) async fn discard(&self, key_ids: &[String]) {
        for id in key_ids {
            let _ = self.key_manager.delete_key(id).await;
        }
    }
}

/// The snapshot of `state`, which must have an active authority of each kind.
pub(super) fn publishable(
    state: State,
    trust_domain: &spiffe_core::TrustDomain,
) -> Result<Snapshot, ManagerError> {
    let no_active = ManagerError::InconsistentJournal {
        reason: "no active authority",
    };
    let active_x509 = state::position(&state.x509, AuthorityStatus::Active)
        .map(|i| state.x509[i].authority.clone())
        .ok_or(no_active)?;
    let active_jwt = state::position(&state.jwt, AuthorityStatus::Active)
        .map(|i| state.jwt[i].authority.clone())
        .ok_or(ManagerError::InconsistentJournal {
            reason: "no active authority",
        })?;
    let bundle = Arc::new(state.bundle(trust_domain));
    Ok(Snapshot {
        state,
        active_x509,
        active_jwt,
        bundle,
    })
}
