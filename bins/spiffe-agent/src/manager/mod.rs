//! The manager: the agent's cache of authorized entries, X.509-SVIDs, JWT-SVIDs and bundles,
//! kept in sync with the server and rotated, and what it serves to workloads.
//!
//! [`AgentManager::run`] syncs every [`ManagerConfig::sync_interval`]: entries by revision and
//! bundles, then the SVIDs to sign (new, due for rotation, or of a tainted authority) in
//! batches; see `docs/agent.md`. Readers ([`AgentManager::workload_view`], the Workload API)
//! take a shared lock and never wait for the server; every change they could see bumps the
//! [`generation`](AgentManager::generation) and notifies [`AgentManager::changes`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use spiffe_agent::clock::SystemClock;
//! use spiffe_agent::manager::{AgentManager, ManagerConfig};
//! use spiffe_agent::server::ServerClient;
//! use spiffe_core::{SpiffeId, TrustDomain};
//!
//! # async fn run(server: Arc<dyn ServerClient>) -> Result<(), Box<dyn std::error::Error>> {
//! let config = ManagerConfig::new(
//!     TrustDomain::new("example.org")?,
//!     SpiffeId::new("spiffe://example.org/spire/agent/join_token/abc")?,
//! );
//! let manager = AgentManager::new(config, server, Arc::new(SystemClock));
//! let task = tokio::spawn({
//!     let manager = manager.clone();
//!     async move { manager.run(std::future::pending()).await }
//! });
//! let mut changes = manager.changes();
//! changes.changed().await?; // entries, SVIDs or bundles changed
//! # task.abort();
//! # Ok(())
//! # }
//! ```

pub(crate) mod backoff;
mod bundles;
mod config;
mod entries;
mod error;
mod jitter;
mod jwt_cache;
mod lru;
mod minting;
mod state;
mod svid_cache;
mod sync;
mod view;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use rustls_pki_types::UnixTime;
use spiffe_attest::{EntryId, RegistrationEntry, Selector};
use spiffe_core::{TrustDomain, X509Svid};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::server::{KnownRevisions, MintedJwtSvid, ServerBundle, ServerClient};
use backoff::SyncBackoff;
use jwt_cache::JwtSvidCache;
use state::CacheState;
use sync::SyncState;

pub use config::{
    ManagerConfig, DEFAULT_JWT_SVID_CACHE_MAX_SIZE, DEFAULT_SYNC_INTERVAL,
    DEFAULT_WORKLOAD_KEY_TYPE, DEFAULT_X509_SVID_CACHE_MAX_SIZE, MAX_SYNC_BACKOFF,
    SYNC_BACKOFF_INTERVAL_MULTIPLE,
};
pub use error::{JwtSvidError, KeyGenerationError, SyncError, SyncStage};
pub use jwt_cache::JwtCacheStats;
pub use sync::{SyncReport, SyncStatus};
pub use view::{WorkloadIdentity, WorkloadView};

/// The agent's cache and its sync with the server. Cheap to clone (shared state).
#[derive(Clone)]
pub struct AgentManager {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    config: ManagerConfig,
    server: Arc<dyn ServerClient>,
    clock: Arc<dyn Clock>,
    state: RwLock<CacheState>,
    changes: watch::Sender<()>,
    status: watch::Sender<SyncStatus>,
    /// Whether entries and bundles have been synced once.
    synced: watch::Sender<bool>,
    sync_now: Notify,
    /// Entries a workload waits for an SVID of, and since when: signed even beyond the cache
    /// bound, and not evicted until handed out (or [`DEMAND_TTL`] has passed).
    demand: Mutex<HashMap<EntryId, Instant>>,
    jwt: JwtSvidCache,
    sync: tokio::sync::Mutex<SyncState>,
}

/// How long a request for an SVID ([`AgentManager::request_svids`]) protects it from
/// eviction if no workload picks it up (a waiting workload asks again).
const DEMAND_TTL: Duration = Duration::from_secs(120);

/// When an entry's X.509-SVID is rotated and when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SvidTimes {
    /// The leaf's notBefore.
    pub not_before: UnixTime,
    /// The leaf's notAfter.
    pub not_after: UnixTime,
    /// When the next sync re-signs it: half its lifetime, ±10%.
    pub rotate_at: UnixTime,
}

