//! The JWT algorithm of a manager's keys: configured, journaled, and kept across restarts.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use spiffe_ca::keys::{DiskKeyManager, KeyType, MemoryKeyManager};
use spiffe_ca::manager::{CaManager, CaManagerConfig, FileJournal, ManagerError, MemoryJournal};
use spiffe_ca::{CaError, Clock, ManualClock};
use spiffe_core::jwt::{JwtAlg, JwtSvid, JwtValidationOptions};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};

const T0: u64 = 1_800_000_000;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("manager-jwt-alg-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn rsa_config(alg: Option<JwtAlg>) -> CaManagerConfig {
    let config = CaManagerConfig::new(TrustDomain::new("example.org").expect("td"))
        .with_jwt(KeyType::Rsa2048, Duration::from_secs(86_400));
    match alg {
        Some(alg) => config.with_jwt_alg(alg),
        None => config,
    }
}

async fn open(
    dir: &Path,
    config: CaManagerConfig,
    clock: &ManualClock,
) -> Result<CaManager, ManagerError> {
    let keys = Arc::new(DiskKeyManager::open(dir.join("keys")).expect("keys"));
    let journal = Arc::new(FileJournal::new(dir.join("journal.json")));
    CaManager::load_or_init(config, keys, journal, Arc::new(clock.clone())).await
}

/// Mints a token with the manager and validates it against its bundle; returns its algorithm.
fn mint_and_validate(manager: &CaManager, clock: &ManualClock) -> JwtAlg {
    let id = SpiffeId::new("spiffe://example.org/web").expect("id");
    let token = manager
        .mint_jwt_svid(
            &id,
            &["api"],
            Duration::from_secs(300),
            &spiffe_core::json::JsonObject::new(),
        )
        .expect("mint");
    let bundle = Arc::new(manager.bundle().jwt_authorities().clone());
    let svid = JwtSvid::validate(
        &token,
        &bundle,
        &["api"],
        &JwtValidationOptions::new(clock.now()),
    )
    .expect("the token validates against the bundle");
    assert_eq!(svid.spiffe_id(), &id);
    svid.alg()
}

#[tokio::test]
async fn a_ps256_manager_restarted_on_disk_still_mints_ps256() {
    let dir = scratch("ps256");
    let clock = ManualClock::new(at(T0));
    let manager = open(&dir, rsa_config(Some(JwtAlg::Ps256)), &clock)
        .await
        .expect("init");
    assert_eq!(manager.jwt_svid_issuer().alg(), JwtAlg::Ps256);
    assert_eq!(mint_and_validate(&manager, &clock), JwtAlg::Ps256);
    let kid = manager.jwt_svid_issuer().kid().to_owned();
    drop(manager);

    let journal: Value =
        serde_json::from_slice(&fs::read(dir.join("journal.json")).expect("journal"))
            .expect("json");
    assert_eq!(journal["jwt"][0]["alg"], "PS256");

    // Restarted with the same configuration: same key, same algorithm.
    let resumed = open(&dir, rsa_config(Some(JwtAlg::Ps256)), &clock)
        .await
        .expect("resume");
    assert_eq!(resumed.jwt_svid_issuer().kid(), kid);
    assert_eq!(mint_and_validate(&resumed, &clock), JwtAlg::Ps256);
    drop(resumed);

    // Even a configuration that no longer names PS256 keeps the journaled key's algorithm.
    let resumed = open(&dir, rsa_config(None), &clock).await.expect("resume");
    assert_eq!(resumed.jwt_svid_issuer().kid(), kid);
    assert_eq!(mint_and_validate(&resumed, &clock), JwtAlg::Ps256);
}

#[tokio::test]
async fn rotated_keys_use_the_configured_algorithm() {
    let dir = scratch("rotate");
    let clock = ManualClock::new(at(T0));
    let manager = open(&dir, rsa_config(Some(JwtAlg::Ps256)), &clock)
        .await
        .expect("init");
    let first = manager.jwt_svid_issuer().kid().to_owned();
    // Past 5/6 of the 24 h lifetime: the next key is prepared and activated.
    clock.set(at(T0 + 13 * 3600));
    manager.rotate().await.expect("prepare");
    clock.set(at(T0 + 21 * 3600));
    manager.rotate().await.expect("activate");
    assert_ne!(manager.jwt_svid_issuer().kid(), first);
    assert_eq!(mint_and_validate(&manager, &clock), JwtAlg::Ps256);
    drop(manager);

    let resumed = open(&dir, rsa_config(Some(JwtAlg::Ps256)), &clock)
        .await
        .expect("resume");
    assert_eq!(resumed.jwt_authorities().len(), 2);
    assert_eq!(mint_and_validate(&resumed, &clock), JwtAlg::Ps256);
}

