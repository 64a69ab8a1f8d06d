//! Caller attestation, cached: each calling process (pid and start time, with its uid and gid)
//! is attested by every configured workload attestor once, and its selectors reused for
//! [`ProviderConfig::attestation_ttl`](super::ProviderConfig::attestation_ttl), so a change
//! notification that makes 10,000 streams re-query does not re-attest anyone.
//!
//! - The key includes the start time read at accept: a later process reusing the pid is
//!   another key (and the unix attestor refuses to describe it as the caller).
//! - Concurrent first queries of one caller wait for a single attestation.
//! - A failed attestation is not cached.
//! - Attestors run on blocking threads (they read `/proc`, and may hash binaries).
//! - Callers whose process is gone are forgotten by a sweep every
//!   [`ProviderConfig::caller_sweep_interval`](super::ProviderConfig::caller_sweep_interval);
//!   at most [`ProviderConfig::max_callers`](super::ProviderConfig::max_callers) are kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use spiffe_attest::workload::unix::process_start_time;
use spiffe_attest::workload::{CallerInfo, WorkloadAttestor};
use spiffe_attest::Selector;
use tokio::time::Instant;

use super::answers::{SelectorSet, SelectorSets};

/// A calling process, as the kernel identified it at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CallerKey {
    pub(crate) pid: i32,
    pub(crate) start_time: u64,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

#[derive(Debug)]
struct Attested {
    at: Instant,
    set: Arc<SelectorSet>,
}

#[derive(Debug, Default)]
struct CallerSlot {
    current: Mutex<Option<Attested>>,
    /// Held while attesting, so a caller is attested once however many streams ask.
    refresh: tokio::sync::Mutex<()>,
}

impl CallerSlot {
    fn fresh(&self, ttl: Duration) -> Option<Arc<SelectorSet>> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|a| a.at.elapsed() < ttl)
            .map(|a| a.set.clone())
    }

    fn attested_at(&self) -> Option<Instant> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map(|a| a.at)
    }
}

/// Why a caller could not be attested.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum AttestationFailed {
    #[error("workload attestor {name} failed")]
    Attestor {
        name: &'static str,
        #[source]
        source: spiffe_attest::AttestError,
    },
    #[error("workload attestor {name} did not complete")]
    Interrupted { name: &'static str },
}

impl AttestationFailed {
    /// Whether the failure says the caller's process is not the one that connected (or cannot
    /// be told apart from another).
    fn process_in_doubt(&self) -> bool {
        use spiffe_attest::workload::unix::UnixAttestorError as E;
        let Self::Attestor { source, .. } = self else {
            return false;
        };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source);
        while let Some(e) = cause {
            if let Some(e) = e.downcast_ref::<E>() {
                return matches!(
                    e,
                    E::NoPid
                        | E::InvalidPid { .. }
                        | E::StartTimeUnknown { .. }
                        | E::ProcessExited { .. }
                        | E::PidReused { .. }
                );
            }
            cause = e.source();
        }
        false
    }
}

/// The attestation cache.
pub(crate) struct CallerCache {
    attestors: Vec<Arc<dyn WorkloadAttestor>>,
    ttl: Duration,
    sweep_interval: Duration,
    max_callers: usize,
    callers: Mutex<HashMap<CallerKey, Arc<CallerSlot>>>,
    sets: SelectorSets,
    last_sweep: Mutex<Instant>,
}

// === impl CallerCache ===

