//! Errors name the backend or the field, never SQL or driver text; the cause is the source.

use std::error::Error as _;

use spiffe_server::datastore::{
    Backend as StoreBackend, DataStoreError, SqlDataStore, SqlSettings,
};

#[tokio::test]
async fn unreachable_postgres_is_unavailable_without_driver_text() {
    // A port nothing listens on: bind one, note it, close it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mut settings = SqlSettings::postgres(format!(
        "host=127.0.0.1 port={port} user=spire password=hunter2 dbname=spire sslmode=disable"
    ));
    settings.max_open_conns = 1;
    let error = SqlDataStore::open(&settings)
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(
            error,
            DataStoreError::Unavailable {
                backend: StoreBackend::Postgres,
                ..
            }
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert_eq!(text, "PostgreSQL datastore unavailable");
    assert!(
        error.source().is_some(),
        "the driver's error is kept for logs"
    );
    assert!(!format!("{error:?}").contains("hunter2"));
}

#[tokio::test]
async fn unusable_sqlite_path_is_unavailable() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A directory where the database file should be.
    let path = dir.path().join("db");
    std::fs::create_dir(&path).expect("mkdir");
    let error = SqlDataStore::open(&SqlSettings::sqlite(&path))
        .await
        .expect_err("a directory is not a database");
    assert!(
        matches!(
            error,
            DataStoreError::Unavailable {
                backend: StoreBackend::Sqlite,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "SQLite datastore unavailable");
    let error = SqlDataStore::open(&SqlSettings::sqlite(":memory:"))
        .await
        .expect_err("no file");
    assert!(matches!(
        error,
        DataStoreError::Settings {
            setting: "connection_string",
            ..
        }
    ));
}
