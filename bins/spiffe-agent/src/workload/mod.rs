//! The Workload API provider: [`AgentIdentityProvider`] implements `spiffe-workload`'s
//! [`IdentityProvider`], so the server kit serves the agent's cache to workloads.
//!
//! A request goes: the caller's kernel credentials ([`CallerInfo`]: pid, uid, gid, process start
//! time) → selectors from every configured workload attestor, combined (cached per process for
//! [`ProviderConfig::attestation_ttl`]) → the selector set's answer at the current cache
//! generation (computed once per change and shared by every caller with those selectors) → the
//! kit's wire message.
//!
//! - A caller no entry matches gets no identity (PERMISSION_DENIED, WAPI-16). Its client
//!   retries, and gets the SVID once an entry for it exists.
//! - A caller whose entries have no SVID yet (a new entry, or one evicted from the cache) waits
//!   for the signing it triggers, up to [`ProviderConfig::svid_wait_timeout`], as SPIRE's agent
//!   makes a new subscriber wait for the next sync; then UNAVAILABLE.
//! - Before the first successful sync every caller waits the same way.
//! - [`IdentityProvider::changes`] fires on every cache change (entries added or deleted, SVIDs
//!   signed or rotated, bundles), and open streams re-query.

pub(crate) mod answers;
mod attestation;

use std::sync::Arc;
use std::time::Duration;

use spiffe_attest::workload::WorkloadAttestor;
use spiffe_core::jwt::{JwtSvid, JwtValidationOptions};
use spiffe_core::{BundleSet, SpiffeId};
use spiffe_workload::{
    CallerInfo, IdentityProvider, JwtBundles, JwtSvidEntry, ProviderError, X509Context,
};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::manager::{AgentManager, JwtSvidError};
pub(crate) use answers::{Answer, SelectorSet};
use attestation::{CallerCache, CallerKey};

/// How long a caller's selectors are reused before it is attested again.
pub const DEFAULT_ATTESTATION_TTL: Duration = Duration::from_secs(30);
/// How long a caller waits for SVIDs being signed (or for the first sync).
pub const DEFAULT_SVID_WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often callers whose process exited are forgotten.
pub const DEFAULT_CALLER_SWEEP_INTERVAL: Duration = Duration::from_secs(30);
/// How many callers' attestations are remembered.
pub const DEFAULT_MAX_CALLERS: usize = 64 * 1024;

/// The provider's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderConfig {
    /// How long a caller's selectors are reused ([`DEFAULT_ATTESTATION_TTL`]).
    pub attestation_ttl: Duration,
    /// How long a caller waits for SVIDs being signed ([`DEFAULT_SVID_WAIT_TIMEOUT`]).
    pub svid_wait_timeout: Duration,
    /// How often exited callers are forgotten ([`DEFAULT_CALLER_SWEEP_INTERVAL`]).
    pub caller_sweep_interval: Duration,
    /// How many callers are remembered ([`DEFAULT_MAX_CALLERS`]).
    pub max_callers: usize,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            attestation_ttl: DEFAULT_ATTESTATION_TTL,
            svid_wait_timeout: DEFAULT_SVID_WAIT_TIMEOUT,
            caller_sweep_interval: DEFAULT_CALLER_SWEEP_INTERVAL,
            max_callers: DEFAULT_MAX_CALLERS,
        }
    }
}

/// The agent's [`IdentityProvider`]. See the [module docs](self).
#[derive(Debug)]
pub struct AgentIdentityProvider {
    manager: AgentManager,
    callers: Arc<CallerCache>,
    config: ProviderConfig,
}

/// Sizes of the provider's caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderStats {
    /// Callers whose attestation is remembered.
    pub callers: usize,
    /// Distinct selector sets remembered.
    pub selector_sets: usize,
}

// === impl AgentIdentityProvider ===

impl AgentIdentityProvider {
    /// Serves `manager`'s cache to callers attested by `attestors` (their selectors combined;
    /// at least one, e.g. the unix attestor).
    pub fn new(
        manager: AgentManager,
        attestors: Vec<Arc<dyn WorkloadAttestor>>,
        config: ProviderConfig,
    ) -> Self {
        let callers = Arc::new(CallerCache::new(
            attestors,
            config.attestation_ttl,
            config.caller_sweep_interval,
            config.max_callers,
        ));
        Self {
            manager,
            callers,
            config,
        }
    }

    /// The manager served.
    pub fn manager(&self) -> &AgentManager {
        &self.manager
    }

    /// Sizes of the attestation and answer caches.
    pub fn stats(&self) -> ProviderStats {
        ProviderStats {
            callers: self.callers.len(),
            selector_sets: self.callers.selector_sets(),
        }
    }

    /// Forgets now the callers whose process has exited (this also runs by itself every
    /// sweep interval); their SVIDs are then no longer in use.
    pub fn forget_exited_callers(&self) {
        self.callers.sweep();
    }

    async fn selector_set(&self, caller: &CallerInfo) -> Result<Arc<SelectorSet>, ProviderError> {
        let key = match (caller.pid, caller.start_time) {
            (Some(pid), Some(start_time)) => CallerKey {
                pid,
                start_time,
                uid: caller.uid,
                gid: caller.gid,
            },
            // Without a pid there is no process to attest.
            (None, _) => return Err(ProviderError::NoIdentity),
            // The process exited before it could be identified at accept: nothing read now
            // would be known to describe it.
            (Some(_), None) => return Err(ProviderError::Unavailable),
        };
        self.callers.attest(key).await.map_err(|error| {
            tracing::warn!(caller = %caller, error = %error, "workload attestation failed");
            ProviderError::Unavailable
        })
    }