#[tokio::test]
async fn a_journal_without_algorithms_resumes_with_the_key_type_default() {
    let dir = scratch("legacy");
    let clock = ManualClock::new(at(T0));
    let manager = open(&dir, rsa_config(Some(JwtAlg::Ps256)), &clock)
        .await
        .expect("init");
    let kid = manager.jwt_svid_issuer().kid().to_owned();
    drop(manager);

    // A journal as written before the algorithm was recorded.
    let path = dir.join("journal.json");
    let mut journal: Value =
        serde_json::from_slice(&fs::read(&path).expect("journal")).expect("json");
    for key in journal["jwt"].as_array_mut().expect("jwt keys") {
        assert!(key.as_object_mut().expect("record").remove("alg").is_some());
    }
    fs::write(&path, serde_json::to_vec(&journal).expect("encode")).expect("write");

    let resumed = open(&dir, rsa_config(Some(JwtAlg::Ps256)), &clock)
        .await
        .expect("resume");
    assert_eq!(resumed.jwt_svid_issuer().kid(), kid);
    assert_eq!(mint_and_validate(&resumed, &clock), JwtAlg::Rs256);
}

#[tokio::test]
async fn a_journaled_algorithm_that_is_unknown_or_unfit_is_inconsistent() {
    for (name, alg) in [("unknown", "HS256"), ("unfit", "ES256")] {
        let dir = scratch(name);
        let clock = ManualClock::new(at(T0));
        drop(open(&dir, rsa_config(None), &clock).await.expect("init"));
        let path = dir.join("journal.json");
        let mut journal: Value =
            serde_json::from_slice(&fs::read(&path).expect("journal")).expect("json");
        journal["jwt"][0]["alg"] = Value::from(alg);
        fs::write(&path, serde_json::to_vec(&journal).expect("encode")).expect("write");
        let err = open(&dir, rsa_config(None), &clock)
            .await
            .expect_err("refused");
        assert!(
            matches!(err, ManagerError::InconsistentJournal { .. }),
            "{alg}: {err:?}"
        );
    }
}

#[tokio::test]
async fn an_algorithm_that_does_not_suit_the_key_type_is_refused() {
    let td = TrustDomain::new("example.org").expect("td");
    let day = Duration::from_secs(86_400);
    let cases = [
        (KeyType::EcP256, JwtAlg::Ps256),
        (KeyType::EcP256, JwtAlg::Es384),
        (KeyType::EcP384, JwtAlg::Es256),
        (KeyType::Rsa2048, JwtAlg::Es256),
        (KeyType::Rsa4096, JwtAlg::Rs384),
    ];
    for (key_type, alg) in cases {
        let config = CaManagerConfig::new(td.clone())
            .with_jwt(key_type, day)
            .with_jwt_alg(alg);
        let journal = Arc::new(MemoryJournal::new());
        let err = CaManager::load_or_init(
            config,
            Arc::new(MemoryKeyManager::new()),
            journal.clone(),
            Arc::new(ManualClock::new(at(T0))),
        )
        .await
        .expect_err("refused");
        assert!(
            matches!(err, ManagerError::Ca(CaError::AlgorithmMismatch { .. })),
            "{key_type:?}/{alg:?}: {err:?}"
        );
        // Refused before anything was created.
        assert!(journal.snapshot().is_none());
    }
    // The fitting pairs are accepted.
    for (key_type, alg) in [
        (KeyType::EcP256, JwtAlg::Es256),
        (KeyType::EcP384, JwtAlg::Es384),
    ] {
        let config = CaManagerConfig::new(td.clone())
            .with_jwt(key_type, day)
            .with_jwt_alg(alg);
        let manager = CaManager::load_or_init(
            config,
            Arc::new(MemoryKeyManager::new()),
            Arc::new(MemoryJournal::new()),
            Arc::new(ManualClock::new(at(T0))),
        )
        .await
        .expect("accepted");
        assert_eq!(manager.jwt_svid_issuer().alg(), alg);
    }
}
