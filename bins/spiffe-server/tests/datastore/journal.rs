//! CA journals: raw blobs, and a `CaManager` that resumes its authorities from the datastore.

use std::sync::Arc;

use spiffe_ca::keys::MemoryKeyManager;
use spiffe_ca::manager::{CaManager, CaManagerConfig, Journal, JournalError};
use spiffe_ca::ManualClock;
use spiffe_server::datastore::{DataStore, DataStoreJournal};

use crate::both_backends;
use crate::harness::{self, at, td, Backend};

both_backends!(journal_blobs, ca_manager_resumes_from_the_datastore);

async fn journal_blobs(backend: Backend) {
    let t = harness::open(backend).await;
    let store = &t.store;
    assert_eq!(store.load_ca_journal("server-a").await.expect("load"), None);
    store
        .save_ca_journal("server-a", b"first")
        .await
        .expect("save");
    store
        .save_ca_journal("server-b", b"other")
        .await
        .expect("save");
    store
        .save_ca_journal("server-a", b"second")
        .await
        .expect("replace");
    assert_eq!(
        store
            .load_ca_journal("server-a")
            .await
            .expect("load")
            .as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(
        store
            .load_ca_journal("server-b")
            .await
            .expect("load")
            .as_deref(),
        Some(&b"other"[..])
    );
    // A journal that is not JSON is an error, never an empty journal (which would rotate the CA).
    store
        .save_ca_journal("broken", b"{not json")
        .await
        .expect("save");
    let journal = DataStoreJournal::new(t.dyn_store(), "broken");
    assert!(matches!(
        journal.load().await,
        Err(JournalError::Corrupt { .. })
    ));
    let empty = DataStoreJournal::new(t.dyn_store(), "nothing-yet");
    assert!(empty.load().await.expect("load").is_none());
}

async fn ca_manager_resumes_from_the_datastore(backend: Backend) {
    let t = harness::open(backend).await;
    let keys = Arc::new(MemoryKeyManager::new());
    let clock = ManualClock::new(at(1_800_000_000));
    let config = CaManagerConfig::new(td("example.org"));
    let journal = Arc::new(DataStoreJournal::new(t.dyn_store(), "server-1"));
    let manager = CaManager::load_or_init(
        config.clone(),
        keys.clone(),
        journal,
        Arc::new(clock.clone()),
    )
    .await
    .expect("init");
    let authority = manager.x509_svid_issuer().authority_id().to_owned();
    let kid = manager.jwt_svid_issuer().kid().to_owned();
    drop(manager);

    // A restart: a new store on the same database, the same key manager.
    let reopened: Arc<dyn DataStore> = Arc::new(t.reopen().await);
    clock.set(at(1_800_000_000 + 60));
    let journal = Arc::new(DataStoreJournal::new(reopened, "server-1"));
    let resumed = CaManager::load_or_init(config, keys, journal, Arc::new(clock))
        .await
        .expect("resume");
    assert_eq!(resumed.x509_svid_issuer().authority_id(), authority);
    assert_eq!(resumed.jwt_svid_issuer().kid(), kid);
}