/// Sizes of the caches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Authorized entries held.
    pub entries: usize,
    /// X.509-SVIDs held.
    pub x509_svids: usize,
    /// Distinct intermediate certificates held (each shared by every chain carrying it).
    pub intermediates: usize,
    /// Federated bundles held.
    pub federated_bundles: usize,
    /// The JWT-SVID cache.
    pub jwt: JwtCacheStats,
}

// === impl AgentManager ===

impl AgentManager {
    /// A manager with an empty cache; [`Self::run`] (or [`Self::sync`]) fills it from `server`.
    /// `clock` gives the wall-clock time SVID validity and rotation are judged by.
    pub fn new(
        config: ManagerConfig,
        server: Arc<dyn ServerClient>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let backoff = SyncBackoff::new(config.sync_interval, config.max_sync_backoff());
        Self {
            shared: Arc::new(Shared {
                state: RwLock::new(CacheState::new(&config.trust_domain)),
                jwt: JwtSvidCache::new(config.jwt_svid_cache_max_size),
                changes: watch::channel(()).0,
                status: watch::channel(SyncStatus::default()).0,
                synced: watch::channel(false).0,
                sync_now: Notify::new(),
                demand: Mutex::new(HashMap::new()),
                sync: tokio::sync::Mutex::new(SyncState {
                    known: KnownRevisions::new(),
                    backoff,
                }),
                config,
                server,
                clock,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ManagerConfig {
        &self.shared.config
    }

    /// The clock the manager reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    /// Syncs every sync interval until `shutdown` completes: at once on start, then after each
    /// round the interval (or, after a failure, the backoff), or sooner when a workload waits
    /// for an SVID ([`Self::sync_now`]).
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        sync::run(self.shared.clone(), shutdown).await;
    }

    /// Runs one sync round now (waiting for a round in progress to end first).
    pub async fn sync(&self) -> Result<SyncReport, Arc<SyncError>> {
        sync::run_round(&self.shared).await
    }

    /// Asks [`Self::run`] for a round now (ignored while the server is failing: the backoff
    /// holds).
    pub fn sync_now(&self) {
        self.shared.sync_now.notify_one();
    }

    /// A receiver notified whenever anything a workload could see changed (entries, SVIDs,
    /// bundles).
    pub fn changes(&self) -> watch::Receiver<()> {
        self.shared.changes.subscribe()
    }

    /// The number of changes so far; a [`WorkloadView`] of the same generation is current.
    pub fn generation(&self) -> u64 {
        self.shared.read().generation
    }

    /// The sync loop's state after the last round.
    pub fn status(&self) -> SyncStatus {
        self.shared.status.borrow().clone()
    }

    /// A receiver of the sync loop's state, updated after every round.
    pub fn watch_status(&self) -> watch::Receiver<SyncStatus> {
        self.shared.status.subscribe()
    }

    /// Whether the entries and bundles have been synced once (before that, the agent knows
    /// no entry; SVIDs may still be being signed after).
    pub fn is_synced(&self) -> bool {
        *self.shared.synced.borrow()
    }

    /// A receiver of [`Self::is_synced`].
    pub fn watch_synced(&self) -> watch::Receiver<bool> {
        self.shared.synced.subscribe()
    }

    /// What a workload with `selectors` gets now. The SVIDs in the view count as handed out:
    /// those asked for with [`Self::request_svids`] are no longer protected by the request
    /// (holding them keeps them in use).
    pub fn workload_view(&self, selectors: &[Selector]) -> WorkloadView {
        let now = self.shared.clock.now();
        let view = self.shared.read().view(selectors, now);
        self.shared
            .handed_out(view.svids().map(|(entry, _)| entry.id().as_str()));
        view
    }

    /// Asks for the X.509-SVIDs of `entries` (a workload waits for them): they are signed at
    /// the next round even beyond the cache bound, and a round is started now if any was not
    /// asked for already.
    pub fn request_svids(&self, entries: impl IntoIterator<Item = EntryId>) {
        let added = {
            let now = Instant::now();
            let mut demand = self.shared.demand();
            entries.into_iter().fold(false, |added, id| {
                let new = !demand.contains_key(&id);
                if new {
                    demand.insert(id, now);
                }
                new || added
            })
        };
        if added {
            self.sync_now();
        }
    }

    /// A JWT-SVID for `entry` (one of the synced entries) and `audience`: cached per entry and
    /// audience set until half its life has passed, else minted by the server.
    pub async fn fetch_jwt_svid(
        &self,
        entry: &RegistrationEntry,
        audience: &[String],
    ) -> Result<MintedJwtSvid, JwtSvidError> {
        let now = self.shared.clock.now();
        self.shared
            .jwt
            .fetch(&*self.shared.server, entry, audience, now)
            .await
    }

    /// The synced entries, in no particular order.
    pub fn entries(&self) -> Vec<Arc<RegistrationEntry>> {
        self.shared.read().index.iter().cloned().collect()
    }

    /// The synced entry `id`.
    pub fn entry(&self, id: &str) -> Option<Arc<RegistrationEntry>> {
        self.shared.read().index.get(id).cloned()
    }

    /// The X.509-SVID held for the entry `id` (handed out, as by [`Self::workload_view`]).
    /// Holding the returned `Arc` keeps the SVID from being evicted (it is in use).
    pub fn x509_svid(&self, entry_id: &str) -> Option<Arc<X509Svid>> {
        let svid = self.shared.read().svids.use_svid(entry_id).cloned()?;
        self.shared.handed_out(std::iter::once(entry_id));
        Some(svid)
    }

    /// When the SVID of the entry `id` expires and is rotated.
    pub fn svid_times(&self, entry_id: &str) -> Option<SvidTimes> {
        let state = self.shared.read();
        let record = state.svids.get(entry_id)?;
        Some(SvidTimes {
            not_before: record.svid.leaf().not_before(),
            not_after: record.svid.leaf().not_after(),
            rotate_at: record.rotate_at,
        })
    }

    /// The bundle of the agent's trust domain, once synced.
    pub fn bundle(&self) -> Option<ServerBundle> {
        self.shared.read().bundles.own().cloned()
    }

    /// The bundle of a federated trust domain some entry federates with.
    pub fn federated_bundle(&self, trust_domain: &TrustDomain) -> Option<ServerBundle> {
        self.shared
            .read()
            .bundles
            .federated(trust_domain.as_str())
            .cloned()
    }

    /// Sizes of the caches.
    pub fn cache_stats(&self) -> CacheStats {
        let state = self.shared.read();
        CacheStats {
            entries: state.index.len(),
            x509_svids: state.svids.len(),
            intermediates: state.svids.intermediate_count(),
            federated_bundles: state.bundles.federated_count(),
            jwt: self.shared.jwt.stats(),
        }
    }
}

impl std::fmt::Debug for AgentManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentManager")
            .field("agent_id", &self.shared.config.agent_id)
            .finish_non_exhaustive()
    }
}

// === impl Shared ===

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, CacheState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, CacheState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn demand(&self) -> std::sync::MutexGuard<'_, HashMap<EntryId, Instant>> {
        self.demand.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ids requested now.
    fn demanded(&self) -> HashSet<EntryId> {
        self.demand().keys().cloned().collect()
    }

    /// Forgets requests older than [`DEMAND_TTL`] and those `keep` rejects; returns the ids
    /// still requested.
    fn demand_retain(&self, keep: impl Fn(&EntryId) -> bool) -> HashSet<EntryId> {
        let mut demand = self.demand();
        demand.retain(|id, since| since.elapsed() < DEMAND_TTL && keep(id));
        demand.keys().cloned().collect()
    }

    /// The SVIDs of `ids` reached a workload: their requests are fulfilled.
    fn handed_out<'a>(&self, ids: impl Iterator<Item = &'a str>) {
        let mut demand = self.demand();
        if demand.is_empty() {
            return;
        }
        for id in ids {
            demand.remove(id);
        }
    }

    /// Makes a change visible: a new generation, and every subscriber notified.
    fn publish(&self, state: &mut CacheState) {
        state.generation += 1;
        self.changes.send_replace(());
    }
}
