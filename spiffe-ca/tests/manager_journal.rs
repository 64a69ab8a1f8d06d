//! Restarts on a `FileJournal` + `DiskKeyManager`, and journals that cannot be used.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use spiffe_ca::keys::{DiskKeyManager, KeyManager, MemoryKeyManager};
use spiffe_ca::manager::{
    CaManager, CaManagerConfig, FileJournal, Journal, JournalError, ManagerError, MemoryJournal,
};
use spiffe_ca::ManualClock;
use spiffe_core::pki_types::UnixTime;
use spiffe_core::TrustDomain;

const T0: u64 = 1_800_000_000;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("manager-journal-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn config(td: &str) -> CaManagerConfig {
    CaManagerConfig::new(TrustDomain::new(td).expect("td"))
}

async fn open(dir: &Path, td: &str, clock: &ManualClock) -> Result<CaManager, ManagerError> {
    let keys = Arc::new(DiskKeyManager::open(dir.join("keys")).expect("keys"));
    let journal = Arc::new(FileJournal::new(dir.join("journal.json")));
    CaManager::load_or_init(config(td), keys, journal, Arc::new(clock.clone())).await
}

#[tokio::test]
async fn a_restart_resumes_the_same_authorities() {
    let dir = scratch("restart");
    let clock = ManualClock::new(at(T0));
    let manager = open(&dir, "example.org", &clock).await.expect("init");
    // Move into the prepared phase and take a manual step, so there is state to resume.
    clock.set(at(T0 + 13 * 3600));
    assert!(manager.rotate().await.expect("rotate"));
    let x509 = manager.x509_authorities();
    let jwt = manager.jwt_authorities();
    let active = manager.x509_svid_issuer().authority_id().to_owned();
    let kid = manager.jwt_svid_issuer().kid().to_owned();
    let bundle = manager.bundle();
    assert_eq!(x509.len(), 2);
    let mode = fs::metadata(dir.join("journal.json"))
        .expect("journal")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(manager);

    let resumed = open(&dir, "example.org", &clock).await.expect("resume");
    assert_eq!(resumed.x509_svid_issuer().authority_id(), active);
    assert_eq!(resumed.jwt_svid_issuer().kid(), kid);
    assert_eq!(resumed.x509_authorities(), x509);
    assert_eq!(resumed.jwt_authorities(), jwt);
    // Same content, same sequence: a restart is not a bundle change.
    assert_eq!(resumed.bundle(), bundle);

    // The resumed authorities sign with the stored keys: the prepared one activates later.
    clock.set(at(T0 + 21 * 3600));
    assert!(resumed.rotate().await.expect("rotate"));
    let next = x509
        .iter()
        .find(|a| a.id != active)
        .expect("prepared")
        .id
        .clone();
    assert_eq!(resumed.x509_svid_issuer().authority_id(), next);
    // No stray temporary files beside the journal.
    let names: Vec<_> = fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[tokio::test]
async fn a_corrupt_journal_is_an_error_and_is_left_alone() {
    let dir = scratch("corrupt");
    let clock = ManualClock::new(at(T0));
    drop(open(&dir, "example.org", &clock).await.expect("init"));
    let path = dir.join("journal.json");
    let good = fs::read(&path).expect("read");
    fs::write(&path, &good[..good.len() / 2]).expect("truncate");
    let err = open(&dir, "example.org", &clock)
        .await
        .expect_err("corrupt");
    assert!(
        matches!(err, ManagerError::Journal(JournalError::Corrupt { .. })),
        "{err:?}"
    );
    // Never silently reset.
    assert_eq!(fs::read(&path).expect("read"), &good[..good.len() / 2]);
}

#[tokio::test]
async fn a_journal_of_another_trust_domain_is_refused() {
    let dir = scratch("foreign");
    let clock = ManualClock::new(at(T0));
    drop(open(&dir, "example.org", &clock).await.expect("init"));
    let err = open(&dir, "other.org", &clock).await.expect_err("foreign");
    assert!(
        matches!(err, ManagerError::TrustDomainMismatch { ref journal, .. } if journal == "example.org"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_missing_key_is_an_error() {
    let journal = Arc::new(MemoryJournal::new());
    let clock = ManualClock::new(at(T0));
    let keys = Arc::new(MemoryKeyManager::new());
    let manager = CaManager::load_or_init(
        config("example.org"),
        keys.clone(),
        journal.clone(),
        Arc::new(clock.clone()),
    )
    .await
    .expect("init");
    let key_id = journal.snapshot().expect("journal").x509[0].key_id.clone();
    drop(manager);
    assert!(keys.delete_key(&key_id).await.expect("delete"));
    let err = CaManager::load_or_init(
        config("example.org"),
        keys,
        journal,
        Arc::new(clock.clone()),
    )
    .await
    .expect_err("missing key");
    assert!(
        matches!(err, ManagerError::MissingKey { key_id: ref k, .. } if *k == key_id),
        "{err:?}"
    );
}

#[tokio::test]
async fn two_active_authorities_are_inconsistent() {
    let journal = Arc::new(MemoryJournal::new());
    let clock = ManualClock::new(at(T0));
    let keys = Arc::new(MemoryKeyManager::new());
    let manager = CaManager::load_or_init(
        config("example.org"),
        keys.clone(),
        journal.clone(),
        Arc::new(clock.clone()),
    )
    .await
    .expect("init");
    manager.prepare_x509().await.expect("prepare");
    drop(manager);
    let mut state = journal.snapshot().expect("journal");
    for record in &mut state.x509 {
        record.status = spiffe_ca::manager::AuthorityStatus::Active;
    }
    journal.save(&state).await.expect("save");
    let err = CaManager::load_or_init(config("example.org"), keys, journal, Arc::new(clock))
        .await
        .expect_err("inconsistent");
    assert!(
        matches!(err, ManagerError::InconsistentJournal { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn file_journal_round_trips_and_reports_absence() {
    let dir = scratch("roundtrip");
    let journal = FileJournal::new(dir.join("j.json"));
    assert!(journal.load().await.expect("load").is_none());
    let mut state = spiffe_ca::manager::JournalState::new("example.org");
    state.bundle_sequence = 7;
    journal.save(&state).await.expect("save");
    assert_eq!(journal.load().await.expect("load"), Some(state));
}
