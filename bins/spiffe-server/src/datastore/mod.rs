//! The server's datastore: registration entries, attested nodes, bundles, federation
//! relationships, join tokens, CA journals and a change log, behind the [`DataStore`] trait.
//!
//! [`SqlDataStore`] implements it on SQLite or PostgreSQL through `sqlx`, chosen at run time by
//! SPIRE's `DataStore "sql"` settings ([`SqlSettings`]: `database_type` `sqlite3` | `postgres`,
//! `connection_string`, …). The same SQL serves both backends; each has its own embedded,
//! versioned migrations.
//!
//! ```no_run
//! # async fn demo() -> Result<(), spiffe_server::datastore::DataStoreError> {
//! use spiffe_server::datastore::{DataStore, SqlDataStore, SqlSettings};
//!
//! let store = SqlDataStore::open(&SqlSettings::sqlite("/var/lib/spire/datastore.sqlite3")).await?;
//! println!("revision {}", store.current_revision().await?);
//! # Ok(()) }
//! ```
//!
//! # Invariants a reviewer must check
//!
//! - **One transaction per policy write.** Every operation that changes stored state runs in
//!   one transaction. A batch (create, update, delete of entries) is one transaction in which
//!   each item runs under its own savepoint: an item that fails is rolled back to its
//!   savepoint, changes nothing, and gets its own error; the other items commit together. A
//!   create batch first tries multi-row statements (one per table and chunk) with the same
//!   outcome: items that collide or name an unknown bundle are left out of them and fail
//!   alone; if a statement fails for another reason, the transaction rolls back and the batch
//!   is redone item by item under savepoints.
//! - **One global revision, allocated in the writing transaction.** A write that changes an
//!   entry, a node or a bundle increments the single row of `revision_counter`
//!   (`UPDATE … SET value = value + 1 … RETURNING value`) and appends a [`Change`] with that
//!   revision to the change log, in the same transaction as the change itself. The changed
//!   record's `revision_number` is that revision. A batch locks the row once with its first
//!   statement (`UPDATE … SET value = value RETURNING value`), numbers its items from there, and
//!   writes the final value and the batch's changes before committing: the same guarantees,
//!   with two statements per batch instead of two per item.
//! - **Commit order equals revision order; a reader never sees a gap it could skip.** The
//!   counter row is the point of serialization. On PostgreSQL, a second writer's `UPDATE` of the
//!   row waits for the first writer's row lock, which is released only after the first
//!   transaction is committed and visible; under READ COMMITTED the waiting `UPDATE` then reads
//!   the committed value and takes the next number. So revision `n + 1` is committed after
//!   revision `n`, and any snapshot that contains `n + 1` contains `n`: a reader polling
//!   [`changes_since`](DataStore::changes_since) sees a prefix of the log, never a later
//!   revision before an earlier one. A transaction that rolls back also rolls back its
//!   increment, so revisions have no holes. On SQLite there is one writer at a time (a single
//!   write connection, `BEGIN IMMEDIATE`), which gives the same order trivially.
//! - **Pruning removes a prefix.** [`prune_changes`](DataStore::prune_changes) deletes every
//!   change up to some revision and records it as `pruned_through`; a reader asking for changes
//!   after an older revision gets [`ChangeFeed::Pruned`] and must reload, never a silent gap.
//! - **Uniqueness as SPIRE.** Two entries with the same SPIFFE ID, parent ID and selector set
//!   cannot exist ([`DataStoreError::AlreadyExists`] names the existing one); a unique index on
//!   (spiffe_id, parent_id, SHA-256 of the sorted selector set) enforces it under concurrency.
//! - **Secrets.** Join tokens are stored as SHA-256 digests only; a token never appears in an
//!   error, a `Debug` output or the database. Connection strings (which may carry a password)
//!   are redacted from `Debug`. Errors shown to clients never contain SQL or driver text; the
//!   driver error is kept as the [`source`](std::error::Error::source) for logs.
//!
//! # Keeping an in-memory cache in sync
//!
//! A cache of all entries (the server's, or another server's in HA) is built and kept so:
//! read `r0 = current_revision()`, load every entry with [`load_entries`](DataStore::load_entries)
//! page by page, then poll `changes_since(r)` from `r = r0`, re-reading each changed record by
//! id (a record that is gone was deleted). Re-reading makes replaying a change that the load
//! already saw harmless, so the load needs no snapshot spanning its pages.

mod bundle;
mod ca_journal;
mod change;
mod entry_filter;
mod entry_id;
mod entry_mask;
mod error;
mod federation;
mod join_token;
mod node;
mod paging;
mod settings;
mod sql;
mod store;

pub use bundle::{Bundle, BundleDeleteMode, BundleMask, JwtAuthority, X509Authority};
pub use ca_journal::DataStoreJournal;
pub use change::{Change, ChangeFeed, ChangeKind, ChangeOp};
pub use entry_filter::{EntryFilter, FederatesWithMatch, MatchBehavior, SelectorMatch};
pub use entry_id::new_entry_id;
pub use entry_mask::EntryMask;
pub use error::{Backend, ConflictReason, DataStoreError, Record};
pub use federation::{BundleEndpointProfile, FederationMask, FederationRelationship};
pub use join_token::{DataStoreJoinTokens, JoinTokenUse};
pub use node::{AttestedNode, NodeFilter, NodeMask};
pub use paging::{Page, PageRequest, PageToken};
pub use settings::{DatabaseType, SqlSettings, DEFAULT_MAX_CONNS};
pub use sql::{SqlDataStore, SCHEMA_VERSION};
pub use store::{BoxFuture, DataStore};