    /// The caller's answer once the cache has synced, waiting up to the SVID wait timeout
    /// while `ready` says the answer is not final.
    async fn answer(
        &self,
        caller: &CallerInfo,
        ready: impl Fn(&Answer) -> bool,
    ) -> Result<Arc<Answer>, ProviderError> {
        let set = self.selector_set(caller).await?;
        self.set_answer(&set, ready).await
    }

    /// The answer for the selector set `set`, as [`Self::answer`].
    pub(crate) async fn set_answer(
        &self,
        set: &SelectorSet,
        ready: impl Fn(&Answer) -> bool,
    ) -> Result<Arc<Answer>, ProviderError> {
        let deadline = Instant::now() + self.config.svid_wait_timeout;
        let mut synced = self.manager.watch_synced();
        loop {
            let mut changes = self.manager.changes();
            if !self.manager.is_synced() {
                let synced = synced.wait_for(|synced| *synced);
                if tokio::time::timeout_at(deadline, synced).await.is_err() {
                    return Err(ProviderError::Unavailable);
                }
                continue;
            }
            let answer = set.answer(&self.manager);
            if !answer.pending.is_empty() {
                self.manager.request_svids(answer.pending.iter().cloned());
            }
            if ready(&answer) {
                return Ok(answer);
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                return Err(ProviderError::Unavailable);
            }
        }
    }

    /// The caller's answer (its matching entries), for the admin API's delegate check.
    pub(crate) async fn caller_answer(
        &self,
        caller: &CallerInfo,
    ) -> Result<Arc<Answer>, ProviderError> {
        self.answer(caller, |_| true).await
    }

    /// The shared selector set of `selectors` (a delegate's request).
    pub(crate) fn selectors_set(
        &self,
        selectors: Vec<spiffe_attest::Selector>,
    ) -> Arc<SelectorSet> {
        self.callers.intern(selectors)
    }

    /// The selector set of the running process `pid`, attested by the workload attestors (a
    /// delegate's request by pid).
    pub(crate) async fn pid_set(&self, pid: i32) -> Result<Arc<SelectorSet>, ProviderError> {
        let (uid, gid) = process_ids(pid).ok_or(ProviderError::Unavailable)?;
        let start_time = spiffe_attest::workload::unix::process_start_time(pid)
            .map_err(|_| ProviderError::Unavailable)?;
        let caller = CallerInfo::new(Some(pid), uid, gid).with_start_time(start_time);
        self.selector_set(&caller).await
    }
}

/// Whether an answer can be given now: some SVID, or no matching entry at all.
fn x509_ready(answer: &Answer) -> bool {
    !answer.x509.svids.is_empty() || answer.view.is_empty()
}

impl IdentityProvider for AgentIdentityProvider {
    async fn x509_context(&self, caller: &CallerInfo) -> Result<X509Context, ProviderError> {
        let answer = self.answer(caller, x509_ready).await?;
        if answer.x509.svids.is_empty() {
            return Err(ProviderError::NoIdentity);
        }
        Ok(answer.x509.clone())
    }

    async fn jwt_svids(
        &self,
        caller: &CallerInfo,
        audience: &[String],
        spiffe_id: Option<&SpiffeId>,
    ) -> Result<Vec<JwtSvidEntry>, ProviderError> {
        let answer = self.answer(caller, |_| true).await?;
        let mut entries: Vec<_> = answer
            .view
            .identities
            .iter()
            .map(|i| &i.entry)
            .filter(|e| spiffe_id.is_none_or(|id| e.spiffe_id() == id))
            .collect();
        // One token per identity: the first entry (by id) of each SPIFFE ID.
        let mut seen = std::collections::HashSet::new();
        entries.retain(|e| seen.insert(e.spiffe_id().clone()));
        if entries.is_empty() {
            return Err(match spiffe_id {
                Some(id) if !answer.view.is_empty() => ProviderError::NotEntitled {
                    spiffe_id: id.clone(),
                },
                _ => ProviderError::NoIdentity,
            });
        }
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let svid =
                self.manager.fetch_jwt_svid(entry, audience).await.map_err(
                    |error| match error {
                        JwtSvidError::Server(_) => ProviderError::Unavailable,
                        other => ProviderError::Internal(Box::new(other)),
                    },
                )?;
            out.push(JwtSvidEntry {
                spiffe_id: svid.spiffe_id,
                token: svid.token,
                hint: entry.hint().unwrap_or_default().to_owned(),
            });
        }
        Ok(out)
    }

    async fn jwt_bundles(&self, caller: &CallerInfo) -> Result<JwtBundles, ProviderError> {
        let answer = self.answer(caller, |_| true).await?;
        if answer.view.is_empty() {
            return Err(ProviderError::NoIdentity);
        }
        Ok(answer.view.jwt_bundles.clone())
    }

    async fn validate_jwt_svid(
        &self,
        caller: &CallerInfo,
        audience: &str,
        token: &str,
    ) -> Result<JwtSvid, ProviderError> {
        let mut set = BundleSet::new();
        for bundle in self.jwt_bundles(caller).await? {
            set.insert_jwt(bundle);
        }
        // The agent's clock, not the system's: what the cache judges validity by.
        let options = JwtValidationOptions::new(self.manager.clock().now());
        JwtSvid::validate(token, &set, &[audience], &options).map_err(ProviderError::InvalidJwtSvid)
    }

    fn changes(&self) -> watch::Receiver<()> {
        self.manager.changes()
    }
}

/// The real uid and gid of the process `pid` (`/proc/<pid>/status`).
fn process_ids(pid: i32) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let first = |key: &str| -> Option<u32> {
        text.lines()
            .find_map(|line| line.strip_prefix(key))?
            .split_ascii_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((first("Uid:")?, first("Gid:")?))
}
