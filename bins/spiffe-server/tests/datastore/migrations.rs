//! Schema migrations: an empty database, an existing one, one of an older version, a newer
//! one, disabled migrations, SPIRE's own schema, and servers starting together.

use spiffe_server::datastore::{
    DataStore, DataStoreError, EntryFilter, SqlDataStore, SCHEMA_VERSION,
};

use crate::both_backends;
use crate::harness::{eid, entry, fresh_settings, raw_execute, raw_ints, single, Backend};

both_backends!(
    empty_then_existing_database,
    version_1_database_is_migrated_keeping_its_entries,
    newer_schema_is_refused,
    disabled_migrations,
    spire_schema_is_refused,
    servers_starting_together_migrate_once,
);

async fn empty_then_existing_database(backend: Backend) {
    let (settings, _dir) = fresh_settings(backend).await;
    let store = SqlDataStore::open(&settings).await.expect("migrate empty");
    assert_eq!(
        raw_ints(
            &settings,
            "SELECT version FROM schema_migrations ORDER BY version"
        )
        .await,
        every_version()
    );
    single(
        store
            .create_entries(vec![entry("kept", "/kept", &["k:v"])])
            .await,
    )
    .expect("entry");
    store.close().await;

    let reopened = SqlDataStore::open(&settings).await.expect("open existing");
    assert_eq!(
        reopened
            .count_entries(&EntryFilter::default())
            .await
            .expect("count"),
        1
    );
    assert_eq!(reopened.current_revision().await.expect("revision"), 1);
    assert_eq!(
        raw_ints(
            &settings,
            "SELECT version FROM schema_migrations ORDER BY version"
        )
        .await,
        every_version(),
        "nothing applied twice"
    );
    reopened.ping().await.expect("ping");
}

/// Each migration applied once, in order.
fn every_version() -> Vec<i64> {
    (1..=SCHEMA_VERSION).collect()
}

/// A database as a version-1 server left it (its schema script, one entry written by hand) is
/// brought to the current version; the entry reads back with the later columns' defaults.
async fn version_1_database_is_migrated_keeping_its_entries(backend: Backend) {
    let (settings, _dir) = fresh_settings(backend).await;
    let (schema, blob, no) = match backend {
        Backend::Sqlite => (
            include_str!("../../src/datastore/sql/migrations/sqlite/0001_initial.sql"),
            "X'00'",
            "0",
        ),
        Backend::Postgres => (
            include_str!("../../src/datastore/sql/migrations/postgres/0001_initial.sql"),
            "'\\x00'::bytea",
            "FALSE",
        ),
    };
    raw_execute(&settings, schema).await;
    raw_execute(
        &settings,
        &format!(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, \
             description TEXT NOT NULL, applied_at BIGINT NOT NULL); \
             INSERT INTO schema_migrations VALUES (1, 'initial schema', 0); \
             INSERT INTO registration_entries (entry_id, spiffe_id, parent_id, selector_set, \
             admin, downstream, store_svid, revision_number, created_at) VALUES ('old', \
             'spiffe://example.org/old', 'spiffe://example.org/agent', {blob}, {no}, {no}, {no}, \
             0, 1); \
             INSERT INTO entry_selectors (entry_pk, selector) \
             SELECT pk, 'unix:uid:1' FROM registration_entries"
        ),
    )
    .await;

    let store = SqlDataStore::open(&settings).await.expect("migrate v1");
    assert_eq!(
        raw_ints(
            &settings,
            "SELECT version FROM schema_migrations ORDER BY version"
        )
        .await,
        every_version()
    );
    let old = store
        .get_entry(&eid("old"))
        .await
        .expect("get")
        .expect("old entry");
    assert_eq!(old.spiffe_id().as_str(), "spiffe://example.org/old");
    assert!(!old.disable_x509_svid_prefetch() && !old.jwt_svid_include_jti());
    // The new columns are written like the old ones.
    let lazy = entry("new", "/new", &["unix:uid:2"])
        .to_builder()
        .disable_x509_svid_prefetch(true)
        .build()
        .expect("entry");
    let created = single(store.create_entries(vec![lazy]).await).expect("create");
    assert!(created.disable_x509_svid_prefetch());
    assert_eq!(
        store
            .count_entries(&EntryFilter::default())
            .await
            .expect("count"),
        2
    );
}

async fn newer_schema_is_refused(backend: Backend) {
    let (settings, _dir) = fresh_settings(backend).await;
    SqlDataStore::open(&settings)
        .await
        .expect("migrate")
        .close()
        .await;
    raw_execute(
        &settings,
        &format!(
            "INSERT INTO schema_migrations (version, description, applied_at) \
             VALUES ({}, 'from the future', 0)",
            SCHEMA_VERSION + 1
        ),
    )
    .await;
    let error = SqlDataStore::open(&settings)
        .await
        .expect_err("newer schema");
    match error {
        DataStoreError::SchemaTooNew { found, supported } => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(error_text(&settings)
        .await
        .contains("newer than this server"));
}

async fn error_text(settings: &spiffe_server::datastore::SqlSettings) -> String {
    SqlDataStore::open(settings)
        .await
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string())
}

async fn disabled_migrations(backend: Backend) {
    let (mut settings, _dir) = fresh_settings(backend).await;
    settings.disable_migration = true;
    let error = SqlDataStore::open(&settings)
        .await
        .expect_err("empty, migrations off");
    assert!(
        matches!(error, DataStoreError::SchemaOutdated { found: 0, required } if required == SCHEMA_VERSION),
        "{error:?}"
    );
    settings.disable_migration = false;
    SqlDataStore::open(&settings)
        .await
        .expect("migrate")
        .close()
        .await;
    settings.disable_migration = true;
    let store = SqlDataStore::open(&settings)
        .await
        .expect("current schema, migrations off");
    store.ping().await.expect("ping");
}

async fn spire_schema_is_refused(backend: Backend) {
    let (settings, _dir) = fresh_settings(backend).await;
    raw_execute(
        &settings,
        "CREATE TABLE registered_entries (id BIGINT PRIMARY KEY)",
    )
    .await;
    let error = SqlDataStore::open(&settings)
        .await
        .expect_err("SPIRE's database");
    assert!(
        matches!(
            error,
            DataStoreError::ForeignSchema {
                table: "registered_entries"
            }
        ),
        "{error:?}"
    );
}

async fn servers_starting_together_migrate_once(backend: Backend) {
    let (settings, _dir) = fresh_settings(backend).await;
    let opens: Vec<_> = (0..3)
        .map(|_| {
            let settings = settings.clone();
            tokio::spawn(async move { SqlDataStore::open(&settings).await })
        })
        .collect();
    for open in opens {
        open.await.expect("task").expect("open");
    }
    assert_eq!(
        raw_ints(
            &settings,
            "SELECT version FROM schema_migrations ORDER BY version"
        )
        .await,
        every_version()
    );
}