impl CallerCache {
    pub(crate) fn new(
        attestors: Vec<Arc<dyn WorkloadAttestor>>,
        ttl: Duration,
        sweep_interval: Duration,
        max_callers: usize,
    ) -> Self {
        Self {
            attestors,
            ttl,
            sweep_interval,
            max_callers: max_callers.max(1),
            callers: Mutex::new(HashMap::new()),
            sets: SelectorSets::default(),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    fn callers(&self) -> MutexGuard<'_, HashMap<CallerKey, Arc<CallerSlot>>> {
        self.callers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The selector set of `caller`, attesting it if it is new or its selectors are older
    /// than the TTL.
    pub(crate) async fn attest(
        self: &Arc<Self>,
        caller: CallerKey,
    ) -> Result<Arc<SelectorSet>, AttestationFailed> {
        self.maybe_sweep();
        let slot = {
            let mut callers = self.callers();
            if let Some(slot) = callers.get(&caller) {
                slot.clone()
            } else {
                if callers.len() >= self.max_callers {
                    evict_oldest(&mut callers);
                }
                let slot = Arc::new(CallerSlot::default());
                callers.insert(caller, slot.clone());
                slot
            }
        };
        if let Some(set) = slot.fresh(self.ttl) {
            return Ok(set);
        }
        let _attesting = slot.refresh.lock().await;
        if let Some(set) = slot.fresh(self.ttl) {
            return Ok(set);
        }
        let peer = CallerInfo::new(Some(caller.pid), caller.uid, caller.gid)
            .with_start_time(caller.start_time);
        let selectors = combine(&self.attestors, peer).await?;
        let set = self.sets.intern(selectors);
        *slot.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Attested {
            at: Instant::now(),
            set: set.clone(),
        });
        Ok(set)
    }

    /// The shared set of `selectors`.
    pub(crate) fn intern(&self, selectors: Vec<Selector>) -> Arc<SelectorSet> {
        self.sets.intern(selectors)
    }

    /// Number of callers remembered.
    pub(crate) fn len(&self) -> usize {
        self.callers().len()
    }

    /// Number of distinct selector sets remembered.
    pub(crate) fn selector_sets(&self) -> usize {
        self.sets.len()
    }

    /// Starts a sweep of callers whose process is gone, at most every sweep interval.
    fn maybe_sweep(self: &Arc<Self>) {
        {
            let mut last = self
                .last_sweep
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.elapsed() < self.sweep_interval {
                return;
            }
            *last = Instant::now();
        }
        let cache = self.clone();
        // Reading /proc is blocking I/O.
        tokio::task::spawn_blocking(move || cache.sweep());
    }

    /// Forgets the callers whose process has exited (or whose pid another process now has),
    /// and the selector sets no caller holds any more.
    pub(crate) fn sweep(&self) {
        let keys: Vec<CallerKey> = self.callers().keys().copied().collect();
        let gone: Vec<CallerKey> = keys
            .into_iter()
            .filter(|k| process_start_time(k.pid).ok() != Some(k.start_time))
            .collect();
        {
            let mut callers = self.callers();
            for key in &gone {
                callers.remove(key);
            }
        }
        self.sets.prune();
    }
}

/// Runs one attestor on a blocking thread: attestors read `/proc` (the unix attestor may hash
/// a whole binary) inside their futures, which must not stall the runtime's workers.
/// Every attestor's selectors, as SPIRE's agent combines them: an attestor that fails is
/// logged and its selectors are left out (fewer selectors can only match fewer entries), and
/// only when every attestor fails is the caller not attested. One exception fails closed: an
/// attestor that found the caller's process itself in doubt (it exited, its pid now belongs to
/// another process, its start time is unknown) fails the whole attestation, since the other
/// attestors' answers might then describe another process.
async fn combine(
    attestors: &[Arc<dyn WorkloadAttestor>],
    peer: CallerInfo,
) -> Result<Vec<Selector>, AttestationFailed> {
    let mut selectors: Vec<Selector> = Vec::new();
    let mut first_failure = None;
    let mut succeeded = false;
    for attestor in attestors {
        match run_attestor(attestor.clone(), peer).await {
            Ok(found) => {
                succeeded = true;
                selectors.extend(found);
            }
            Err(e) if e.process_in_doubt() => return Err(e),
            Err(e) => {
                tracing::error!(
                    error = %spire_config::cli::error_chain(&e),
                    pid = ?peer.pid,
                    "Workload attestor failed; its selectors are left out"
                );
                first_failure.get_or_insert(e);
            }
        }
    }
    match first_failure {
        Some(e) if !succeeded => Err(e),
        _ => Ok(selectors),
    }
}

async fn run_attestor(
    attestor: Arc<dyn WorkloadAttestor>,
    peer: CallerInfo,
) -> Result<Vec<Selector>, AttestationFailed> {
    let name = attestor.name();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(attestor.attest(&peer)))
        .await
        .map_err(|_| AttestationFailed::Interrupted { name })?
        .map_err(|source| AttestationFailed::Attestor { name, source })
}

impl std::fmt::Debug for CallerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.attestors.iter().map(|a| a.name()).collect();
        f.debug_struct("CallerCache")
            .field("attestors", &names)
            .field("callers", &self.len())
            .finish_non_exhaustive()
    }
}

/// Makes room for one caller: the one attested longest ago (or never) goes.
fn evict_oldest(callers: &mut HashMap<CallerKey, Arc<CallerSlot>>) {
    let oldest = callers
        .iter()
        .min_by_key(|(_, slot)| slot.attested_at())
        .map(|(key, _)| *key);
    if let Some(key) = oldest {
        callers.remove(&key);
    }
}
