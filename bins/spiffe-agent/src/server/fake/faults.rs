//! Fault injection and call accounting for the fake server.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::server::ServerError;

/// The calls the fake server counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FakeCall {
    /// `SyncAuthorizedEntries`.
    SyncEntries,
    /// `BatchNewX509SVID`.
    BatchNewX509Svid,
    /// `NewJWTSVID`.
    NewJwtSvid,
    /// `GetBundle`.
    GetBundle,
    /// `GetFederatedBundle` (one count per call of the seam method).
    GetFederatedBundles,
}

/// What the fake server has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeStats {
    /// `SyncAuthorizedEntries` calls (failed ones included).
    pub sync_calls: u64,
    /// Full entries sent by entry syncs (an incremental sync sends only changed ones).
    pub entries_sent: u64,
    /// `BatchNewX509SVID` calls (failed ones included).
    pub batch_calls: u64,
    /// The largest batch received.
    pub largest_batch: u64,
    /// X.509-SVIDs signed.
    pub x509_svids_signed: u64,
    /// `NewJWTSVID` calls (failed ones included).
    pub jwt_calls: u64,
    /// JWT-SVIDs minted.
    pub jwt_svids_minted: u64,
    /// `GetBundle` calls.
    pub bundle_calls: u64,
    /// `GetFederatedBundle` calls.
    pub federated_calls: u64,
}

/// The injected faults and the counters.
#[derive(Debug, Default)]
pub(super) struct Faults {
    failing: AtomicBool,
    delay_ms: AtomicU64,
    refused: Mutex<HashSet<String>>,
    sync_times: Mutex<Vec<tokio::time::Instant>>,
    sync_calls: AtomicU64,
    entries_sent: AtomicU64,
    batch_calls: AtomicU64,
    largest_batch: AtomicU64,
    x509_svids_signed: AtomicU64,
    jwt_calls: AtomicU64,
    jwt_svids_minted: AtomicU64,
    bundle_calls: AtomicU64,
    federated_calls: AtomicU64,
}

// === impl Faults ===

impl Faults {
    pub(super) fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub(super) fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    pub(super) fn refuse(&self, entry_id: &str, refuse: bool) {
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        if refuse {
            refused.insert(entry_id.to_owned());
        } else {
            refused.remove(entry_id);
        }
    }

    pub(super) fn is_refused(&self, entry_id: &str) -> bool {
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(entry_id)
    }

    /// Counts `call`, waits the injected delay, then fails if the server is "down".
    pub(super) async fn enter(&self, call: FakeCall) -> Result<(), ServerError> {
        let counter = match call {
            FakeCall::SyncEntries => {
                self.sync_times
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(tokio::time::Instant::now());
                &self.sync_calls
            }
            FakeCall::BatchNewX509Svid => &self.batch_calls,
            FakeCall::NewJwtSvid => &self.jwt_calls,
            FakeCall::GetBundle => &self.bundle_calls,
            FakeCall::GetFederatedBundles => &self.federated_calls,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(ServerError::unreachable("fake server is down"));
        }
        Ok(())
    }

    pub(super) fn note_entries_sent(&self, count: usize) {
        self.entries_sent.fetch_add(count as u64, Ordering::SeqCst);
    }

    pub(super) fn note_signed(&self, batch: usize, signed: u64) {
        self.largest_batch.fetch_max(batch as u64, Ordering::SeqCst);
        self.x509_svids_signed.fetch_add(signed, Ordering::SeqCst);
    }

    pub(super) fn note_jwt(&self) {
        self.jwt_svids_minted.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn sync_times(&self) -> Vec<tokio::time::Instant> {
        self.sync_times
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn stats(&self) -> FakeStats {
        let get = |c: &AtomicU64| c.load(Ordering::SeqCst);
        FakeStats {
            sync_calls: get(&self.sync_calls),
            entries_sent: get(&self.entries_sent),
            batch_calls: get(&self.batch_calls),
            largest_batch: get(&self.largest_batch),
            x509_svids_signed: get(&self.x509_svids_signed),
            jwt_calls: get(&self.jwt_calls),
            jwt_svids_minted: get(&self.jwt_svids_minted),
            bundle_calls: get(&self.bundle_calls),
            federated_calls: get(&self.federated_calls),
        }
    }
}
