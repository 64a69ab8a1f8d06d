//! Revocation does what an operator relies on: once an X.509 authority is revoked, the SVIDs it
//! signed no longer verify against the published bundle. Self-signed (the authority leaves the
//! bundle) and under an upstream authority (the bundle holds the upstream root, so trust is
//! withdrawn at the root: taint and revoke the upstream authority).
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use spiffe_ca::keys::{KeyManager, KeyType, MemoryKeyManager, Signer, SoftwareSigner};
use spiffe_ca::manager::{
    AuthorityKind, AuthorityStatus, CaManager, CaManagerConfig, ManagerError, MemoryJournal,
};
use spiffe_ca::x509::{
    DiskUpstreamAuthority, UpstreamAuthority, UpstreamCa, UpstreamCaRequest, X509SvidIssuer,
    X509SvidRequest,
};
use spiffe_ca::{CaError, ManualClock};
use spiffe_core::pki_types::{CertificateDer, UnixTime};
use spiffe_core::x509::X509VerifyError;
use spiffe_core::BoxFuture;
use spiffe_core::{SpiffeBundle, SpiffeId, TrustDomain};

const T0: u64 = 1_800_000_000;

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn td() -> TrustDomain {
    TrustDomain::new("example.org").unwrap()
}

/// An upstream CA whose signing root the test can switch, as an upstream that rotated.
#[derive(Debug)]
struct SwitchableUpstream {
    current: Mutex<Arc<DiskUpstreamAuthority>>,
}

impl SwitchableUpstream {
    fn new(root: Arc<DiskUpstreamAuthority>) -> Self {
        Self {
            current: Mutex::new(root),
        }
    }

    fn switch_to(&self, root: Arc<DiskUpstreamAuthority>) {
        *self.current.lock().unwrap() = root;
    }
}

impl UpstreamAuthority for SwitchableUpstream {
    fn mint_x509_ca<'a>(
        &'a self,
        request: &'a UpstreamCaRequest,
    ) -> BoxFuture<'a, Result<UpstreamCa, CaError>> {
        let upstream = self.current.lock().unwrap().clone();
        Box::pin(async move { upstream.mint_x509_ca(request).await })
    }
}

/// A self-signed upstream root (minted with spiffe-ca), valid for a year around T0; returns
/// it and its subject key identifier in hex.
fn upstream_root(name: &str) -> (Arc<DiskUpstreamAuthority>, String) {
    let key: Arc<dyn Signer> = Arc::new(SoftwareSigner::generate(name, KeyType::EcP256).unwrap());
    let root =
        X509SvidIssuer::self_signed(&td(), key.clone(), at(T0 - 86_400), at(T0 + 365 * 86_400))
            .unwrap();
    let certificate = root.certificate().clone();
    let id = hex(certificate.subject_key_id().unwrap());
    let upstream = DiskUpstreamAuthority::from_parts(key, vec![certificate]).unwrap();
    (Arc::new(upstream), id)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn manager(
    upstream: Option<Arc<SwitchableUpstream>>,
) -> (CaManager, Arc<MemoryKeyManager>, Arc<MemoryJournal>) {
    let keys = Arc::new(MemoryKeyManager::new());
    let journal = Arc::new(MemoryJournal::new());
    let mut config = CaManagerConfig::new(td());
    if let Some(upstream) = upstream {
        config = config.with_upstream(upstream);
    }
    let manager = CaManager::load_or_init(
        config,
        keys.clone(),
        journal.clone(),
        Arc::new(ManualClock::new(at(T0))),
    )
    .await
    .unwrap();
    (manager, keys, journal)
}

/// An X.509-SVID chain minted by the manager's active authority.
fn mint(manager: &CaManager) -> Vec<CertificateDer<'static>> {
    let key = SoftwareSigner::generate("w", KeyType::EcP256).unwrap();
    let id = SpiffeId::new("spiffe://example.org/web").unwrap();
    let request = X509SvidRequest::new(id, key.public_key(), Duration::from_secs(600));
    manager.mint_x509_svid(&request).unwrap().into_chain()
}

