//! From driver errors to [`DataStoreError`]: the driver's text stays in `source()`.

use sqlx::error::ErrorKind;

use crate::datastore::{Backend, ConflictReason, DataStoreError, Record};

/// SQLite's primary result codes for "locked" and "busy" (another writer held the database
/// past `busy_timeout`).
const SQLITE_BUSY: &str = "5";
const SQLITE_LOCKED: &str = "6";
/// PostgreSQL SQLSTATEs: serialization failure, deadlock, lock timeout, and the class of
/// connection exceptions and of "insufficient resources" / "operator intervention".
const PG_RETRYABLE: [&str; 3] = ["40001", "40P01", "55P03"];
const PG_UNAVAILABLE_CLASSES: [&str; 3] = ["08", "53", "57"];

/// Maps a driver error met while working on `record` (the record decides what a unique or
/// foreign-key violation means).
pub(super) fn map(backend: Backend, record: Record, error: sqlx::Error) -> DataStoreError {
    match &error {
        sqlx::Error::Database(db) => {
            match db.kind() {
                ErrorKind::UniqueViolation => return DataStoreError::already_exists(record),
                // A referenced bundle vanished between the check and the write.
                ErrorKind::ForeignKeyViolation => {
                    return DataStoreError::Conflict(ConflictReason::Concurrent)
                }
                _ => {}
            }
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            let unavailable = match backend {
                Backend::Sqlite => {
                    // Extended codes keep the primary code in their low byte.
                    let primary = code.parse::<u32>().map(|c| (c & 0xff).to_string());
                    matches!(primary.as_deref(), Ok(SQLITE_BUSY | SQLITE_LOCKED))
                }
                Backend::Postgres => {
                    if PG_RETRYABLE.contains(&code) {
                        return DataStoreError::Conflict(ConflictReason::Concurrent);
                    }
                    PG_UNAVAILABLE_CLASSES.iter().any(|c| code.starts_with(c))
                }
            };
            if unavailable {
                unavailable_error(backend, error)
            } else {
                DataStoreError::Internal {
                    backend,
                    source: Box::new(error),
                }
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => unavailable_error(backend, error),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. } => {
            DataStoreError::corrupt_because("row", error)
        }
        _ => DataStoreError::Internal {
            backend,
            source: Box::new(error),
        },
    }
}

fn unavailable_error(backend: Backend, error: sqlx::Error) -> DataStoreError {
    DataStoreError::Unavailable {
        backend,
        source: Box::new(error),
    }
}
