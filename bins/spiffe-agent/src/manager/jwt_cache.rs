//! The JWT-SVID cache: one token per (entry, audience set), minted on demand through the server
//! seam and reused until half its lifetime has passed (SPIRE's rule), bounded by a hard LRU
//! limit.
//!
//! - The audience set is sorted and deduplicated, so `["b", "a"]` and `["a", "b", "a"]` share
//!   a token (the token's `aud` is the set either way).
//! - Concurrent requests for one key wait for one mint (the slot's lock is held while minting).
//! - When minting fails and the cached token has not expired, the cached token is returned
//!   (SPIRE does the same); an expired one never is.
//! - Tokens signed by a JWT key the bundle no longer trusts (tainted or removed) are dropped.
//! - An entry with `jwt_svid_include_jti` bypasses the cache (SPIRE's agent does): each of its
//!   tokens carries a unique `jti`, so every request mints a new one and none is kept.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rustls_pki_types::UnixTime;
use spiffe_attest::{EntryId, RegistrationEntry};
use spiffe_core::jwt::UnverifiedJwtSvid;

use super::error::JwtSvidError;
use super::lru::Lru;
use crate::server::{MintedJwtSvid, ServerClient};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    entry: EntryId,
    audience: Box<[String]>,
}

#[derive(Debug)]
struct Cached {
    svid: MintedJwtSvid,
    refresh_at: UnixTime,
    kid: String,
}

/// One key's token; its lock serializes minting for that key.
#[derive(Debug, Default)]
struct Slot {
    token: tokio::sync::Mutex<Option<Cached>>,
}

/// Cache hits and mints so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwtCacheStats {
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests that minted a token.
    pub mints: u64,
    /// Tokens held now.
    pub cached: usize,
}

#[derive(Debug)]
pub(crate) struct JwtSvidCache {
    slots: Mutex<Lru<Key, Arc<Slot>>>,
    hits: AtomicU64,
    mints: AtomicU64,
}

// === impl JwtSvidCache ===

impl JwtSvidCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: Mutex::new(Lru::new(capacity)),
            hits: AtomicU64::new(0),
            mints: AtomicU64::new(0),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Lru<Key, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A JWT-SVID for `entry` and `audience` (not empty) at `now`: the cached one until half
    /// its life has passed, else a new one from `server`.
    pub(crate) async fn fetch(
        &self,
        server: &dyn ServerClient,
        entry: &RegistrationEntry,
        audience: &[String],
        now: UnixTime,
    ) -> Result<MintedJwtSvid, JwtSvidError> {
        if audience.is_empty() {
            return Err(JwtSvidError::NoAudience);
        }
        if entry.jwt_svid_include_jti() {
            let svid = server
                .new_jwt_svid(entry.id(), audience)
                .await
                .map_err(JwtSvidError::Server)?;
            if &svid.spiffe_id != entry.spiffe_id() {
                return Err(JwtSvidError::WrongSubject);
            }
            self.mints.fetch_add(1, Ordering::Relaxed);
            return Ok(svid);
        }
        let mut sorted: Vec<String> = audience.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let key = Key {
            entry: entry.id().clone(),
            audience: sorted.into_boxed_slice(),
        };
        let slot = {
            let mut slots = self.slots();
            match slots.get(&key) {
                Some(slot) => slot.clone(),
                None => {
                    let slot = Arc::new(Slot::default());
                    slots.insert(key.clone(), slot.clone());
                    slot
                }
            }
        };
        let mut token = slot.token.lock().await;
        if let Some(cached) = token.as_ref() {
            if now.as_secs() < cached.refresh_at.as_secs() {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(cached.svid.clone());
            }
        }
        match server.new_jwt_svid(entry.id(), &key.audience).await {
            Ok(svid) => {
                if &svid.spiffe_id != entry.spiffe_id() {
                    return Err(JwtSvidError::WrongSubject);
                }
                let kid = UnverifiedJwtSvid::parse_insecure(&svid.token)
                    .map_err(JwtSvidError::Malformed)?
                    .kid()
                    .to_owned();
                self.mints.fetch_add(1, Ordering::Relaxed);
                *token = Some(Cached {
                    refresh_at: half_life(&svid),
                    svid: svid.clone(),
                    kid,
                });
                Ok(svid)
            }
            Err(error) => match token.as_ref() {
                Some(cached) if now.as_secs() < cached.svid.expires_at.as_secs() => {
                    tracing::warn!(
                        entry = %entry.id(),
                        error = %error,
                        "minting a JWT-SVID failed; serving the cached one"
                    );
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    Ok(cached.svid.clone())
                }
                _ => Err(JwtSvidError::Server(error)),
            },
        }
    }

    /// Drops the tokens of entry `id`.
    pub(crate) fn remove_entry(&self, id: &str) {
        self.slots().remove_where(|key, _| key.entry.as_str() == id);
    }

    /// Drops the tokens signed by a key `trusted` rejects. A slot being minted into is skipped
    /// (its new token comes from the current key).
    pub(crate) fn retain_signed_by(&self, trusted: impl Fn(&str) -> bool) {
        self.slots()
            .remove_where(|_, slot| match slot.token.try_lock() {
                Ok(token) => token.as_ref().is_some_and(|c| !trusted(&c.kid)),
                Err(_) => false,
            });
    }

    pub(crate) fn stats(&self) -> JwtCacheStats {
        let cached = self
            .slots()
            .values()
            .filter(|slot| slot.token.try_lock().map_or(true, |t| t.is_some()))
            .count();
        JwtCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            mints: self.mints.load(Ordering::Relaxed),
            cached,
        }
    }
}

/// When a token has lived half its life (SPIRE's `JWTSVIDExpiresSoon`).
fn half_life(svid: &MintedJwtSvid) -> UnixTime {
    let issued = svid.issued_at.as_secs();
    let expires = svid.expires_at.as_secs().max(issued);
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        issued + (expires - issued) / 2,
    ))
}
