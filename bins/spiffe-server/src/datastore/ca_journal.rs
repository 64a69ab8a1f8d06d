use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use spiffe_ca::manager::{Journal, JournalError, JournalState, JOURNAL_FORMAT};

use super::{BoxFuture, DataStore};

/// The datastore as a [`CaManager`](spiffe_ca::manager::CaManager)'s [`Journal`]: the journal
/// is one JSON document stored under a key naming the server instance (SPIRE's `ca_journals`),
/// replaced in one transaction on every save, so a restart resumes the same authorities.
///
/// Several servers sharing a database each keep their own CA, so each uses its own key.
#[derive(Clone)]
pub struct DataStoreJournal {
    store: Arc<dyn DataStore>,
    key: String,
}

// === impl DataStoreJournal ===

impl DataStoreJournal {
    /// The journal stored under `key` in `store`.
    pub fn new(store: Arc<dyn DataStore>, key: impl Into<String>) -> Self {
        Self {
            store,
            key: key.into(),
        }
    }

    /// A path-like name for errors (the journal error type names a file).
    fn location(&self) -> PathBuf {
        PathBuf::from(format!("datastore:ca_journals/{}", self.key))
    }
}

impl fmt::Debug for DataStoreJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataStoreJournal")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Journal for DataStoreJournal {
    fn load(&self) -> BoxFuture<'_, Result<Option<JournalState>, JournalError>> {
        Box::pin(async move {
            let Some(bytes) =
                self.store
                    .load_ca_journal(&self.key)
                    .await
                    .map_err(|e| JournalError::Io {
                        operation: "read CA journal from the datastore",
                        source: io::Error::other(e),
                    })?
            else {
                return Ok(None);
            };
            let state: JournalState =
                serde_json::from_slice(&bytes).map_err(|e| JournalError::Corrupt {
                    path: self.location(),
                    line: e.line(),
                    column: e.column(),
                })?;
            if state.format != JOURNAL_FORMAT {
                return Err(JournalError::UnsupportedFormat {
                    path: self.location(),
                    format: state.format,
                });
            }
            Ok(Some(state))
        })
    }

    fn save<'a>(&'a self, state: &'a JournalState) -> BoxFuture<'a, Result<(), JournalError>> {
        Box::pin(async move {
            let json = serde_json::to_vec(state).map_err(|_| JournalError::Encode)?;
            self.store
                .save_ca_journal(&self.key, &json)
                .await
                .map_err(|e| JournalError::Io {
                    operation: "write CA journal to the datastore",
                    source: io::Error::other(e),
                })
        })
    }
}
