//! Opening a fresh store on either backend, and building test records.
//!
//! SQLite: a database file in a temporary directory. PostgreSQL: a new database in the cluster
//! named by `SPIFFE_TEST_POSTGRES_URL` (started by `scripts/test.sh`, or by hand with
//! `export SPIFFE_TEST_POSTGRES_URL=$(scripts/postgres.sh start)`), one per test so that tests
//! run in parallel.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use spiffe_attest::{EntryId, RegistrationEntry, Selector};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};
use spiffe_server::datastore::{Bundle, DataStore, SqlDataStore, SqlSettings, X509Authority};
use sqlx::Connection;
use tempfile::TempDir;

pub(crate) const POSTGRES_URL_VAR: &str = "SPIFFE_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated store and what keeps it alive.
pub(crate) struct TestStore {
    pub(crate) store: Arc<SqlDataStore>,
    pub(crate) settings: SqlSettings,
    _dir: Option<TempDir>,
}

impl TestStore {
    pub(crate) fn dyn_store(&self) -> Arc<dyn DataStore> {
        self.store.clone()
    }

    /// Opens a second store on the same database (another server, or a restart).
    pub(crate) async fn reopen(&self) -> SqlDataStore {
        SqlDataStore::open(&self.settings).await.expect("reopen")
    }
}

/// The settings of a new, empty database (nothing opened yet), with its directory.
pub(crate) async fn fresh_settings(backend: Backend) -> (SqlSettings, Option<TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut settings = SqlSettings::sqlite(dir.path().join("datastore.sqlite3"));
            settings.max_open_conns = 4;
            (settings, Some(dir))
        }
        Backend::Postgres => {
            let mut settings = SqlSettings::postgres(new_postgres_database().await);
            settings.max_open_conns = 8;
            (settings, None)
        }
    }
}

pub(crate) async fn open(backend: Backend) -> TestStore {
    let (settings, dir) = fresh_settings(backend).await;
    let store = SqlDataStore::open(&settings).await.expect("open store");
    TestStore {
        store: Arc::new(store),
        settings,
        _dir: dir,
    }
}

pub(crate) fn postgres_admin_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_URL_VAR} is not set: the PostgreSQL tests need a running cluster. \
             Start one with `export {POSTGRES_URL_VAR}=$(scripts/postgres.sh start)` \
             (scripts/test.sh does this), or run the SQLite half with `-E 'test(sqlite)'`"
        )
    })
}

/// Creates a database for one test; returns its URL.
pub(crate) async fn new_postgres_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let admin = postgres_admin_url();
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        UnixTime::now().as_secs() % 100_000
    );
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test PostgreSQL cluster");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let _ = conn.close().await;
    let (base, _) = admin.rsplit_once('/').expect("URL with a database path");
    format!("{base}/{name}")
}

pub(crate) fn id(path: &str) -> SpiffeId {
    SpiffeId::new(&format!("spiffe://example.org{path}")).expect("SPIFFE ID")
}

pub(crate) fn td(name: &str) -> TrustDomain {
    TrustDomain::new(name).expect("trust domain")
}

pub(crate) fn sel(text: &str) -> Selector {
    Selector::parse(text).expect("selector")
}

pub(crate) fn eid(text: &str) -> EntryId {
    EntryId::new(text).expect("entry id")
}

pub(crate) fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// An entry `id` for `spiffe_path` under `/agent`, with `selectors`.
pub(crate) fn entry(entry_id: &str, spiffe_path: &str, selectors: &[&str]) -> RegistrationEntry {
    RegistrationEntry::builder(eid(entry_id), id(spiffe_path), id("/agent"))
        .selectors(selectors.iter().map(|s| sel(s)))
        .build()
        .expect("valid entry")
}

/// A bundle of `trust_domain` with one (fake) authority.
pub(crate) fn bundle(trust_domain: &str) -> Bundle {
    let mut bundle = Bundle::new(td(trust_domain));
    bundle
        .x509_authorities
        .push(X509Authority::new(trust_domain.as_bytes().to_vec()));
    bundle
}

/// Unwraps a batch's single result.
pub(crate) fn single<T: std::fmt::Debug>(
    results: Result<
        Vec<Result<T, spiffe_server::datastore::DataStoreError>>,
        spiffe_server::datastore::DataStoreError,
    >,
) -> Result<T, spiffe_server::datastore::DataStoreError> {
    let mut results = results.expect("batch ran");
    assert_eq!(results.len(), 1);
    results.remove(0)
}

/// Defines, for each named `async fn(Backend)` of the calling module, a module of that name
/// with a `sqlite` and a `postgres` test.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::harness::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::harness::Backend::Postgres).await
                }
            }
        )*
    };
}

/// Runs `sql` on the database of `settings` outside the datastore (to set up odd states).
pub(crate) async fn raw_execute(settings: &SqlSettings, sql: &str) {
    match settings.database_type {
        spiffe_server::datastore::DatabaseType::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&settings.connection_string)
                .await
                .expect("raw connect");
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .expect("raw sql");
        }
        _ => {
            let url = format!("sqlite://{}?mode=rwc", settings.connection_string);
            let mut conn = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("raw connect");
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .expect("raw sql");
        }
    }
}

/// The integers of the first column of `sql`'s rows.
pub(crate) async fn raw_ints(settings: &SqlSettings, sql: &str) -> Vec<i64> {
    match settings.database_type {
        spiffe_server::datastore::DatabaseType::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&settings.connection_string)
                .await
                .expect("raw connect");
            sqlx::query_scalar(sql)
                .fetch_all(&mut conn)
                .await
                .expect("raw query")
        }
        _ => {
            let url = format!("sqlite://{}", settings.connection_string);
            let mut conn = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("raw connect");
            sqlx::query_scalar(sql)
                .fetch_all(&mut conn)
                .await
                .expect("raw query")
        }
    }
}
