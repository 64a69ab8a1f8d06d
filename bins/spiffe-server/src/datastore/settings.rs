use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The database engine (`database_type` in SPIRE's `DataStore "sql"` plugin data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DatabaseType {
    /// `sqlite3`: an embedded database in one file.
    Sqlite3,
    /// `postgres`: a PostgreSQL server (several spiffe-servers may share it).
    Postgres,
}

impl DatabaseType {
    /// SPIRE's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite3 => "sqlite3",
            Self::Postgres => "postgres",
        }
    }

    /// Parses SPIRE's name (`sqlite3`, `postgres`); `None` for any other, including SPIRE's
    /// `mysql`, `aws_postgres` and `aws_mysql`, which this server does not implement.
    pub fn from_spire_name(name: &str) -> Option<Self> {
        match name {
            "sqlite3" => Some(Self::Sqlite3),
            "postgres" => Some(Self::Postgres),
            _ => None,
        }
    }
}

impl fmt::Display for DatabaseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The settings of SPIRE's `DataStore "sql"` plugin, already parsed from the configuration.
///
/// Defaults are SPIRE's: `max_open_conns` 100, `max_idle_conns` 100, no `conn_max_lifetime`,
/// migrations enabled. `Debug` hides the connection string, which may hold a password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqlSettings {
    /// The engine.
    pub database_type: DatabaseType,
    /// SQLite: the database file's path (created if missing, with its WAL beside it); a
    /// `file:` prefix and a `?query` suffix (go-sqlite3 options) are accepted and the query is
    /// ignored, since this server fixes the options itself. PostgreSQL: a `postgres://` URL or
    /// a libpq keyword/value string (`host=… port=… dbname=… user=… password=… sslmode=…`).
    pub connection_string: String,
    /// The most connections open at once (SPIRE default 100). SQLite always writes through
    /// one connection; this bounds its reading connections.
    pub max_open_conns: u32,
    /// SPIRE's `max_idle_conns` (default 100). Accepted for compatibility: idle connections
    /// are closed after 30 s (SPIRE's fixed idle time), which bounds them already.
    pub max_idle_conns: u32,
    /// The longest a connection is reused before being replaced; `None` for no limit.
    pub conn_max_lifetime: Option<Duration>,
    /// Do not migrate: refuse to start unless the schema is already at
    /// [`SCHEMA_VERSION`](super::SCHEMA_VERSION).
    pub disable_migration: bool,
}

/// SPIRE's default for `max_open_conns` and `max_idle_conns`.
pub const DEFAULT_MAX_CONNS: u32 = 100;

// === impl SqlSettings ===

impl SqlSettings {
    /// Settings for `database_type` and `connection_string`, with SPIRE's defaults for the rest.
    pub fn new(database_type: DatabaseType, connection_string: impl Into<String>) -> Self {
        Self {
            database_type,
            connection_string: connection_string.into(),
            max_open_conns: DEFAULT_MAX_CONNS,
            max_idle_conns: DEFAULT_MAX_CONNS,
            conn_max_lifetime: None,
            disable_migration: false,
        }
    }

    /// SQLite in the file `path`.
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        Self::new(
            DatabaseType::Sqlite3,
            path.into().to_string_lossy().into_owned(),
        )
    }

    /// PostgreSQL at `connection_string` (URL or keyword/value form).
    pub fn postgres(connection_string: impl Into<String>) -> Self {
        Self::new(DatabaseType::Postgres, connection_string)
    }
}

impl fmt::Debug for SqlSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlSettings")
            .field("database_type", &self.database_type)
            .field("connection_string", &"<redacted>")
            .field("max_open_conns", &self.max_open_conns)
            .field("max_idle_conns", &self.max_idle_conns)
            .field("conn_max_lifetime", &self.conn_max_lifetime)
            .field("disable_migration", &self.disable_migration)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_connection_string() {
        let settings = SqlSettings::postgres("postgres://u:hunter2@db/spire");
        let text = format!("{settings:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("Postgres"), "{text}");
    }

    #[test]
    fn spire_names() {
        assert_eq!(
            DatabaseType::from_spire_name("sqlite3"),
            Some(DatabaseType::Sqlite3)
        );
        assert_eq!(
            DatabaseType::from_spire_name("postgres"),
            Some(DatabaseType::Postgres)
        );
        assert_eq!(DatabaseType::from_spire_name("mysql"), None);
        assert_eq!(DatabaseType::Postgres.to_string(), "postgres");
    }
}
