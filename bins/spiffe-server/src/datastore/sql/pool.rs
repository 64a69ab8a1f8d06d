//! Connection pools and the settings each backend is opened with.
//!
//! SQLite: one file in WAL mode. All writes go through a single connection (SQLite allows one
//! writer at a time; queueing writers in the pool is cheaper than letting them contend for the
//! file lock) and begin with `BEGIN IMMEDIATE`, so a transaction never has to upgrade a read
//! lock. Reads use a separate pool and, in WAL mode, neither block nor are blocked by the
//! writer. `synchronous = FULL`: each commit syncs the WAL, so an acknowledged write survives
//! a process crash (`kill -9`) and also a power loss or kernel crash. (`NORMAL` would survive
//! a process crash but could lose the last commits to a power loss; a sync costs well under a
//! millisecond on an SSD and is shared by all the entries of a batch.) One write relaxes it:
//! a join token's deletion is left for the next synced commit to carry to disk (see
//! `secrets::delete_token`). Foreign keys are
//! enforced, and a writer that finds the file locked by another process waits up to
//! [`BUSY_TIMEOUT`] before failing.
//!
//! PostgreSQL: one pool; writes run at READ COMMITTED (the revision counter row serializes
//! them, see the module documentation of `datastore`), multi-statement reads in a REPEATABLE
//! READ, READ ONLY transaction so that they see one snapshot. While the database is down (a
//! restart, a failover) a call waits at most [`PG_ACQUIRE_TIMEOUT`] for a connection, then
//! fails as unavailable (UNAVAILABLE to API callers): a short blip is ridden out, a longer
//! outage is reported instead of queueing every call for the driver's default 30 s. Pooled
//! connections the restart closed are tested before use and replaced.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Connection;

use super::db::{Conn, Tx};
use super::{dsn, errors};
use crate::datastore::{Backend, DataStoreError, DatabaseType, Record, SqlSettings};

