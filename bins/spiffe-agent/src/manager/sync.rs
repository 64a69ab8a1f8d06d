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
            tracing::warn!(error = %error_chain(&*error), "sync with the server failed; serving cached SVIDs");
            // The backoff grows while the server fails, but an SVID due for rotation must not
            // expire while the loop sleeps: retry within a quarter of the life it has left.
            let mut wait = state.backoff.next();
            if let Some(expiry) = shared.read().svids.earliest_due_expiry(now) {
                let left = expiry.as_secs().saturating_sub(now.as_secs());
                wait = super::backoff::within_life(wait, Duration::from_secs(left));
            }
            (wait, Err(error))
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
    let (plan, mut unpublished) = {
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
        let changed = !changes.is_empty() || own_changed || federated_changed;
        // When signing follows, the change is published with the first batch's SVIDs (a few
        // milliseconds later): one notification, so open streams re-query once, not twice
        // (an entry change that re-signs an SVID would otherwise resend nothing the first time).
        let defer = changed && !plan.is_empty();
        if changed && !defer {
            shared.publish(state);
        }
        (plan, defer)
    };
    shared
        .synced
        .send_if_modified(|synced| !std::mem::replace(synced, true));

    let signed = sign(shared, plan, &mut report, &mut unpublished).await;
    let mut guard = shared.write();
    let state = &mut *guard;
    if std::mem::take(&mut unpublished) {
        shared.publish(state);
    }
    signed?;

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

/// The most entries in a round's first batch: small, so the first SVIDs (and the change that
/// came with them) reach workloads within milliseconds, and workloads that wait for the first
/// sync can ask for theirs before the big batches.
const FIRST_BATCH_SIZE: usize = 64;

/// Signs `plan` in batches, storing each batch's SVIDs as it arrives.
async fn sign(
    shared: &Shared,
    plan: Vec<Arc<RegistrationEntry>>,
    report: &mut SyncReport,
    unpublished: &mut bool,
) -> Result<(), SyncError> {
    let config = &shared.config;
    let mut remaining: VecDeque<Arc<RegistrationEntry>> = plan.into();
    let mut size = FIRST_BATCH_SIZE.min(config.batch_size());
    while !remaining.is_empty() {
        let chunk = {
            let demanded = shared.demanded();
            let state = shared.read();
            // An entry in the plan that holds an SVID is there to re-sign it (due for
            // rotation, or marked for re-signing).
            let rotating = |id: &EntryId| state.svids.get(id.as_str()).is_some();
            next_batch(&mut remaining, &demanded, size, rotating)
        };
        size = config.batch_size();
        let prepared = minting::prepare(chunk, config.workload_key_type)
            .await
            .map_err(SyncError::KeyGeneration)?;
        let params: Vec<X509SvidParams> = prepared.iter().map(|p| p.params.clone()).collect();
        let results = shared
            .server
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
        store(shared, prepared, results, report, unpublished);
    }
    Ok(())
}

/// The next batch: the entries a workload asks for now, if any are left (a workload that
/// connects during a long first sync gets its SVID after one small batch, not after all of
/// them), with the SVIDs due for rotation (`rotating`) that fit in a first batch
/// ([`FIRST_BATCH_SIZE`]): a rotation must not wait for another round trip behind a new entry,
/// since the SVID it replaces may be close to its expiry while the network is slow. Else the
/// next `size` in plan order.
fn next_batch(
    remaining: &mut VecDeque<Arc<RegistrationEntry>>,
    demanded: &HashSet<EntryId>,
    size: usize,
    rotating: impl Fn(&EntryId) -> bool,
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
    if !batch.is_empty() {
        let fill = size.min(FIRST_BATCH_SIZE);
        remaining.retain(|entry| {
            let take = batch.len() < fill && rotating(entry.id());
            if take {
                batch.push(entry.clone());
            }
            !take
        });
        return batch;
    }
    let take = size.min(remaining.len());
    batch.extend(remaining.drain(..take));
    batch
}

/// Stores one batch's SVIDs (those whose entry is still the one the CSR was made for) and
/// notifies the workloads of them and of any change not yet published.
fn store(
    shared: &Shared,
    prepared: Vec<Prepared>,
    results: Vec<SignedX509Svid>,
    report: &mut SyncReport,
    unpublished: &mut bool,
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
    if std::mem::take(unpublished) || !stored.is_empty() {
        shared.publish(state);
    }
}

/// An error and its sources, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use spiffe_attest::Selector;
    use spiffe_core::SpiffeId;

    use super::*;

    fn entry(id: &str) -> Arc<RegistrationEntry> {
        let spiffe_id = SpiffeId::new(&format!("spiffe://example.org/{id}")).expect("id");
        let parent = SpiffeId::new("spiffe://example.org/agent").expect("id");
        Arc::new(
            RegistrationEntry::builder(id.parse().expect("entry id"), spiffe_id, parent)
                .selector(Selector::parse("unix:uid:1").expect("selector"))
                .build()
                .expect("entry"),
        )
    }

    fn ids(batch: &[Arc<RegistrationEntry>]) -> Vec<&str> {
        batch.iter().map(|e| e.id().as_str()).collect()
    }

    #[test]
    fn waited_for_entries_go_first_with_the_rotations_that_fit() {
        let mut remaining: VecDeque<_> = ["a", "b", "c", "d", "e", "f"].map(entry).into();
        let none = HashSet::new();
        let rotating = |id: &EntryId| ["d", "f"].contains(&id.as_str());
        assert_eq!(
            ids(&next_batch(&mut remaining, &none, 2, rotating)),
            ["a", "b"]
        );
        let demanded: HashSet<EntryId> =
            ["e".parse().expect("id"), "x".parse().expect("id")].into();
        // The waited-for entry first, then a rotation (not the new entry "c" before it in plan
        // order), up to the batch size.
        assert_eq!(
            ids(&next_batch(&mut remaining, &demanded, 2, rotating)),
            ["e", "d"]
        );
        // Fulfilled demand is no longer in the plan: plan order again.
        assert_eq!(
            ids(&next_batch(&mut remaining, &demanded, 2, rotating)),
            ["c", "f"]
        );
        assert!(remaining.is_empty());
    }

    #[test]
    fn a_waited_for_batch_carries_rotations_up_to_the_first_batch_size_only() {
        let names: Vec<String> = (0..FIRST_BATCH_SIZE + 10)
            .map(|i| format!("r{i:03}"))
            .collect();
        let mut remaining: VecDeque<_> = names.iter().map(|n| entry(n)).collect();
        remaining.push_back(entry("new"));
        let demanded: HashSet<EntryId> = ["new".parse().expect("id")].into();
        let batch = next_batch(&mut remaining, &demanded, 500, |id: &EntryId| {
            id.as_str().starts_with('r')
        });
        assert_eq!(batch.len(), FIRST_BATCH_SIZE);
        assert_eq!(batch[0].id().as_str(), "new");
        assert_eq!(batch[1].id().as_str(), "r000");
        assert_eq!(remaining.len(), 11);
        // Nothing rotating: the waited-for entries alone.
        let mut remaining: VecDeque<_> = ["a", "new"].map(entry).into();
        let batch = next_batch(&mut remaining, &demanded, 500, |_: &EntryId| false);
        assert_eq!(ids(&batch), ["new"]);
    }
}
