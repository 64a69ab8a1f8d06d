//! One sync round with the server, and the loop that runs rounds: every sync interval, at
//! once when a workload waits for an SVID, with exponential backoff while the server fails.
//!
//! A round: entries (incrementally, by revision) and bundles are fetched and applied in one
//! step; then the entries to sign (waited for, due for rotation or re-signing, new while the
//! cache has room) get keys and CSRs, sent in batches of at most 500; each batch's SVIDs are
//! served as soon as they arrive; last, idle SVIDs beyond the cache bound are evicted. A failure
//! leaves what was applied in place, and the cached SVIDs keep being served.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::UnixTime;
use spiffe_attest::{EntryId, RegistrationEntry};

use super::backoff::SyncBackoff;
use super::error::{SyncError, SyncStage};
use super::minting::{self, Prepared};
use super::{entries, jitter, Shared};
use crate::server::{KnownRevisions, SignedX509Svid, X509SvidParams};

/// What the sync task keeps between rounds.
#[derive(Debug)]
pub(crate) struct SyncState {
    pub(crate) known: KnownRevisions,
    pub(crate) backoff: SyncBackoff,
}

/// What one successful round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// Entries held after the round.
    pub entries: usize,
    /// Full entries the server sent (new or changed).
    pub entries_fetched: usize,
    /// Entries removed (deleted, or no longer authorized).
    pub entries_removed: usize,
    /// SVIDs marked for re-signing because the bundle no longer trusts their issuer.
    pub untrusted_svids: usize,
    /// `BatchNewX509SVID` calls.
    pub batches: usize,
    /// X.509-SVIDs signed and stored.
    pub svids_signed: usize,
    /// Entries the server refused to sign, or whose answer was unusable.
    pub svids_failed: usize,
    /// Idle SVIDs evicted beyond the cache bound.
    pub svids_evicted: usize,
}

/// The sync loop's state, as the last round left it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SyncStatus {
    /// Rounds run.
    pub rounds: u64,
    /// Rounds that succeeded.
    pub successes: u64,
    /// Failed rounds since the last success.
    pub consecutive_failures: u32,
    /// When the last round succeeded.
    pub last_success: Option<UnixTime>,
    /// How long the loop waits before the next round.
    pub next_sync_in: Duration,
    /// The last successful round's report.
    pub last_report: Option<SyncReport>,
    /// Why the last round failed, while failing.
    pub last_error: Option<Arc<SyncError>>,
}

/// Runs one round and records its outcome; returns the wait before the next.
pub(crate) async fn run_round(shared: &Shared) -> Result<SyncReport, Arc<SyncError>> {
    let mut state = shared.sync.lock().await;
    let result = round(shared, &mut state).await;
    let now = shared.clock.now();
    let (next, result) = match result {
        Ok(report) => {
            state.backoff.reset();
            (shared.config.sync_interval, Ok(report))
        }
        Err(error) => {
            let error = Arc::new(error);
            tracing::warn!(error = %error, "sync with the server failed; serving cached SVIDs");
            (state.backoff.next(), Err(error))
        }
    };
    shared.status.send_modify(|status| {
        status.rounds += 1;
        status.next_sync_in = next;
        match &result {
            Ok(report) => {
                status.successes += 1;
                status.consecutive_failures = 0;
                status.last_success = Some(now);
                status.last_report = Some(*report);
                status.last_error = None;
            }
            Err(error) => {
                status.consecutive_failures += 1;
                status.last_error = Some(error.clone());
            }
        }
    });
    result
}

/// Rounds until `shutdown` completes.
pub(crate) async fn run(shared: Arc<Shared>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let failing = tokio::select! {
            () = &mut shutdown => return,
            result = run_round(&shared) => result.is_err(),
        };
        let wait = shared.status.borrow().next_sync_in;
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(wait) => {}
            // A workload waiting for an SVID brings the next round forward, unless the server
            // is failing: then the backoff holds.
            () = shared.sync_now.notified(), if !failing => {}
        }
    }
}

