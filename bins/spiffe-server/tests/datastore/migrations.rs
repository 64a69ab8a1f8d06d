//! Schema migrations: an empty database, an existing one, a newer one, disabled migrations,
//! SPIRE's own schema, and servers starting together.

use spiffe_server::datastore::{
    DataStore, DataStoreError, EntryFilter, SqlDataStore, SCHEMA_VERSION,
};

use crate::both_backends;
use crate::harness::{entry, fresh_settings, raw_execute, raw_ints, single, Backend};

both_backends!(
    empty_then_existing_database,
    newer_schema_is_refused,
    disabled_migrations,
    spire_schema_is_refused,
    servers_starting_together_migrate_once,
);

async fn empty_then_existing_database(backend: Backend) {
    let (settings, _dir) = fresh_settings(backend).await;
    let store = SqlDataStore::open(&settings).await.expect("migrate empty");
    assert_eq!(
        raw_ints(&settings, "SELECT version FROM schema_migrations").await,
        [SCHEMA_VERSION]
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
        raw_ints(&settings, "SELECT version FROM schema_migrations").await,
        [SCHEMA_VERSION],
        "nothing applied twice"
    );
    reopened.ping().await.expect("ping");
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
        raw_ints(&settings, "SELECT version FROM schema_migrations").await,
        [SCHEMA_VERSION]
    );
}
