//! `FileIdentityProvider`: what it serves from files, and how it reloads them (a bad reload
//! keeps the previous material).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{id, Ca};
use spiffe_ca::jwt::JwtSvidIssuer;
use spiffe_ca::keys::{KeyType, SoftwareSigner};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::x509::X509Error;
use spiffe_core::{BoxError, JwtAuthority, SpiffeBundle, SpiffeId, TrustDomain, X509Svid};
use spiffe_workload::provider::files::{
    FileIdentityConfig, FileIdentityProvider, FileProviderError, JwtSvidMinter, ReloadOutcome,
};
use spiffe_workload::{CallerInfo, IdentityProvider, ProviderError};

const EXAMPLE: &str = "spiffe://example.org/workload";

fn caller(uid: u32) -> CallerInfo {
    CallerInfo::new(Some(1), uid, uid)
}

/// Writes `svid` as DER chain + PKCS#8 DER key (both accepted besides PEM).
fn write_svid(dir: &Path, svid: &X509Svid) {
    let chain: Vec<u8> = svid.chain().iter().flat_map(|c| c.der().to_vec()).collect();
    std::fs::write(dir.join("svid.pem"), chain).unwrap();
    std::fs::write(dir.join("svid.key"), svid.private_key().secret_der()).unwrap();
}

/// A directory with an SVID of `example.org`, its bundle (PEM), and a federated `other.org`
/// bundle as a SPIFFE bundle document with X.509 and JWT authorities.
struct Files {
    dir: tempfile::TempDir,
    ca: Ca,
    other: Ca,
}

impl Files {
    fn new() -> Self {
        let files = Self {
            dir: tempfile::tempdir().unwrap(),
            ca: Ca::new("example.org"),
            other: Ca::new("other.org"),
        };
        write_svid(files.dir.path(), &files.ca.svid(EXAMPLE));
        std::fs::write(files.path("bundle.pem"), files.ca.x509_bundle().to_pem()).unwrap();
        let other = SpiffeBundle::from_parts(
            (*files.other.x509_bundle()).clone(),
            (*files.other.jwt_bundle()).clone(),
        )
        .unwrap();
        std::fs::write(files.path("other.json"), other.to_json()).unwrap();
        files
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self) -> FileIdentityConfig {
        FileIdentityConfig::new(
            self.path("svid.pem"),
            self.path("svid.key"),
            self.path("bundle.pem"),
        )
        .with_federated(
            TrustDomain::new("other.org").unwrap(),
            self.path("other.json"),
        )
    }

    /// The config with a JWT key file (a fresh P-256 PKCS#8 key) and its kid `k1`.
    fn config_with_jwt(&self) -> FileIdentityConfig {
        let key = SoftwareSigner::generate("jwt", KeyType::EcP256).unwrap();
        std::fs::write(self.path("jwt.key"), key.to_pkcs8().unwrap()).unwrap();
        self.config()
            .with_jwt_key(self.path("jwt.key"), load_jwt_key)
    }
}

/// The minter the CLI builds, in miniature: spiffe-ca's authority with kid `k1`.
struct Minter(JwtSvidIssuer);

impl JwtSvidMinter for Minter {
    fn jwt_authority(&self) -> JwtAuthority {
        self.0.jwt_authority()
    }

    fn mint(&self, spiffe_id: &SpiffeId, audience: &[String]) -> Result<String, BoxError> {
        let audience: Vec<&str> = audience.iter().map(String::as_str).collect();
        Ok(self.0.mint(
            spiffe_id,
            &audience,
            Duration::from_secs(300),
            &spiffe_core::json::JsonObject::new(),
            UnixTime::now(),
        )?)
    }
}

fn load_jwt_key(td: &TrustDomain, data: &[u8]) -> Result<Arc<dyn JwtSvidMinter>, BoxError> {
    let signer = Arc::new(SoftwareSigner::from_pkcs8("jwt", KeyType::EcP256, data)?);
    let not_after = common::at(UnixTime::now().as_secs() + common::DAY);
    let authority = JwtSvidIssuer::new(td, signer, not_after)?.with_kid("k1")?;
    Ok(Arc::new(Minter(authority)))
}

