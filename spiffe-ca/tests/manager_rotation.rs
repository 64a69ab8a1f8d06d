//! Several full rotations under a manual clock: at every step a fresh X.509-SVID and JWT-SVID
//! verify against the bundle published at that step, and so do those of the previous step;
//! prepare and activate happen at 1/2 and 5/6; old authorities leave only after expiry.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use spiffe_ca::keys::{KeyManager, KeyType, MemoryKeyManager, Signer, SoftwareSigner};
use spiffe_ca::manager::{
    AuthorityInfo, AuthorityStatus, CaManager, CaManagerConfig, MemoryJournal,
};
use spiffe_ca::x509::X509SvidRequest;
use spiffe_ca::ManualClock;
use spiffe_core::jwt::{JwtSvid, JwtValidationOptions, UnverifiedJwtSvid};
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::{Certificate, SpiffeBundle, SpiffeId, TrustDomain};

const T0: u64 = 1_800_000_000;
const HOUR: u64 = 3600;
const STEP: u64 = 600;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

struct Minted {
    chain: Vec<Certificate>,
    token: String,
    x509_expiry: u64,
    jwt_expiry: u64,
}

fn verify(minted: &Minted, bundle: &SpiffeBundle, now: u64) {
    let (x509, jwt) = bundle.clone().into_parts();
    if now <= minted.x509_expiry {
        let verified = spiffe_core::x509::verify_parsed(&minted.chain, &Arc::new(x509), at(now))
            .unwrap_or_else(|e| panic!("X.509-SVID fails at {}: {e}", now - T0));
        assert_eq!(verified.spiffe_id().as_str(), "spiffe://example.org/web");
    }
    if now < minted.jwt_expiry {
        let svid = JwtSvid::validate(
            &minted.token,
            &Arc::new(jwt),
            &["api"],
            &JwtValidationOptions::new(at(now)),
        )
        .unwrap_or_else(|e| panic!("JWT-SVID fails at {}: {e}", now - T0));
        assert_eq!(svid.spiffe_id().as_str(), "spiffe://example.org/web");
    }
}

fn by_id(list: Vec<AuthorityInfo>) -> BTreeMap<String, AuthorityInfo> {
    list.into_iter().map(|a| (a.id.clone(), a)).collect()
}

fn active(list: &BTreeMap<String, AuthorityInfo>) -> &AuthorityInfo {
    let mut active = list
        .values()
        .filter(|a| a.status == AuthorityStatus::Active);
    let first = active.next().expect("an active authority");
    assert!(active.next().is_none(), "two active authorities");
    first
}

/// Checks the transitions between two steps of one kind; returns (prepared, activated) counts.
fn check_transitions(
    before: &BTreeMap<String, AuthorityInfo>,
    after: &BTreeMap<String, AuthorityInfo>,
    now: u64,
    lifetime: u64,
) -> (usize, usize) {
    let old_active = active(before);
    let elapsed = now - old_active.not_before.as_secs();
    let (mut prepared, mut activated) = (0, 0);
    for (id, a) in after {
        if !before.contains_key(id) {
            assert_eq!(
                a.status,
                AuthorityStatus::Prepared,
                "new authorities start prepared"
            );
            // Prepared at the first step past 1/2 of the active one's lifetime.
            assert!(
                elapsed > lifetime / 2 && elapsed <= lifetime / 2 + STEP,
                "prepared {elapsed} s into a {lifetime} s lifetime"
            );
            prepared += 1;
        }
    }
    let new_active = active(after);
    if new_active.id != old_active.id {
        assert_eq!(before[&new_active.id].status, AuthorityStatus::Prepared);
        // Activated at the first step past 5/6 of the previous one's lifetime.
        assert!(
            elapsed > lifetime * 5 / 6 && elapsed <= lifetime * 5 / 6 + STEP,
            "activated {elapsed} s into a {lifetime} s lifetime"
        );
        assert_eq!(after[&old_active.id].status, AuthorityStatus::Old);
        activated += 1;
    }
    for (id, a) in before {
        if !after.contains_key(id) {
            // Pruned only once expired.
            assert!(
                now > a.not_after.as_secs(),
                "{id} left the bundle before expiry"
            );
            assert_eq!(a.status, AuthorityStatus::Old);
        } else {
            assert!(now <= a.not_after.as_secs() || a.status == AuthorityStatus::Active);
        }
    }
    (prepared, activated)
}

