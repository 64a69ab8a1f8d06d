use std::error::Error as StdError;
use std::fmt;

use spiffe_attest::{EntryError, EntryId};

/// A boxed driver or decoding error kept as an error's `source()`, for logs only.
pub(crate) type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// Why a datastore operation failed.
///
/// The `Display` text is safe to return to API clients: it names the record kind, the field or
/// the backend, never SQL, driver text or a stored secret. The driver's error, when there is
/// one, is the [`source`](StdError::source), for logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataStoreError {
    /// The record does not exist.
    #[error("{record} not found")]
    NotFound {
        /// Which kind of record.
        record: Record,
    },
    /// The record, or one SPIRE considers the same, already exists.
    #[error("{record} already exists")]
    AlreadyExists {
        /// Which kind of record.
        record: Record,
        /// For an entry with the same SPIFFE ID, parent ID and selectors as an existing one:
        /// the existing entry's id (SPIRE returns that entry with `AlreadyExists`).
        existing: Option<EntryId>,
    },
    /// An argument is malformed or refers to something that does not exist.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The argument or field, as SPIRE's API names it (`page_token`, `federates_with`).
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The registration entry that an update would produce is invalid.
    #[error("invalid registration entry")]
    InvalidEntry(#[source] EntryError),
    /// The operation conflicts with the stored state.
    #[error("{0}")]
    Conflict(ConflictReason),
    /// The database could not be reached or did not answer (connection refused, pool timeout,
    /// I/O error, lock timeout).
    #[error("{backend} datastore unavailable")]
    Unavailable {
        /// Which backend.
        backend: Backend,
        /// The driver's error.
        #[source]
        source: Cause,
    },
    /// Stored data cannot be read back: a row or a serialized document is not what this
    /// version writes.
    #[error("stored {what} is corrupt")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// The decoding error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// The database was migrated by a newer version of the server: this version does not know
    /// its schema and refuses to use it.
    #[error("the database schema is version {found}, newer than this server's {supported}; run a server at least as new as the one that migrated it")]
    SchemaTooNew {
        /// The version found in the database.
        found: i64,
        /// The newest version this server knows.
        supported: i64,
    },
    /// Migrations are disabled (`disable_migration`) and the database is not at this server's
    /// schema version.
    #[error("the database schema is version {found}, this server needs {required}, and disable_migration is set")]
    SchemaOutdated {
        /// The version found in the database (0: empty).
        found: i64,
        /// The version this server needs.
        required: i64,
    },
    /// The database holds SPIRE's own schema, which this server does not read.
    #[error("the database holds SPIRE's schema (table {table}); point connection_string at a new database")]
    ForeignSchema {
        /// A SPIRE table found.
        table: &'static str,
    },
    /// The settings cannot be used (e.g. an unparsable connection string).
    #[error("invalid datastore setting {setting}: {reason}")]
    Settings {
        /// The setting (`connection_string`, `database_type`).
        setting: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The system random number generator failed (making an entry id).
    #[error("the system random number generator failed")]
    Random,
    /// The backend failed in an unexpected way.
    #[error("{backend} datastore error")]
    Internal {
        /// Which backend.
        backend: Backend,
        /// The driver's error.
        #[source]
        source: Cause,
    },
}

/// A kind of stored record, as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Record {
    /// A registration entry.
    Entry,
    /// An attested node (agent).
    Node,
    /// A trust bundle.
    Bundle,
    /// A federation relationship.
    FederationRelationship,
    /// A join token.
    JoinToken,
    /// A CA journal.
    CaJournal,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Entry => "registration entry",
            Self::Node => "attested node",
            Self::Bundle => "bundle",
            Self::FederationRelationship => "federation relationship",
            Self::JoinToken => "join token",
            Self::CaJournal => "CA journal",
        })
    }
}

/// Why an operation conflicts with the stored state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictReason {
    /// A bundle deleted in `RESTRICT` mode is still named in entries' `federates_with`
    /// (SPIRE answers `FailedPrecondition`).
    BundleInUse {
        /// How many entries federate with it.
        entries: u64,
    },
    /// A concurrent change made the operation fail (e.g. a bundle removed between the check
    /// and the write); retrying may succeed.
    Concurrent,
}

impl fmt::Display for ConflictReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BundleInUse { entries } => write!(
                f,
                "cannot delete bundle; federated with {entries} registration entries"
            ),
            Self::Concurrent => f.write_str("conflicting concurrent change; retry"),
        }
    }
}

/// A database backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite (`database_type = "sqlite3"`).
    Sqlite,
    /// PostgreSQL (`database_type = "postgres"`).
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        })
    }
}

// === impl DataStoreError ===

impl DataStoreError {
    pub(crate) fn not_found(record: Record) -> Self {
        Self::NotFound { record }
    }

    pub(crate) fn already_exists(record: Record) -> Self {
        Self::AlreadyExists {
            record,
            existing: None,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: &'static str) -> Self {
        Self::InvalidArgument { field, reason }
    }

    pub(crate) fn corrupt(what: &'static str) -> Self {
        Self::Corrupt { what, source: None }
    }

    pub(crate) fn corrupt_because(what: &'static str, source: impl Into<Cause>) -> Self {
        Self::Corrupt {
            what,
            source: Some(source.into()),
        }
    }
}