fn served_leaf(context: &spiffe_workload::X509Context) -> Vec<u8> {
    context.svids[0].svid.leaf().der().to_vec()
}

#[tokio::test]
async fn serves_svid_own_and_federated_bundles() {
    let files = Files::new();
    let provider = FileIdentityProvider::load(files.config_with_jwt()).unwrap();

    let context = provider.x509_context(&caller(1000)).await.unwrap();
    assert_eq!(context.svids.len(), 1);
    assert_eq!(context.svids[0].svid.spiffe_id().as_str(), EXAMPLE);
    // WAPI-13: the own bundle first, then the federated one.
    let tds: Vec<&str> = context
        .bundles
        .iter()
        .map(|b| b.trust_domain().as_str())
        .collect();
    assert_eq!(tds, ["example.org", "other.org"]);
    assert_eq!(
        context.bundles[0].authorities()[0].der(),
        files.ca.x509.trust_anchor().der()
    );
    assert_eq!(
        context.bundles[1].authorities()[0].der(),
        files.other.x509.trust_anchor().der()
    );

    // JWT bundles: the JWT key's public key for example.org, other.org's from its document.
    let jwt = provider.jwt_bundles(&caller(1000)).await.unwrap();
    assert_eq!(jwt.len(), 2);
    assert!(jwt[0].get("k1").is_some());
    assert_eq!(jwt[1].trust_domain().as_str(), "other.org");
    assert!(jwt[1].get(files.other.jwt.kid()).is_some());
}

#[tokio::test]
async fn mints_jwt_svids_that_validate_against_its_bundle() {
    let files = Files::new();
    let provider = FileIdentityProvider::load(files.config_with_jwt()).unwrap();
    let audience = vec!["api".to_owned()];

    let svids = provider
        .jwt_svids(&caller(1), &audience, None)
        .await
        .unwrap();
    assert_eq!(svids.len(), 1);
    assert_eq!(svids[0].spiffe_id.as_str(), EXAMPLE);
    // WAPI-22: the default validation uses the provider's own JWT bundles.
    let validated = provider
        .validate_jwt_svid(&caller(1), "api", &svids[0].token)
        .await
        .unwrap();
    assert_eq!(validated.spiffe_id().as_str(), EXAMPLE);
    assert!(provider
        .validate_jwt_svid(&caller(1), "other", &svids[0].token)
        .await
        .is_err());

    // The SVID's own ID may be asked for; any other is refused (WAPI-20).
    let own = id(EXAMPLE);
    assert_eq!(
        provider
            .jwt_svids(&caller(1), &audience, Some(&own))
            .await
            .unwrap()
            .len(),
        1
    );
    let other = id("spiffe://example.org/else");
    assert!(matches!(
        provider.jwt_svids(&caller(1), &audience, Some(&other)).await,
        Err(ProviderError::NotEntitled { spiffe_id }) if spiffe_id == other
    ));
}

#[tokio::test]
async fn without_jwt_key_no_jwt_svids() {
    let files = Files::new();
    let provider = FileIdentityProvider::load(files.config()).unwrap();
    assert!(matches!(
        provider
            .jwt_svids(&caller(1), &["api".to_owned()], None)
            .await,
        Err(ProviderError::NoIdentity)
    ));
    // Only other.org's document carries JWT authorities.
    let jwt = provider.jwt_bundles(&caller(1)).await.unwrap();
    assert_eq!(jwt.len(), 1);
    assert_eq!(jwt[0].trust_domain().as_str(), "other.org");

    // With no JWT authority anywhere, FetchJWTBundles has nothing to send (WAPI-21).
    let bare = FileIdentityConfig::new(
        files.path("svid.pem"),
        files.path("svid.key"),
        files.path("bundle.pem"),
    );
    let provider = FileIdentityProvider::load(bare).unwrap();
    assert!(matches!(
        provider.jwt_bundles(&caller(1)).await,
        Err(ProviderError::NoIdentity)
    ));
}

