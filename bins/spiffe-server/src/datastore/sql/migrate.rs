//! Versioned schema migrations, embedded per backend.
//!
//! `schema_migrations` lists the versions applied. At open, in one transaction (serialized
//! across servers by `BEGIN IMMEDIATE` on SQLite and an advisory lock on PostgreSQL, so that
//! several servers starting together migrate once): a database newer than this server is
//! refused, an older one is migrated step by step (or refused when `disable_migration` is
//! set), and a database that holds SPIRE's own schema is refused rather than filled with a
//! second, empty schema beside it.

use super::db::{Db, Sql};
use super::errors;
use super::pool::Pools;
use crate::datastore::{Backend, DataStoreError, Record};

/// The schema version this server writes and reads.
pub const SCHEMA_VERSION: i64 = 2;

/// One migration: the scripts that take a database from `version - 1` to `version`.
struct Migration {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "initial schema",
        sqlite: include_str!("migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        description: "entry additional attributes",
        sqlite: include_str!("migrations/sqlite/0002_entry_additional_attributes.sql"),
        postgres: include_str!("migrations/postgres/0002_entry_additional_attributes.sql"),
    },
];

/// Any 64-bit constant: the PostgreSQL advisory lock that serializes migrating servers.
const PG_MIGRATION_LOCK: i64 = 0x5350_4946_4645_0001;

/// Tables of SPIRE's own schema: finding one means the database is SPIRE's.
const SPIRE_TABLES: [&str; 2] = ["registered_entries", "attested_node_entries"];

/// Brings the schema to [`SCHEMA_VERSION`] (or checks it is there); returns the version found
/// before migrating.
pub(super) async fn run(pools: &Pools, disable_migration: bool) -> Result<i64, DataStoreError> {
    let backend = pools.backend();
    let map = |e| errors::map(backend, Record::Entry, e);
    let mut tx = pools.write().await?;
    let mut db = tx.db();
    if backend == Backend::Postgres {
        db.execute(&Sql::new("SELECT pg_advisory_xact_lock($1)").bind(PG_MIGRATION_LOCK))
            .await
            .map_err(map)?;
    }
    let found = if table_exists(&mut db, "schema_migrations")
        .await
        .map_err(map)?
    {
        let row = db
            .fetch_one(&Sql::new(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            ))
            .await
            .map_err(map)?;
        row.int(0).map_err(map)?
    } else {
        for table in SPIRE_TABLES {
            if table_exists(&mut db, table).await.map_err(map)? {
                return Err(DataStoreError::ForeignSchema { table });
            }
        }
        0
    };
    if found > SCHEMA_VERSION {
        return Err(DataStoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(found);
    }
    if disable_migration {
        return Err(DataStoreError::SchemaOutdated {
            found,
            required: SCHEMA_VERSION,
        });
    }
    if found == 0 {
        db.execute_script(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                description TEXT NOT NULL,
                applied_at BIGINT NOT NULL
            )",
        )
        .await
        .map_err(map)?;
    }
    let now = super::now_secs();
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        let script = match backend {
            Backend::Sqlite => migration.sqlite,
            Backend::Postgres => migration.postgres,
        };
        db.execute_script(script).await.map_err(map)?;
        db.execute(
            &Sql::new(
                "INSERT INTO schema_migrations (version, description, applied_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(migration.version)
            .bind(migration.description)
            .bind(now),
        )
        .await
        .map_err(map)?;
    }
    tx.commit().await.map_err(map)?;
    Ok(found)
}

async fn table_exists(db: &mut Db<'_>, name: &str) -> Result<bool, sqlx::Error> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            Sql::new("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1").bind(name)
        }
        Backend::Postgres => Sql::new(
            "SELECT 1 FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(name),
    };
    Ok(db.fetch_optional(&sql).await?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }
}