#[tokio::test]
async fn four_days_of_rotation_never_break_a_fresh_svid() {
    let td = TrustDomain::new("example.org").expect("td");
    let clock = ManualClock::new(at(T0));
    let key_manager = Arc::new(MemoryKeyManager::new());
    let config = CaManagerConfig::new(td)
        .with_x509(KeyType::EcP256, Duration::from_secs(24 * HOUR))
        .with_jwt(KeyType::EcP256, Duration::from_secs(24 * HOUR));
    let manager = CaManager::load_or_init(
        config,
        key_manager.clone(),
        Arc::new(MemoryJournal::new()),
        Arc::new(clock.clone()),
    )
    .await
    .expect("init");
    assert_eq!(manager.max_svid_ttl(), Duration::from_secs(4 * HOUR));
    assert_eq!(manager.bundle().sequence(), Some(1));

    let workload = SoftwareSigner::generate("w", KeyType::EcP256).expect("key");
    let id = SpiffeId::new("spiffe://example.org/web").expect("id");
    let mint = |now: u64| {
        // Ask for more than the maximum: the manager clamps to it.
        let request = X509SvidRequest::new(
            id.clone(),
            workload.public_key(),
            Duration::from_secs(48 * HOUR),
        );
        let svid = manager.mint_x509_svid(&request).expect("mint X.509");
        assert_eq!(svid.expires_at().as_secs(), now + 4 * HOUR);
        let chain = svid
            .chain()
            .iter()
            .map(|der| Certificate::from_der(CertificateDer::from(der.to_vec())).expect("parse"))
            .collect();
        let token = manager
            .mint_jwt_svid(
                &id,
                &["api"],
                Duration::from_secs(48 * HOUR),
                &Default::default(),
            )
            .expect("mint JWT");
        let jwt_expiry = UnverifiedJwtSvid::parse_insecure(&token)
            .expect("parse")
            .expiry()
            .as_secs();
        assert_eq!(jwt_expiry, now + 4 * HOUR);
        Minted {
            chain,
            token,
            x509_expiry: svid.expires_at().as_secs(),
            jwt_expiry,
        }
    };

    let mut previous = mint(T0);
    verify(&previous, &manager.bundle(), T0);
    let mut x509 = by_id(manager.x509_authorities());
    let mut jwt = by_id(manager.jwt_authorities());
    let mut sequence = manager.bundle().sequence().expect("sequence");
    let mut bundle_json = manager.bundle().to_json();
    let (mut prepared, mut activated) = (0, 0);
    let mut max_held = 0;

    let mut now = T0;
    while now < T0 + 96 * HOUR {
        now += STEP;
        clock.set(at(now));
        manager.rotate().await.expect("rotate");
        let bundle = manager.bundle();

        // The bundle sequence increases exactly when the bundle changes.
        let seq = bundle.sequence().expect("sequence");
        let mut json = bundle.as_ref().clone();
        json.set_sequence(Some(sequence));
        if json.to_json() == bundle_json {
            assert_eq!(seq, sequence, "sequence moved without a change");
        } else {
            assert!(seq > sequence, "bundle changed without a new sequence");
        }
        sequence = seq;
        bundle_json = bundle.to_json();

        let x509_now = by_id(manager.x509_authorities());
        let jwt_now = by_id(manager.jwt_authorities());
        let (p, a) = check_transitions(&x509, &x509_now, now, 24 * HOUR);
        let (pj, aj) = check_transitions(&jwt, &jwt_now, now, 24 * HOUR);
        prepared += p + pj;
        activated += a + aj;
        max_held = max_held.max(x509_now.len());
        // Every authority held is in the bundle.
        assert_eq!(bundle.x509_authorities().len(), x509_now.len());
        assert_eq!(bundle.jwt_authorities().len(), jwt_now.len());
        x509 = x509_now;
        jwt = jwt_now;

        // The active authorities are the ones the accessors return.
        assert_eq!(manager.x509_svid_issuer().authority_id(), active(&x509).id);
        assert_eq!(manager.jwt_svid_issuer().kid(), active(&jwt).id);

        // What was minted one step ago still verifies, and so does a fresh SVID.
        verify(&previous, &bundle, now);
        let fresh = mint(now);
        verify(&fresh, &bundle, now);
        previous = fresh;
    }
    // 96 h with 24 h CAs rotated every 12 h after the first 20 h: several full rotations.
    assert!(activated >= 2 * 6, "only {activated} activations");
    assert!(prepared >= activated);
    // With SPIRE's fractions the previous authority expires before the next is prepared:
    // at most two are held at once (active + prepared, or active + old).
    assert_eq!(max_held, 2);
    // Retired keys are deleted: only held authorities keep a key.
    let keys = key_manager.list_keys().await.expect("keys");
    assert_eq!(keys.len(), x509.len() + jwt.len());
}