#[tokio::test]
async fn uid_filter_denies_other_callers() {
    let files = Files::new();
    let provider =
        FileIdentityProvider::load(files.config_with_jwt().with_allowed_uids([1000])).unwrap();
    assert!(provider.x509_context(&caller(1000)).await.is_ok());
    assert!(matches!(
        provider.x509_context(&caller(1001)).await,
        Err(ProviderError::NoIdentity)
    ));
    assert!(matches!(
        provider.jwt_bundles(&caller(0)).await,
        Err(ProviderError::NoIdentity)
    ));
    assert!(matches!(
        provider
            .jwt_svids(&caller(0), &["a".to_owned()], None)
            .await,
        Err(ProviderError::NoIdentity)
    ));
}

#[tokio::test]
async fn reload_serves_new_files_and_notifies() {
    let files = Files::new();
    let provider = FileIdentityProvider::load(files.config()).unwrap();
    let mut changes = provider.changes();
    changes.mark_unchanged();
    assert_eq!(provider.reload().unwrap(), ReloadOutcome::Unchanged);
    assert!(!changes.has_changed().unwrap());

    let old = served_leaf(&provider.x509_context(&caller(1)).await.unwrap());
    let fresh = files.ca.svid("spiffe://example.org/renewed");
    write_svid(files.dir.path(), &fresh);
    assert_eq!(provider.reload().unwrap(), ReloadOutcome::Changed);
    assert!(changes.has_changed().unwrap());
    let served = provider.x509_context(&caller(1)).await.unwrap();
    assert_ne!(served_leaf(&served), old);
    assert_eq!(served_leaf(&served), fresh.leaf().der().to_vec());
    assert_eq!(
        provider.x509_svid().spiffe_id().as_str(),
        "spiffe://example.org/renewed"
    );
}