fn verify(chain: &[CertificateDer<'static>], bundle: &SpiffeBundle) -> Result<(), X509VerifyError> {
    let x509 = Arc::new(bundle.x509_authorities().clone());
    spiffe_core::x509::verify(chain, &x509, at(T0 + 60)).map(|_| ())
}

#[tokio::test]
async fn self_signed_revocation_makes_its_svids_fail() {
    let (manager, _keys, _journal) = manager(None).await;
    let first = manager.x509_svid_issuer().authority_id().to_owned();
    let old_svid = mint(&manager);
    assert_eq!(verify(&old_svid, &manager.bundle()), Ok(()));

    manager.prepare_x509().await.unwrap();
    manager.activate_x509().await.unwrap();
    let new_svid = mint(&manager);
    manager.taint_x509(&first).await.unwrap();
    // Tainted, still trusted: the SVIDs are being replaced.
    assert_eq!(verify(&old_svid, &manager.bundle()), Ok(()));

    let revoked = manager.revoke_x509(&first).await.unwrap();
    assert_eq!(revoked.upstream_authority_id, None);
    let bundle = manager.bundle();
    assert_eq!(
        verify(&old_svid, &bundle),
        Err(X509VerifyError::UnknownIssuer { index: 0 })
    );
    assert_eq!(verify(&new_svid, &bundle), Ok(()));

    // The upstream operations need an upstream.
    for result in [
        manager.taint_x509_upstream("00").await,
        manager.revoke_x509_upstream("00").await,
    ] {
        assert!(
            matches!(result, Err(ManagerError::NoUpstreamAuthority { .. })),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn under_an_upstream_revocation_withdraws_the_upstream_root() {
    let (root_a, a) = upstream_root("root-a");
    let (root_b, b) = upstream_root("root-b");
    let upstream = Arc::new(SwitchableUpstream::new(root_a.clone()));
    let (manager, keys, journal) = manager(Some(upstream.clone())).await;

    let first = manager.x509_authorities().remove(0);
    assert_eq!(first.upstream_authority_id.as_deref(), Some(a.as_str()));
    let old_svid = mint(&manager);
    assert_eq!(verify(&old_svid, &manager.bundle()), Ok(()));

    // One intermediate cannot be tainted or revoked: the bundle holds the shared root.
    let err = manager.revoke_x509(&first.id).await.unwrap_err();
    assert!(matches!(
        err,
        ManagerError::UpstreamConfigured {
            operation: "revoke"
        }
    ));
    assert!(err.to_string().contains("upstream root"), "{err}");
    assert!(matches!(
        manager.taint_x509(&first.id).await,
        Err(ManagerError::UpstreamConfigured { operation: "taint" })
    ));

    // Tainting root A while the upstream still signs under it: refused, nothing changes.
    let before = journal.snapshot();
    let key_count = keys.list_keys().await.unwrap().len();
    assert!(matches!(
        manager.taint_x509_upstream(&a).await,
        Err(ManagerError::UpstreamRootDistrusted { ref id, state: "tainted" }) if *id == a
    ));
    assert_eq!(journal.snapshot(), before);
    assert_eq!(keys.list_keys().await.unwrap().len(), key_count);

    // The upstream moved to root B: tainting A (any case) rotates to an intermediate under B.
    upstream.switch_to(root_b);
    let tainted = manager
        .taint_x509_upstream(&a.to_ascii_uppercase())
        .await
        .unwrap();
    assert_eq!(tainted.id, a);
    assert!(tainted.tainted);
    assert_eq!(tainted.root.as_ref(), Some(root_a.root()));
    assert_eq!(tainted.authorities.len(), 1);
    assert_eq!(tainted.authorities[0].id, first.id);
    assert_eq!(tainted.authorities[0].status, AuthorityStatus::Old);
    assert!(tainted.authorities[0].tainted);
    let active = manager.x509_svid_issuer();
    assert_ne!(active.authority_id(), first.id);
    assert_eq!(
        active.trust_anchor().subject_key_id().map(hex),
        Some(b.clone())
    );
    let listed: Vec<_> = manager
        .x509_upstream_authorities()
        .into_iter()
        .map(|u| (u.id, u.tainted))
        .collect();
    assert_eq!(listed, [(a.clone(), true), (b.clone(), false)]);
    assert!(matches!(
        manager.taint_x509_upstream(&a).await,
        Err(ManagerError::AlreadyTainted {
            kind: AuthorityKind::X509Upstream,
            ..
        })
    ));
    // Tainted, still trusted while SVIDs are replaced; new ones chain to B.
    let new_svid = mint(&manager);
    assert_eq!(verify(&old_svid, &manager.bundle()), Ok(()));
    assert_eq!(verify(&new_svid, &manager.bundle()), Ok(()));
    assert_eq!(manager.bundle().x509_authorities().len(), 2);

    // Only a tainted root can be revoked.
    assert!(matches!(
        manager.revoke_x509_upstream(&b).await,
        Err(ManagerError::NotTainted {
            kind: AuthorityKind::X509Upstream,
            ..
        })
    ));
    assert!(matches!(
        manager.revoke_x509_upstream("0123").await,
        Err(ManagerError::UnknownAuthority {
            kind: AuthorityKind::X509Upstream,
            ..
        })
    ));

    // Revoking root A: it leaves the bundle with the intermediate under it.
    let seq = manager.bundle().sequence().unwrap();
    let key_count = keys.list_keys().await.unwrap().len();
    let revoked = manager.revoke_x509_upstream(&a).await.unwrap();
    assert_eq!(revoked.id, a);
    assert_eq!(revoked.authorities.len(), 1);
    let bundle = manager.bundle();
    assert_eq!(bundle.sequence(), Some(seq + 1));
    assert_eq!(bundle.x509_authorities().len(), 1);
    assert_eq!(
        verify(&old_svid, &bundle),
        Err(X509VerifyError::UnknownIssuer { index: 1 })
    );
    assert_eq!(verify(&new_svid, &bundle), Ok(()));
    assert_eq!(keys.list_keys().await.unwrap().len(), key_count - 1);
    assert!(manager.x509_authorities().iter().all(|x| x.id != first.id));
    let saved = journal.snapshot().unwrap();
    assert_eq!(saved.revoked_upstream_x509, std::slice::from_ref(&a));
    assert!(saved.tainted_upstream_x509.is_empty());
    assert!(saved.revoked_x509.contains(&first.id));

    // The upstream going back to root A cannot bring it back into the bundle.
    upstream.switch_to(root_a.clone());
    assert!(matches!(
        manager.prepare_x509().await,
        Err(ManagerError::UpstreamRootDistrusted { ref id, state: "revoked" }) if *id == a
    ));
    assert_eq!(manager.bundle().x509_authorities().len(), 1);

    // Nor after a restart: the journal remembers.
    let resumed = CaManager::load_or_init(
        CaManagerConfig::new(td()).with_upstream(upstream.clone()),
        keys.clone(),
        journal.clone(),
        Arc::new(ManualClock::new(at(T0))),
    )
    .await
    .unwrap();
    assert!(matches!(
        resumed.prepare_x509().await,
        Err(ManagerError::UpstreamRootDistrusted {
            state: "revoked",
            ..
        })
    ));
    assert_eq!(
        verify(&old_svid, &resumed.bundle()),
        Err(X509VerifyError::UnknownIssuer { index: 1 })
    );
}

#[tokio::test]
async fn tainting_replaces_a_prepared_authority_or_activates_an_untainted_one() {
    let (root_a, a) = upstream_root("root-a");
    let (root_b, b) = upstream_root("root-b");
    let (root_c, c) = upstream_root("root-c");
    let upstream = Arc::new(SwitchableUpstream::new(root_a));
    let (manager, _keys, _journal) = manager(Some(upstream.clone())).await;
    let under = |manager: &CaManager, status| {
        manager
            .x509_authorities()
            .into_iter()
            .find(|x| x.status == status)
            .and_then(|x| x.upstream_authority_id)
    };
    // Active under A, prepared under B.
    upstream.switch_to(root_b);
    manager.prepare_x509().await.unwrap();
    assert_eq!(under(&manager, AuthorityStatus::Prepared), Some(b.clone()));

    // Tainting B replaces the prepared authority with one under the upstream's root now, C;
    // the active one stays.
    upstream.switch_to(root_c);
    let tainted = manager.taint_x509_upstream(&b).await.unwrap();
    assert!(tainted.tainted && tainted.authorities.is_empty() && tainted.root.is_none());
    assert_eq!(under(&manager, AuthorityStatus::Active), Some(a.clone()));
    assert_eq!(under(&manager, AuthorityStatus::Prepared), Some(c.clone()));
    assert_eq!(manager.x509_authorities().len(), 2);

    // Tainting A activates the prepared authority (under C) without preparing another.
    manager.taint_x509_upstream(&a).await.unwrap();
    assert_eq!(under(&manager, AuthorityStatus::Active), Some(c));
    assert_eq!(under(&manager, AuthorityStatus::Prepared), None);
    let old = manager.x509_authorities().remove(0);
    assert_eq!(old.status, AuthorityStatus::Old);
    assert!(old.tainted);
    assert_eq!(old.upstream_authority_id, Some(a));

    // B has nothing under it any more; revoking it only records it.
    let revoked = manager.revoke_x509_upstream(&b).await.unwrap();
    assert!(revoked.authorities.is_empty());
    assert_eq!(manager.x509_authorities().len(), 2);
}