async fn round(shared: &Shared, sync: &mut SyncState) -> Result<SyncReport, SyncError> {
    let config = &shared.config;
    let server = &*shared.server;
    let update = server
        .sync_authorized_entries(&sync.known)
        .await
        .map_err(SyncError::server(SyncStage::Entries))?;
    let federated_tds = entries::federated_after(&shared.read().index, &update);
    let own = server
        .get_bundle()
        .await
        .map_err(SyncError::server(SyncStage::Bundles))?;
    if own.trust_domain() != &config.trust_domain {
        return Err(SyncError::ForeignBundle);
    }
    let federated = if federated_tds.is_empty() {
        Vec::new()
    } else {
        server
            .get_federated_bundles(&federated_tds)
            .await
            .map_err(SyncError::server(SyncStage::Bundles))?
            .into_iter()
            .filter(|b| federated_tds.contains(b.trust_domain()))
            .collect()
    };

    let mut report = SyncReport {
        entries_fetched: update.entries.len(),
        ..SyncReport::default()
    };
    let now = shared.clock.now();
    let plan = {
        let mut guard = shared.write();
        let state = &mut *guard;
        let changes = entries::apply(&mut state.index, &mut state.svids, &mut sync.known, update);
        for id in &changes.removed {
            shared.jwt.remove_entry(id.as_str());
        }
        let own_changed = state.bundles.replace_own(own);
        let federated_changed = state.bundles.replace_federated(federated);
        if own_changed {
            report.untrusted_svids = state.mark_untrusted_svids();
            let bundles = &state.bundles;
            shared
                .jwt
                .retain_signed_by(|kid| bundles.jwt_key_trusted(kid));
        }
        let demand = shared.demand_retain(|id| state.index.get(id.as_str()).is_some());
        let plan = state.plan(now, &demand, config.x509_svid_cache_max_size);
        report.entries = state.index.len();
        report.entries_removed = changes.removed.len();
        if !changes.is_empty() || own_changed || federated_changed {
            shared.publish(state);
        }
        plan
    };
    shared
        .synced
        .send_if_modified(|synced| !std::mem::replace(synced, true));

    let mut remaining: VecDeque<Arc<RegistrationEntry>> = plan.into();
    while !remaining.is_empty() {
        let chunk = next_batch(&mut remaining, &shared.demanded(), config.batch_size());
        let prepared = minting::prepare(chunk, config.workload_key_type)
            .await
            .map_err(SyncError::KeyGeneration)?;
        let params: Vec<X509SvidParams> = prepared.iter().map(|p| p.params.clone()).collect();
        let results = server
            .batch_new_x509_svid(&params)
            .await
            .map_err(SyncError::server(SyncStage::Signing))?;
        if results.len() != params.len() {
            return Err(SyncError::BatchMismatch {
                sent: params.len(),
                got: results.len(),
            });
        }
        report.batches += 1;
        store(shared, prepared, results, &mut report);
    }

    let mut guard = shared.write();
    let state = &mut *guard;
    let demand = shared.demand_retain(|_| true);
    let evicted = state.svids.evict(config.x509_svid_cache_max_size, |id| {
        demand.contains(id.as_str())
    });
    report.svids_evicted = evicted.len();
    state.svids.prune_intermediates();
    if !evicted.is_empty() {
        shared.publish(state);
    }
    Ok(report)
}

/// The next batch: the entries a workload asks for now, if any are left (a workload that
/// connects during a long first sync gets its SVID after one small batch, not after all of
/// them), else the next `size` in plan order.
fn next_batch(
    remaining: &mut VecDeque<Arc<RegistrationEntry>>,
    demanded: &HashSet<EntryId>,
    size: usize,
) -> Vec<Arc<RegistrationEntry>> {
    let mut batch = Vec::new();
    if !demanded.is_empty() {
        remaining.retain(|entry| {
            let take = batch.len() < size && demanded.contains(entry.id());
            if take {
                batch.push(entry.clone());
            }
            !take
        });
    }
    if batch.is_empty() {
        let take = size.min(remaining.len());
        batch.extend(remaining.drain(..take));
    }
    batch
}

/// Stores one batch's SVIDs (those whose entry is still the one the CSR was made for) and
/// notifies the workloads.
fn store(
    shared: &Shared,
    prepared: Vec<Prepared>,
    results: Vec<SignedX509Svid>,
    report: &mut SyncReport,
) {
    let mut guard = shared.write();
    let state = &mut *guard;
    let mut stored = Vec::new();
    for (prepared, result) in prepared.into_iter().zip(results) {
        let entry = &prepared.entry;
        let current = state
            .index
            .get(entry.id().as_str())
            .is_some_and(|e| e.revision_number() == entry.revision_number());
        if !current {
            continue;
        }
        let chain = match result {
            Ok(chain) => chain,
            Err(failure) => {
                report.svids_failed += 1;
                tracing::warn!(entry = %entry.id(), code = failure.code, message = %failure.message,
                    "the server refused to sign an X.509-SVID");
                continue;
            }
        };
        match state.svids.build_svid(chain, prepared.key) {
            Ok(svid) if svid.spiffe_id() == entry.spiffe_id() => {
                let leaf = svid.leaf();
                let rotate_at =
                    jitter::rotation_time(leaf.not_before(), leaf.not_after(), jitter::unit());
                state
                    .svids
                    .insert(entry.id().clone(), Arc::new(svid), rotate_at);
                stored.push(entry.id().clone());
            }
            Ok(_) => {
                report.svids_failed += 1;
                tracing::warn!(entry = %entry.id(), "the server signed another SPIFFE ID than the entry's");
            }
            Err(error) => {
                report.svids_failed += 1;
                tracing::warn!(entry = %entry.id(), error = %error, "the server's X.509-SVID is unusable");
            }
        }
    }
    report.svids_signed += stored.len();
    if !stored.is_empty() {
        shared.publish(state);
    }
}