#[tokio::test]
async fn long_lifetimes_use_the_caps() {
    let td = TrustDomain::new("example.org").expect("td");
    let clock = ManualClock::new(at(T0));
    let year = Duration::from_secs(365 * 24 * HOUR);
    let config = CaManagerConfig::new(td)
        .with_x509(KeyType::EcP256, year)
        .with_jwt(KeyType::EcP256, year);
    let manager = CaManager::load_or_init(
        config,
        Arc::new(MemoryKeyManager::new()),
        Arc::new(MemoryJournal::new()),
        Arc::new(clock.clone()),
    )
    .await
    .expect("init");
    assert_eq!(manager.max_svid_ttl(), Duration::from_secs(7 * 24 * HOUR));
    let end = T0 + 365 * 24 * HOUR;
    let count = |status| {
        manager
            .x509_authorities()
            .iter()
            .filter(|a| a.status == status)
            .count()
    };

    clock.set(at(end - 30 * 24 * HOUR));
    assert!(!manager.rotate().await.expect("rotate"));
    clock.set(at(end - 30 * 24 * HOUR + 1));
    assert!(manager.rotate().await.expect("rotate"));
    assert_eq!(count(AuthorityStatus::Prepared), 1);
    clock.set(at(end - 7 * 24 * HOUR));
    assert!(!manager.rotate().await.expect("rotate"));
    clock.set(at(end - 7 * 24 * HOUR + 1));
    assert!(manager.rotate().await.expect("rotate"));
    assert_eq!(count(AuthorityStatus::Prepared), 0);
    assert_eq!(count(AuthorityStatus::Old), 1);
}

#[tokio::test]
async fn an_expired_active_authority_is_replaced_at_once() {
    let td = TrustDomain::new("example.org").expect("td");
    let clock = ManualClock::new(at(T0));
    let manager = CaManager::load_or_init(
        CaManagerConfig::new(td),
        Arc::new(MemoryKeyManager::new()),
        Arc::new(MemoryJournal::new()),
        Arc::new(clock.clone()),
    )
    .await
    .expect("init");
    let first = manager.x509_svid_issuer().authority_id().to_owned();
    // The CA was not rotated for three days.
    clock.set(at(T0 + 72 * HOUR));
    assert!(manager.rotate().await.expect("rotate"));
    assert_ne!(manager.x509_svid_issuer().authority_id(), first);
    assert_eq!(
        manager.x509_authorities().len(),
        1,
        "the expired one is pruned"
    );
    assert_eq!(manager.bundle().x509_authorities().len(), 1);
    let id = SpiffeId::new("spiffe://example.org/web").expect("id");
    manager
        .mint_jwt_svid(&id, &["a"], Duration::from_secs(60), &Default::default())
        .expect("JWT after the gap");
}
