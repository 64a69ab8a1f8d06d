//! Local-authority operations (prepare, activate, taint, revoke), their rules and errors.

use std::sync::Arc;
use std::time::Duration;

use spiffe_ca::keys::{KeyManager, KeyType, MemoryKeyManager, Signer, SoftwareSigner};
use spiffe_ca::manager::{
    AuthorityKind, AuthorityStatus, CaManager, CaManagerConfig, ManagerError, MemoryJournal,
};
use spiffe_ca::x509::X509SvidRequest;
use spiffe_ca::{CaError, ManualClock};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain};

const T0: u64 = 1_800_000_000;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

async fn manager() -> (
    CaManager,
    ManualClock,
    Arc<MemoryKeyManager>,
    Arc<MemoryJournal>,
) {
    let clock = ManualClock::new(at(T0));
    let keys = Arc::new(MemoryKeyManager::new());
    let journal = Arc::new(MemoryJournal::new());
    let manager = CaManager::load_or_init(
        CaManagerConfig::new(TrustDomain::new("example.org").expect("td")),
        keys.clone(),
        journal.clone(),
        Arc::new(clock.clone()),
    )
    .await
    .expect("init");
    (manager, clock, keys, journal)
}

#[tokio::test]
async fn manual_x509_rotation_taint_and_revoke() {
    let (manager, _clock, keys, journal) = manager().await;
    let first = manager.x509_svid_issuer().authority_id().to_owned();
    let seq0 = manager.bundle().sequence().expect("seq");

    // Nothing prepared yet.
    assert!(matches!(
        manager.activate_x509().await,
        Err(ManagerError::NothingPrepared {
            kind: AuthorityKind::X509
        })
    ));

    let next = manager.prepare_x509().await.expect("prepare");
    assert_eq!(next.status, AuthorityStatus::Prepared);
    // Published at once (a new bundle sequence), not signing yet.
    assert_eq!(manager.bundle().x509_authorities().len(), 2);
    assert_eq!(manager.bundle().sequence(), Some(seq0 + 1));
    assert_eq!(manager.x509_svid_issuer().authority_id(), first);
    // Journaled before it took effect.
    let saved = journal.snapshot().expect("journal");
    assert!(saved.x509.iter().any(|r| r.authority_id == next.id));

    // The active one cannot be tainted, nor a prepared one.
    for id in [&first, &next.id] {
        assert!(matches!(
            manager.taint_x509(id).await,
            Err(ManagerError::WrongStatus {
                operation: "taint",
                ..
            })
        ));
    }
    // Only tainted authorities can be revoked.
    assert!(matches!(
        manager.revoke_x509(&first).await,
        Err(ManagerError::NotTainted { .. })
    ));

    let activated = manager.activate_x509().await.expect("activate");
    assert_eq!(activated.id, next.id);
    assert_eq!(activated.status, AuthorityStatus::Active);
    assert_eq!(manager.x509_svid_issuer().authority_id(), next.id);
    let statuses: Vec<_> = manager
        .x509_authorities()
        .into_iter()
        .map(|a| (a.id, a.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (first.clone(), AuthorityStatus::Old),
            (next.id.clone(), AuthorityStatus::Active)
        ]
    );
    // Activation does not change the bundle's content, so not its sequence.
    assert_eq!(manager.bundle().sequence(), Some(seq0 + 1));

    let tainted = manager.taint_x509(&first).await.expect("taint old");
    assert!(tainted.tainted);
    assert!(matches!(
        manager.taint_x509(&first).await,
        Err(ManagerError::AlreadyTainted { .. })
    ));
    assert!(journal.snapshot().expect("journal").x509[0].tainted);
    // Tainted authorities stay in the bundle until revoked.
    assert_eq!(manager.bundle().x509_authorities().len(), 2);

    let key_count = keys.list_keys().await.expect("keys").len();
    let revoked = manager.revoke_x509(&first).await.expect("revoke");
    assert_eq!(revoked.id, first);
    assert_eq!(manager.bundle().x509_authorities().len(), 1);
    assert_eq!(
        manager.bundle().x509_authorities().authorities()[0],
        *manager.x509_svid_issuer().trust_anchor()
    );
    assert_eq!(manager.bundle().sequence(), Some(seq0 + 2));
    let saved = journal.snapshot().expect("journal");
    assert_eq!(saved.revoked_x509, std::slice::from_ref(&first));
    assert_eq!(saved.bundle_sequence, seq0 + 2);
    // The revoked authority's key is deleted.
    assert_eq!(keys.list_keys().await.expect("keys").len(), key_count - 1);

    assert!(matches!(
        manager.revoke_x509(&first).await,
        Err(ManagerError::UnknownAuthority {
            kind: AuthorityKind::X509,
            ..
        })
    ));
    assert!(matches!(
        manager.taint_x509("nope").await,
        Err(ManagerError::UnknownAuthority { .. })
    ));
}

