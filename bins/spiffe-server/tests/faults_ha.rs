//! Faults and HA, with server processes: `kill -9` in the middle of entry writes loses no
//! acknowledged write and keeps the CA; two servers on one PostgreSQL share entries (served to
//! agents attested to either) and publish both CAs in the one bundle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spiffe_core::{SpiffeId, TrustDomain};
use spiffe_server::testing::agent;
use spiffe_server::testing::agent::csr;
use spiffe_server::testing::process::{
    DataStoreKind, KeyManagerKind, ServerConfigFile, ServerProcess,
};
use spire_api_proto::server::entry::v1::entry_client::EntryClient;
use spire_api_proto::server::entry::v1::{
    BatchCreateEntryRequest, GetAuthorizedEntriesRequest, ListEntriesRequest,
};
use spire_api_proto::server::localauthority::v1::local_authority_client::LocalAuthorityClient;
use spire_api_proto::server::localauthority::v1::GetX509AuthorityStateRequest;
use spire_api_proto::types;
use sqlx::Connection;
use tonic::transport::Channel;

fn bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_spiffe-server"))
}

fn td() -> TrustDomain {
    TrustDomain::new("example.org").unwrap()
}

fn entry(id: &str, parent: &str, path: &str) -> types::Entry {
    types::Entry {
        id: id.into(),
        spiffe_id: Some(types::Spiffeid {
            trust_domain: "example.org".into(),
            path: path.into(),
        }),
        parent_id: Some(types::Spiffeid {
            trust_domain: "example.org".into(),
            path: parent.into(),
        }),
        selectors: vec![types::Selector {
            r#type: "unix".into(),
            value: "uid:1000".into(),
        }],
        ..Default::default()
    }
}

/// Every entry id in the server, page by page.
async fn entry_ids(admin: &Channel) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut token = String::new();
    loop {
        let page = EntryClient::new(admin.clone())
            .list_entries(ListEntriesRequest {
                page_size: 500,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("ListEntries")
            .into_inner();
        ids.extend(page.entries.into_iter().map(|e| e.id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        token = page.next_page_token;
    }
}

async fn active_x509_authority(admin: &Channel) -> String {
    LocalAuthorityClient::new(admin.clone())
        .get_x509_authority_state(GetX509AuthorityStateRequest {})
        .await
        .expect("GetX509AuthorityState")
        .into_inner()
        .active
        .expect("an active X.509 authority")
        .authority_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_entry_writes_loses_no_acknowledged_entry_and_keeps_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfigFile::new(dir.path());
    config.key_manager = KeyManagerKind::Disk;
    let mut server = ServerProcess::start(&bin(), &config).expect("start");
    let admin = server.admin_channel().await;
    let authority = active_x509_authority(&admin).await;

    // Four writers, 250 single-entry creates each; every acknowledged id is recorded.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (admin, acknowledged) = (admin.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..250 {
                let id = format!("kill9-{w}-{i:03}");
                let request = BatchCreateEntryRequest {
                    entries: vec![entry(&id, "/spire/agent/x", &format!("/w/{w}/{i}"))],
                    output_mask: None,
                };
                match EntryClient::new(admin.clone())
                    .batch_create_entry(request)
                    .await
                {
                    Ok(response) => {
                        let result = &response.get_ref().results[0];
                        if result.status.as_ref().is_none_or(|s| s.code == 0) {
                            acknowledged.lock().unwrap().push(id);
                        }
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    // Kill the server in the middle of the writes.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 300 {
        assert!(Instant::now() < deadline, "writes too slow");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().expect("kill -9");
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged: BTreeSet<String> = acknowledged.lock().unwrap().iter().cloned().collect();
    assert!(
        acknowledged.len() < 1000,
        "the kill came after every write ({}); the test proves nothing",
        acknowledged.len()
    );

    let server = ServerProcess::start(&bin(), &config).expect("restart after kill -9");
    let admin = server.admin_channel().await;
    let stored = entry_ids(&admin).await;
    let missing: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    // Only ids that were written, none half-written or made up.
    assert!(
        stored.iter().all(|id| id.starts_with("kill9-")),
        "{stored:?}"
    );
    // The database is consistent.
    let mut db =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", config.sqlite_path().display()))
            .await
            .expect("open the SQLite file");
    let check: (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .expect("integrity_check");
    assert_eq!(check.0, "ok");
    // The same CA.
    assert_eq!(active_x509_authority(&admin).await, authority);
}

/// Creates a database on the test cluster (`SPIFFE_TEST_POSTGRES_URL`, set by scripts/test.sh).
async fn new_postgres_database() -> String {
    let admin = std::env::var("SPIFFE_TEST_POSTGRES_URL").expect(
        "SPIFFE_TEST_POSTGRES_URL is not set: start a cluster with \
         `export SPIFFE_TEST_POSTGRES_URL=$(scripts/postgres.sh start)` (scripts/test.sh does)",
    );
    let name = format!("ha_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let (base, _) = admin.rsplit_once('/').expect("URL with a database");
    format!("{base}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_share_entries_and_the_bundle() {
    let url = new_postgres_database().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let configs: Vec<ServerConfigFile> = [&dir_a, &dir_b]
        .iter()
        .map(|dir| {
            let mut config = ServerConfigFile::new(dir.path());
            config.datastore = DataStoreKind::Postgres(url.clone());
            config.cache_reload_interval = Some("200ms".into());
            config
        })
        .collect();
    let a = ServerProcess::start(&bin(), &configs[0]).expect("start A");
    let b = ServerProcess::start(&bin(), &configs[1]).expect("start B");
    let (admin_a, admin_b) = (a.admin_channel().await, b.admin_channel().await);

    // Each server keeps its own CA; both are in the shared bundle, seen from either.
    let (ca_a, ca_b) = (
        active_x509_authority(&admin_a).await,
        active_x509_authority(&admin_b).await,
    );
    assert_ne!(ca_a, ca_b, "each server has its own CA");
    let deadline = Instant::now() + Duration::from_secs(20);
    let bundle_b = loop {
        let bundle = agent::x509_bundle(&admin_b, &td()).await;
        if bundle.authorities().len() >= 2 {
            break bundle;
        }
        assert!(Instant::now() < deadline, "B's bundle never held both CAs");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        agent::x509_bundle(&admin_a, &td())
            .await
            .authorities()
            .len()
            >= 2
    );

    // An agent attests to B; an entry for it is created through A.
    let token = agent::create_join_token(&admin_b).await;
    let (csr, key) = csr();
    let svid = agent::attest_join_token(b.tcp_addr(), bundle_b.clone(), &token, csr, &key)
        .await
        .expect("attest to B");
    let agent_id: &SpiffeId = svid.spiffe_id();
    let response = EntryClient::new(admin_a.clone())
        .batch_create_entry(BatchCreateEntryRequest {
            entries: vec![entry("ha-1", agent_id.path(), "/ha/workload")],
            output_mask: None,
        })
        .await
        .expect("create through A")
        .into_inner();
    assert_eq!(response.results[0].status.as_ref().map(|s| s.code), Some(0));

    // Listed by B at once (same database), and served by B to the agent within its sync.
    assert!(entry_ids(&admin_b).await.contains("ha-1"));
    let mtls = agent::mtls_channel(b.tcp_addr(), bundle_b, &svid);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let entries = EntryClient::new(mtls.clone())
            .get_authorized_entries(GetAuthorizedEntriesRequest::default())
            .await
            .expect("GetAuthorizedEntries from B")
            .into_inner()
            .entries;
        if entries.iter().any(|e| e.id == "ha-1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B never served the entry created through A"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
