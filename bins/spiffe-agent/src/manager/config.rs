use std::time::Duration;

use spiffe_ca::keys::KeyType;
use spiffe_core::{SpiffeId, TrustDomain};

use crate::server::MAX_CSRS_PER_BATCH;

/// SPIRE's `experimental.sync_interval` default: how often the agent syncs with the server.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(5);
/// SPIRE's `x509_svid_cache_max_size` default (a soft limit: SVIDs in use are never evicted).
pub const DEFAULT_X509_SVID_CACHE_MAX_SIZE: usize = 1000;
/// SPIRE's `jwt_svid_cache_max_size` default (a hard limit).
pub const DEFAULT_JWT_SVID_CACHE_MAX_SIZE: usize = 1000;
/// SPIRE's `workload_x509_svid_key_type` default.
pub const DEFAULT_WORKLOAD_KEY_TYPE: KeyType = KeyType::EcP256;
/// The cap on the sync backoff, whatever the interval (SPIRE's `synchronizeMaxInterval`).
pub const MAX_SYNC_BACKOFF: Duration = Duration::from_secs(8 * 60);
/// The sync backoff cap as a multiple of the interval (SPIRE's
/// `synchronizeMaxIntervalMultiple`): with the 5 s default, 4 minutes.
pub const SYNC_BACKOFF_INTERVAL_MULTIPLE: u32 = 48;

/// The manager's settings, each defaulting to SPIRE's value.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ManagerConfig {
    /// The agent's trust domain: its bundle is the one SVIDs chain to.
    pub trust_domain: TrustDomain,
    /// The agent's own SPIFFE ID.
    pub agent_id: SpiffeId,
    /// Time between syncs while the server answers ([`DEFAULT_SYNC_INTERVAL`]). After a
    /// failure the wait grows 1.5x per attempt (±10% jitter) up to
    /// min([`MAX_SYNC_BACKOFF`], [`SYNC_BACKOFF_INTERVAL_MULTIPLE`] × this).
    pub sync_interval: Duration,
    /// The X.509-SVIDs kept without a subscriber ([`DEFAULT_X509_SVID_CACHE_MAX_SIZE`]); the
    /// least recently used beyond it are evicted, never one a workload is being served.
    pub x509_svid_cache_max_size: usize,
    /// The JWT-SVIDs kept ([`DEFAULT_JWT_SVID_CACHE_MAX_SIZE`]), least recently used evicted.
    pub jwt_svid_cache_max_size: usize,
    /// The type of the keys generated for workloads ([`DEFAULT_WORKLOAD_KEY_TYPE`]).
    pub workload_key_type: KeyType,
    /// CSRs per `BatchNewX509SVID` call, at most [`MAX_CSRS_PER_BATCH`] (the default).
    pub csr_batch_size: usize,
}

// === impl ManagerConfig ===

impl ManagerConfig {
    /// SPIRE's defaults for the agent `agent_id` of `trust_domain`.
    pub fn new(trust_domain: TrustDomain, agent_id: SpiffeId) -> Self {
        Self {
            trust_domain,
            agent_id,
            sync_interval: DEFAULT_SYNC_INTERVAL,
            x509_svid_cache_max_size: DEFAULT_X509_SVID_CACHE_MAX_SIZE,
            jwt_svid_cache_max_size: DEFAULT_JWT_SVID_CACHE_MAX_SIZE,
            workload_key_type: DEFAULT_WORKLOAD_KEY_TYPE,
            csr_batch_size: MAX_CSRS_PER_BATCH,
        }
    }

    /// The longest wait between sync attempts after failures.
    pub fn max_sync_backoff(&self) -> Duration {
        MAX_SYNC_BACKOFF.min(self.sync_interval * SYNC_BACKOFF_INTERVAL_MULTIPLE)
    }

    /// The batch size actually used: between 1 and [`MAX_CSRS_PER_BATCH`].
    pub(crate) fn batch_size(&self) -> usize {
        self.csr_batch_size.clamp(1, MAX_CSRS_PER_BATCH)
    }
}
