//! The rotation schedule: what is due at the clock's time (prepare at 1/2 of the active
//! authority's lifetime, activate at 5/6, prune expired old authorities).

use rustls_pki_types::UnixTime;

use super::ca_manager::{CaManager, Change, Core};
use super::journal::AuthorityStatus;
use super::state::{self, Entry};
use super::threshold::{should_activate, should_prepare};
use super::ManagerError;

// === impl CaManager ===

impl CaManager {
    /// Rotates what is due at the clock's current time: prunes expired old authorities,
    /// prepares the next authority at 1/2 of the current lifetime and activates it at 5/6.
    /// Returns whether anything changed. Call it periodically (SPIRE checks every 10 s).
    pub async fn rotate(&self) -> Result<bool, ManagerError> {
        let _guard = self.changes.lock().await;
        let mut change = self.begin();
        let result = self.core.advance(&mut change).await;
        self.finish(change, result).await
    }
}

// === impl Core ===

impl Core {
    /// Everything due at the clock's time, for both kinds.
    pub(super) async fn advance(&self, change: &mut Change) -> Result<bool, ManagerError> {
        let now = self.clock.now();
        let mut changed = false;

        let (prepare, activate) = plan(&change.state.x509, now);
        if prepare {
            self.prepare_x509_in(change, now).await?;
        }
        if activate {
            state::activate_prepared(&mut change.state.x509);
        }
        // After activation, so an active authority that just expired is pruned at once.
        let pruned = state::prune_expired(&mut change.state.x509, now);
        changed |= !pruned.is_empty();
        change.retired.extend(pruned);
        changed |= prepare || activate;

        let (prepare, activate) = plan(&change.state.jwt, now);
        if prepare {
            self.prepare_jwt_in(change, now).await?;
        }
        if activate {
            state::activate_prepared(&mut change.state.jwt);
        }
        // After activation, so an active authority that just expired is pruned at once.
        let pruned = state::prune_expired(&mut change.state.jwt, now);
        changed |= !pruned.is_empty();
        change.retired.extend(pruned);
        Ok(changed || prepare || activate)
    }
}

/// What is due at `now`: (prepare a new authority, activate the prepared one).
fn plan<E: Entry>(entries: &[E], now: UnixTime) -> (bool, bool) {
    let has_prepared = state::position(entries, AuthorityStatus::Prepared).is_some();
    let secs = now.as_secs();
    let due = match state::position(entries, AuthorityStatus::Active) {
        // Nothing active, or the active one expired while nobody rotated: replace it now.
        None => true,
        Some(i) if secs >= entries[i].not_after() => true,
        Some(i) => {
            let active = &entries[i];
            if should_activate(active.not_before(), active.not_after(), secs) {
                true
            } else {
                let prepare =
                    !has_prepared && should_prepare(active.not_before(), active.not_after(), secs);
                return (prepare, false);
            }
        }
    };
    (due && !has_prepared, due)
}