#[tokio::test]
async fn bad_reload_keeps_serving_the_previous_material() {
    let files = Files::new();
    let provider = FileIdentityProvider::load(files.config_with_jwt()).unwrap();
    let good = served_leaf(&provider.x509_context(&caller(1)).await.unwrap());
    let mut changes = provider.changes();
    changes.mark_unchanged();

    // WAPI-13: a key that is not the leaf's (the chain of one SVID, the key of another).
    let second = files.ca.svid(EXAMPLE);
    let key = std::fs::read(files.path("svid.key")).unwrap();
    write_svid(files.dir.path(), &second);
    std::fs::write(files.path("svid.key"), &key).unwrap();
    assert!(matches!(
        provider.reload(),
        Err(FileProviderError::Svid {
            source: X509Error::KeyMismatch,
            ..
        })
    ));

    // A bundle that is neither PEM nor JSON; a JWT key the loader refuses; a missing file.
    write_svid(files.dir.path(), &second);
    std::fs::write(files.path("bundle.pem"), b"not a bundle").unwrap();
    let error = provider.reload().unwrap_err();
    assert!(
        matches!(error, FileProviderError::Bundle { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("bundle.pem"), "{error}");
    std::fs::write(files.path("bundle.pem"), files.ca.x509_bundle().to_pem()).unwrap();
    let jwt_key = std::fs::read(files.path("jwt.key")).unwrap();
    std::fs::write(files.path("jwt.key"), b"garbage").unwrap();
    assert!(matches!(
        provider.reload(),
        Err(FileProviderError::JwtKey { .. })
    ));
    std::fs::write(files.path("jwt.key"), &jwt_key).unwrap();
    std::fs::remove_file(files.path("other.json")).unwrap();
    assert!(matches!(
        provider.reload(),
        Err(FileProviderError::Read { .. })
    ));

    // Nothing of the refused input was served, and nobody was told of a change.
    assert!(!changes.has_changed().unwrap());
    assert_eq!(
        served_leaf(&provider.x509_context(&caller(1)).await.unwrap()),
        good
    );
    assert!(provider
        .jwt_svids(&caller(1), &["a".to_owned()], None)
        .await
        .is_ok());

    // Once the files are whole again, the new SVID is served.
    let other = SpiffeBundle::from_parts(
        (*files.other.x509_bundle()).clone(),
        (*files.other.jwt_bundle()).clone(),
    )
    .unwrap();
    std::fs::write(files.path("other.json"), other.to_json()).unwrap();
    assert_eq!(provider.reload().unwrap(), ReloadOutcome::Changed);
    assert_eq!(
        served_leaf(&provider.x509_context(&caller(1)).await.unwrap()),
        second.leaf().der().to_vec()
    );
}

#[test]
fn load_refuses_bad_or_duplicate_input() {
    let files = Files::new();
    // A federated trust domain equal to the SVID's own.
    let config = files.config().with_federated(
        TrustDomain::new("example.org").unwrap(),
        files.path("bundle.pem"),
    );
    assert!(matches!(
        FileIdentityProvider::load(config),
        Err(FileProviderError::DuplicateTrustDomain { trust_domain })
            if trust_domain.as_str() == "example.org"
    ));
    // A missing file is named.
    let config = FileIdentityConfig::new(
        files.path("svid.pem"),
        files.path("missing.key"),
        files.path("bundle.pem"),
    );
    let error = FileIdentityProvider::load(config).unwrap_err();
    assert!(error.to_string().contains("missing.key"), "{error}");
    // An empty bundle file.
    std::fs::write(files.path("empty.pem"), b"").unwrap();
    let config = FileIdentityConfig::new(
        files.path("svid.pem"),
        files.path("svid.key"),
        files.path("empty.pem"),
    );
    assert!(matches!(
        FileIdentityProvider::load(config),
        Err(FileProviderError::Bundle { .. })
    ));
}

#[tokio::test]
async fn watch_files_picks_up_changes_and_reports_refusals_once() {
    let files = Files::new();
    let provider = Arc::new(FileIdentityProvider::load(files.config()).unwrap());
    let reports: Arc<Mutex<Vec<Result<(), String>>>> = Arc::default();
    let (report_tx, mut report_rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = {
        let provider = provider.clone();
        let reports = reports.clone();
        tokio::spawn(async move {
            provider
                .watch_files(Duration::from_millis(20), move |result| {
                    let result = result.map_err(|e| e.to_string());
                    reports.lock().unwrap().push(result.clone());
                    let _ = report_tx.send(result);
                })
                .await;
        })
    };
    let mut changes = provider.changes();
    changes.mark_unchanged();
    let fresh = files.ca.svid(EXAMPLE);
    write_svid(files.dir.path(), &fresh);
    assert_eq!(next_report(&mut report_rx).await, Ok(()));
    assert!(changes.has_changed().unwrap());
    assert_eq!(
        provider.x509_svid().leaf().der(),
        fresh.leaf().der(),
        "the new SVID is served"
    );

    std::fs::write(files.path("bundle.pem"), b"garbage").unwrap();
    let refused = next_report(&mut report_rx).await.unwrap_err();
    assert!(refused.contains("bundle.pem"), "{refused}");
    std::fs::write(files.path("bundle.pem"), files.ca.x509_bundle().to_pem()).unwrap();
    // Restoring the served content is no change; a new SVID is.
    let newer = files.ca.svid(EXAMPLE);
    write_svid(files.dir.path(), &newer);
    assert_eq!(next_report(&mut report_rx).await, Ok(()));
    assert_eq!(provider.x509_svid().leaf().der(), newer.leaf().der());
    watcher.abort();

    // The garbage bundle was reported once, however many polls saw it.
    let refusals = reports
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.is_err())
        .count();
    assert_eq!(refusals, 1);
}

async fn next_report(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Result<(), String>>,
) -> Result<(), String> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a report within 10 s")
        .expect("watcher alive")
}
