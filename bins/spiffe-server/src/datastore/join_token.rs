use std::fmt;
use std::sync::Arc;

use spiffe_attest::node::join_token::{JoinToken, JoinTokenError, JoinTokenStore};

use spiffe_core::pki_types::UnixTime;

use super::{BoxFuture, DataStore, DataStoreError};

/// What [`consume_join_token`](DataStore::consume_join_token) found. In every case the token
/// is gone afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinTokenUse {
    /// The token existed and had not expired: this caller, and only this caller, used it.
    Valid {
        /// Its expiry.
        expires_at: UnixTime,
    },
    /// The token existed but had expired.
    Expired {
        /// Its expiry.
        expires_at: UnixTime,
    },
    /// No such token: never created, already used, or pruned.
    Unknown,
}

/// The datastore as the `join_token` node attestor's [`JoinTokenStore`], so tokens survive
/// restarts and are shared by all servers of a database.
#[derive(Clone)]
pub struct DataStoreJoinTokens {
    store: Arc<dyn DataStore>,
}

// === impl DataStoreJoinTokens ===

impl DataStoreJoinTokens {
    /// Join tokens kept in `store`.
    pub fn new(store: Arc<dyn DataStore>) -> Self {
        Self { store }
    }
}

impl fmt::Debug for DataStoreJoinTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataStoreJoinTokens")
            .finish_non_exhaustive()
    }
}

impl JoinTokenStore for DataStoreJoinTokens {
    fn insert<'a>(
        &'a self,
        token: &'a JoinToken,
        expires_at: UnixTime,
    ) -> BoxFuture<'a, Result<(), JoinTokenError>> {
        Box::pin(async move {
            match self.store.create_join_token(token, expires_at).await {
                Ok(()) => Ok(()),
                // The store's contract is "replace": drop the old token and store it again.
                Err(DataStoreError::AlreadyExists { .. }) => {
                    self.store
                        .consume_join_token(token, expires_at)
                        .await
                        .map_err(|_| JoinTokenError::Store)?;
                    self.store
                        .create_join_token(token, expires_at)
                        .await
                        .map_err(|_| JoinTokenError::Store)
                }
                Err(_) => Err(JoinTokenError::Store),
            }
        })
    }

    fn take<'a>(
        &'a self,
        token: &'a JoinToken,
    ) -> BoxFuture<'a, Result<Option<UnixTime>, JoinTokenError>> {
        Box::pin(async move {
            // The attestor judges expiry with its own clock; ask at the epoch so that the
            // datastore reports the expiry of any token it held.
            match self
                .store
                .consume_join_token(token, UnixTime::since_unix_epoch(Default::default()))
                .await
            {
                Ok(JoinTokenUse::Valid { expires_at } | JoinTokenUse::Expired { expires_at }) => {
                    Ok(Some(expires_at))
                }
                Ok(JoinTokenUse::Unknown) => Ok(None),
                Err(_) => Err(JoinTokenError::Store),
            }
        })
    }
}