#[tokio::test]
async fn manual_jwt_rotation_taint_and_revoke() {
    let (manager, _clock, _keys, _journal) = manager().await;
    let first = manager.jwt_svid_issuer().kid().to_owned();
    assert!(matches!(
        manager.activate_jwt().await,
        Err(ManagerError::NothingPrepared {
            kind: AuthorityKind::Jwt
        })
    ));
    let next = manager.prepare_jwt().await.expect("prepare");
    assert!(manager.bundle().jwt_authorities().get(&next.id).is_some());
    assert!(matches!(
        manager.taint_jwt(&first).await,
        Err(ManagerError::WrongStatus {
            status: AuthorityStatus::Active,
            ..
        })
    ));
    manager.activate_jwt().await.expect("activate");
    assert_eq!(manager.jwt_svid_issuer().kid(), next.id);
    assert!(matches!(
        manager.revoke_jwt(&first).await,
        Err(ManagerError::NotTainted { .. })
    ));
    manager.taint_jwt(&first).await.expect("taint");
    manager.revoke_jwt(&first).await.expect("revoke");
    let bundle = manager.bundle();
    assert!(bundle.jwt_authorities().get(&first).is_none());
    assert_eq!(bundle.jwt_authorities().len(), 1);
}

/// SPIRE's Activate*Authority name the authority: only the prepared one is activated.
#[tokio::test]
async fn activation_by_id_needs_the_prepared_authority() {
    let (manager, _clock, _keys, _journal) = manager().await;
    let first = manager.x509_svid_issuer().authority_id().to_owned();
    let next = manager.prepare_x509().await.expect("prepare");
    let err = manager
        .activate_x509_authority(&first)
        .await
        .expect_err("the active authority is not the prepared one");
    assert!(matches!(
        err,
        ManagerError::WrongStatus {
            operation: "activate",
            status: AuthorityStatus::Active,
            required: AuthorityStatus::Prepared,
            ..
        }
    ));
    assert!(
        err.to_string().ends_with("to be prepared; it is active"),
        "{err}"
    );
    assert!(matches!(
        manager.activate_x509_authority("nope").await,
        Err(ManagerError::UnknownAuthority { .. })
    ));
    assert_eq!(manager.x509_svid_issuer().authority_id(), first);
    let activated = manager
        .activate_x509_authority(&next.id)
        .await
        .expect("activate");
    assert_eq!(activated.status, AuthorityStatus::Active);
    assert_eq!(manager.x509_svid_issuer().authority_id(), next.id);

    let kid = manager.prepare_jwt().await.expect("prepare jwt").id;
    manager
        .activate_jwt_authority(&kid)
        .await
        .expect("activate jwt");
    assert_eq!(manager.jwt_svid_issuer().kid(), kid);
    assert!(matches!(
        manager.activate_jwt_authority(&kid).await,
        Err(ManagerError::WrongStatus {
            status: AuthorityStatus::Active,
            ..
        })
    ));
}

#[tokio::test]
async fn preparing_twice_replaces_the_prepared_authority() {
    let (manager, _clock, keys, _journal) = manager().await;
    let a = manager.prepare_x509().await.expect("prepare");
    let b = manager.prepare_x509().await.expect("prepare again");
    assert_ne!(a.id, b.id);
    let ids: Vec<_> = manager
        .x509_authorities()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert!(!ids.contains(&a.id));
    assert!(ids.contains(&b.id));
    assert_eq!(manager.bundle().x509_authorities().len(), 2);
    // 2 X.509 + 1 JWT keys: the replaced prepared key is gone.
    assert_eq!(keys.list_keys().await.expect("keys").len(), 3);
}

#[tokio::test]
async fn rotate_is_a_no_op_when_nothing_is_due() {
    let (manager, clock, _keys, journal) = manager().await;
    let before = journal.snapshot();
    clock.advance(Duration::from_secs(3600));
    assert!(!manager.rotate().await.expect("rotate"));
    assert_eq!(journal.snapshot(), before);
}

#[tokio::test]
async fn minting_clamps_and_checks_the_trust_domain() {
    let (manager, _clock, _keys, _journal) = manager().await;
    let key = SoftwareSigner::generate("w", KeyType::EcP256).expect("key");
    let foreign = SpiffeId::new("spiffe://other.org/web").expect("id");
    let request = X509SvidRequest::new(foreign.clone(), key.public_key(), Duration::from_secs(60));
    assert!(matches!(
        manager.mint_x509_svid(&request),
        Err(ManagerError::Ca(CaError::ForeignTrustDomain { .. }))
    ));
    assert!(matches!(
        manager.mint_jwt_svid(
            &foreign,
            &["a"],
            Duration::from_secs(60),
            &Default::default()
        ),
        Err(ManagerError::Ca(CaError::ForeignTrustDomain { .. }))
    ));
    let id = SpiffeId::new("spiffe://example.org/web").expect("id");
    let request = X509SvidRequest::new(id, key.public_key(), Duration::from_secs(60))
        .with_dns_names(["web.example.org"]);
    let svid = manager.mint_x509_svid(&request).expect("mint");
    // Within the maximum: the requested TTL is kept.
    assert_eq!(svid.expires_at().as_secs(), T0 + 60);
}

#[tokio::test]
async fn a_zero_ttl_is_refused() {
    let config = CaManagerConfig::new(TrustDomain::new("example.org").expect("td"))
        .with_jwt(KeyType::EcP256, Duration::ZERO);
    let result = CaManager::load_or_init(
        config,
        Arc::new(MemoryKeyManager::new()),
        Arc::new(MemoryJournal::new()),
        Arc::new(ManualClock::new(at(T0))),
    )
    .await;
    assert!(matches!(
        result,
        Err(ManagerError::ZeroTtl {
            kind: AuthorityKind::Jwt
        })
    ));
}
