//! Where the server keeps join tokens until they are used or expire.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::digest;
use rustls_pki_types::UnixTime;

use super::{JoinToken, JoinTokenError};
use spiffe_core::BoxFuture;

/// Storage for outstanding join tokens.
///
/// [`JoinTokenStore::take`] must be atomic: of two attempts presenting the same token, at
/// most one may receive its expiry. That is what makes a token one-time.
pub trait JoinTokenStore: Send + Sync {
    /// Records a token valid until `expires_at`. Replaces an existing entry for the same
    /// token.
    fn insert<'a>(
        &'a self,
        token: &'a JoinToken,
        expires_at: UnixTime,
    ) -> BoxFuture<'a, Result<(), JoinTokenError>>;

    /// Removes the token and returns its expiry, or `None` when it is unknown or was already
    /// taken. An expired token is removed too (as SPIRE does), so it cannot be retried.
    fn take<'a>(
        &'a self,
        token: &'a JoinToken,
    ) -> BoxFuture<'a, Result<Option<UnixTime>, JoinTokenError>>;
}

/// An in-memory [`JoinTokenStore`] for tests and single-process setups.
///
/// Tokens are kept by their SHA-256 digest, never in clear: the lookup compares digests, so
/// its timing reveals nothing useful about a token, and a memory dump does not hold usable
/// tokens.
#[derive(Debug, Default)]
pub struct InMemoryJoinTokenStore {
    tokens: Mutex<HashMap<[u8; 32], UnixTime>>,
}

// === impl InMemoryJoinTokenStore ===

impl InMemoryJoinTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops every token that expired before `now`; returns how many were dropped.
    pub fn purge_expired(&self, now: UnixTime) -> usize {
        let mut tokens = self.lock();
        let before = tokens.len();
        tokens.retain(|_, expires_at| *expires_at >= now);
        before - tokens.len()
    }

    /// How many tokens are outstanding.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no token is outstanding.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], UnixTime>> {
        // A panic while holding the lock cannot leave the map half-updated (single calls).
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn key(token: &JoinToken) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, token.expose().as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

impl JoinTokenStore for InMemoryJoinTokenStore {
    fn insert<'a>(
        &'a self,
        token: &'a JoinToken,
        expires_at: UnixTime,
    ) -> BoxFuture<'a, Result<(), JoinTokenError>> {
        let key = key(token);
        self.lock().insert(key, expires_at);
        Box::pin(async { Ok(()) })
    }

    fn take<'a>(
        &'a self,
        token: &'a JoinToken,
    ) -> BoxFuture<'a, Result<Option<UnixTime>, JoinTokenError>> {
        let taken = self.lock().remove(&key(token));
        Box::pin(async move { Ok(taken) })
    }
}