/// How long a SQLite writer waits for another process's lock.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a SQLite database file a bulk read maps into memory (address space; the pages
/// it touches count in the process's RSS for as long as the mapping lives).
const MMAP_SIZE: u64 = 1 << 30;
/// How long a PostgreSQL call waits for a connection (the pool retries a refused connection,
/// the server restarting, until then) before failing as unavailable. SPIRE's driver fails a
/// refused connection at once; as long as SQLite's [`BUSY_TIMEOUT`].
pub(super) const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle connection is kept (SPIRE's fixed `ConnMaxIdleTime`).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The pools of one store.
#[derive(Debug, Clone)]
pub(super) enum Pools {
    Sqlite {
        write: SqlitePool,
        read: SqlitePool,
        /// Options of a bulk read's own connection: the file mapped into memory.
        bulk: Box<SqliteConnectOptions>,
    },
    Postgres(PgPool),
}

impl Pools {
    pub(super) async fn open(settings: &SqlSettings) -> Result<Self, DataStoreError> {
        let max = settings.max_open_conns.max(1);
        match settings.database_type {
            DatabaseType::Sqlite3 => {
                let path = sqlite_path(&settings.connection_string)?;
                create_private_file(&path).await?;
                let options = SqliteConnectOptions::new()
                    .filename(&path)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(BUSY_TIMEOUT)
                    .foreign_keys(true);
                // A bulk read (the entry cache's full load) maps the file instead of copying it
                // page by page through read(2), which halves a 1M-entry load; on a connection
                // of its own, closed afterwards, because every page a mapping has touched stays
                // in the RSS while the mapping lives. Pooled connections read through SQLite's
                // small page cache.
                let bulk = Box::new(options.clone().pragma("mmap_size", MMAP_SIZE.to_string()));
                // No ping before each acquire (sqlx's default): a connection to a local file
                // does not go stale, and on SQLite the ping is one more hand-off to the
                // connection's thread on every statement group (issue 12's attestation path).
                let write_options = SqlitePoolOptions::new()
                    .test_before_acquire(false)
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(settings.conn_max_lifetime);
                // Switching a new file to WAL takes an exclusive lock, and SQLite answers
                // "database is locked" at once, without its busy handler, when another
                // process opens the file at that moment (servers starting together): try
                // again for as long as any other lock is waited for.
                let started = std::time::Instant::now();
                let write = loop {
                    match write_options.clone().connect_with(options.clone()).await {
                        Ok(pool) => break pool,
                        Err(e) if is_busy(&e) && started.elapsed() < BUSY_TIMEOUT => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(e) => return Err(unavailable(Backend::Sqlite, e)),
                    }
                };
                let read = SqlitePoolOptions::new()
                    .test_before_acquire(false)
                    .max_connections(max)
                    .idle_timeout(IDLE_TIMEOUT)
                    .max_lifetime(settings.conn_max_lifetime)
                    .connect_lazy_with(options);
                Ok(Self::Sqlite { write, read, bulk })
            }
            DatabaseType::Postgres => {
                let options = dsn::parse(&settings.connection_string)?;
                // One attempt up front, so an unreachable server fails the start at once
                // (the pool itself retries for its whole acquire timeout).
                PgConnection::connect_with(&options)
                    .await
                    .map_err(|e| unavailable(Backend::Postgres, e))?
                    .close()
                    .await
                    .map_err(|e| unavailable(Backend::Postgres, e))?;
                let pool = PgPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(PG_ACQUIRE_TIMEOUT)
                    .idle_timeout(IDLE_TIMEOUT)
                    .max_lifetime(settings.conn_max_lifetime)
                    .connect_lazy_with(options);
                Ok(Self::Postgres(pool))
            }
        }
    }

    pub(super) fn backend(&self) -> Backend {
        match self {
            Self::Sqlite { .. } => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// A transaction that may write.
    pub(super) async fn write(&self) -> Result<Tx, DataStoreError> {
        let tx = match self {
            Self::Sqlite { write, .. } => write.begin_with("BEGIN IMMEDIATE").await.map(Tx::Sqlite),
            Self::Postgres(pool) => pool.begin().await.map(Tx::Postgres),
        };
        tx.map_err(|e| unavailable(self.backend(), e))
    }

    /// A read-only transaction: its statements see one snapshot.
    pub(super) async fn read_tx(&self) -> Result<Tx, DataStoreError> {
        let tx = match self {
            Self::Sqlite { read, .. } => read.begin().await.map(Tx::Sqlite),
            Self::Postgres(pool) => pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map(Tx::Postgres),
        };
        tx.map_err(|e| unavailable(self.backend(), e))
    }

    /// A connection for single-statement reads.
    pub(super) async fn read(&self) -> Result<Conn, DataStoreError> {
        let conn = match self {
            Self::Sqlite { read, .. } => read.acquire().await.map(Conn::Sqlite),
            Self::Postgres(pool) => pool.acquire().await.map(Conn::Postgres),
        };
        conn.map_err(|e| unavailable(self.backend(), e))
    }

    /// For SQLite, a new connection of its own for one bulk read, with the file mapped into
    /// memory; close it when done (that unmaps it). `None` for PostgreSQL (use [`read_tx`]).
    ///
    /// [`read_tx`]: Self::read_tx
    pub(super) async fn bulk_sqlite(&self) -> Result<Option<SqliteConnection>, DataStoreError> {
        match self {
            Self::Sqlite { bulk, .. } => SqliteConnection::connect_with(bulk)
                .await
                .map(Some)
                .map_err(|e| unavailable(Backend::Sqlite, e)),
            Self::Postgres(_) => Ok(None),
        }
    }

    /// A connection for single-statement writes (autocommit).
    pub(super) async fn write_conn(&self) -> Result<Conn, DataStoreError> {
        let conn = match self {
            Self::Sqlite { write, .. } => write.acquire().await.map(Conn::Sqlite),
            Self::Postgres(pool) => pool.acquire().await.map(Conn::Postgres),
        };
        conn.map_err(|e| unavailable(self.backend(), e))
    }

    pub(super) async fn close(&self) {
        match self {
            Self::Sqlite { write, read, .. } => {
                read.close().await;
                write.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// SQLite's `SQLITE_BUSY` (5), with or without an extended code.
fn is_busy(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(e) = error else {
        return false;
    };
    e.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == 5)
}

fn unavailable(backend: Backend, error: sqlx::Error) -> DataStoreError {
    match errors::map(backend, Record::Entry, error) {
        e @ DataStoreError::Unavailable { .. } => e,
        DataStoreError::Internal { backend, source } => {
            DataStoreError::Unavailable { backend, source }
        }
        other => other,
    }
}

/// The database file named by a SQLite connection string: a path, or go-sqlite3's
/// `file:path?options` form (the options are ignored: this server fixes its own).
fn sqlite_path(connection_string: &str) -> Result<PathBuf, DataStoreError> {
    let text = connection_string.trim();
    let text = text.strip_prefix("file:").unwrap_or(text);
    let text = text.split_once('?').map_or(text, |(path, _)| path);
    if text.is_empty() || text == ":memory:" {
        return Err(DataStoreError::Settings {
            setting: "connection_string",
            reason: "SQLite needs a database file path",
        });
    }
    Ok(PathBuf::from(text))
}

/// Creates the database file (and its directory) readable by its owner only, if missing: it
/// holds the trust domain's policy and CA journal. SQLite gives the WAL the file's mode.
async fn create_private_file(path: &Path) -> Result<(), DataStoreError> {
    let io = |e| DataStoreError::Unavailable {
        backend: Backend::Sqlite,
        source: Box::new(e),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_connection_strings() {
        assert_eq!(
            sqlite_path("./.data/datastore.sqlite3").expect("path"),
            PathBuf::from("./.data/datastore.sqlite3")
        );
        assert_eq!(
            sqlite_path("file:/var/lib/spire/ds.sqlite3?_busy_timeout=5000").expect("path"),
            PathBuf::from("/var/lib/spire/ds.sqlite3")
        );
        assert!(sqlite_path(":memory:").is_err());
        assert!(sqlite_path("").is_err());
    }
}
