//! The rotating sources against our server: first update, rotation within one push, hint and
//! picker choice, redaction (WAPI-16), bundle separation (WAPI-17), JWT caching.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{id, Ca, Material, Running, StaticProvider};
use spiffe_core::{JwtBundleSource, JwtSvid, TrustDomain, X509BundleSource, X509SvidSource};
use spiffe_workload::{BackoffConfig, ClientError, WorkloadApiClient};
use spiffe_workload::{BundleSource, JwtSource, SourceError, X509Source};
use spiffe_workload::{EndpointAddress, X509Context, X509SvidEntry};
use tokio::sync::watch;

fn td(name: &str) -> TrustDomain {
    TrustDomain::new(name).unwrap()
}

fn fast() -> BackoffConfig {
    BackoffConfig::new(Duration::from_millis(10), Duration::from_millis(100))
}

async fn client(server: &Running) -> WorkloadApiClient {
    let address = EndpointAddress::parse(&server.endpoint()).unwrap();
    WorkloadApiClient::connect(&address)
        .await
        .unwrap()
        .with_backoff(fast())
}

/// Waits (at most 5 s) for the next change and returns the new value.
async fn changed<T: Clone>(updates: &mut watch::Receiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), updates.changed())
        .await
        .expect("an update within 5 s")
        .expect("source open");
    updates.borrow_and_update().clone()
}

#[tokio::test]
async fn x509_source_sees_each_rotation_within_one_push_on_one_stream() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = Running::start(provider.clone());
    let source = X509Source::new(client(&server).await).await.unwrap();

    let held = source.x509_svid().unwrap();
    assert_eq!(
        held.leaf().der(),
        provider.x509().svids[0].svid.leaf().der()
    );
    let mut updates = source.subscribe();
    let rounds = 20;
    for round in 0..rounds {
        let fresh = ca.svid(&format!("spiffe://example.org/r{round}"));
        let leaf = fresh.leaf().der().clone();
        provider.update(|m| m.x509.svids = vec![X509SvidEntry::new(fresh)]);
        // One push, one update, and the source already serves it.
        let context = changed(&mut updates).await;
        assert_eq!(context.svids[0].svid.leaf().der(), &leaf);
        assert_eq!(source.x509_svid().unwrap().leaf().der(), &leaf);
    }
    // The stream stayed open: one provider query per push plus the first, no re-open.
    assert_eq!(provider.callers.lock().unwrap().len(), rounds + 1);
    assert!(!source.is_closed());

    // Bundles: exactly the asked trust domain (WAPI-11); a dropped federated bundle goes
    // (WAPI-9, case 132).
    assert!(source.x509_bundle_for(&td("other.org")).is_some());
    provider.update(|m| m.x509.bundles = vec![ca.x509_bundle()]);
    let context = changed(&mut updates).await;
    assert_eq!(context.bundles.len(), 1);
    assert!(source.x509_bundle_for(&td("other.org")).is_none());
    assert_eq!(
        source
            .x509_bundle_for(&td("example.org"))
            .unwrap()
            .authorities()[0]
            .der(),
        ca.x509.trust_anchor().der()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn x509_source_picks_by_hint_or_picker() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::new(Material {
        x509: X509Context {
            svids: vec![
                X509SvidEntry::new(ca.svid("spiffe://example.org/a")).with_hint("a"),
                X509SvidEntry::new(ca.svid("spiffe://example.org/b")).with_hint("b"),
                X509SvidEntry::new(other.svid("spiffe://other.org/c")),
            ],
            bundles: vec![ca.x509_bundle(), other.x509_bundle()],
        },
        ..Material::default()
    });
    let server = Running::start(provider.clone());
    let client = client(&server).await;

    let default = X509Source::new(client.clone()).await.unwrap();
    assert_eq!(
        default.x509_svid().unwrap().spiffe_id().as_str(),
        "spiffe://example.org/a"
    );
    assert_eq!(
        default.svid_by_hint("b").unwrap().spiffe_id().as_str(),
        "spiffe://example.org/b"
    );
    assert!(default.svid_by_hint("zzz").is_none());

    let by_hint = X509Source::builder()
        .with_client(client.clone())
        .with_hint("b")
        .build()
        .await
        .unwrap();
    assert_eq!(
        by_hint.x509_svid().unwrap().spiffe_id().as_str(),
        "spiffe://example.org/b"
    );

    let picked = X509Source::builder()
        .with_client(client.clone())
        .with_picker(|svids| {
            svids
                .iter()
                .position(|e| e.svid.spiffe_id().trust_domain_name() == "other.org")
        })
        .build()
        .await
        .unwrap();
    assert_eq!(
        picked.x509_svid().unwrap().spiffe_id().as_str(),
        "spiffe://other.org/c"
    );

    // When the hinted SVID goes away, the hint source hands out nothing (fail closed).
    let mut updates = by_hint.subscribe();
    provider.update(|m| m.x509.svids.truncate(1));
    changed(&mut updates).await;
    assert!(by_hint.x509_svid().is_none());
    assert!(default.x509_svid().is_some());
    drop((default, by_hint, picked));
    server.shutdown().await;
}

#[tokio::test]
async fn x509_source_drops_redacted_svids_and_recovers() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = Running::start(provider.clone());
    let source = X509Source::new(client(&server).await).await.unwrap();
    let mut updates = source.subscribe();
    let saved = provider.x509();

    // WAPI-16: the stream ends with PERMISSION_DENIED; the SVIDs must no longer be used.
    provider.update(|m| m.x509 = X509Context::default());
    let context = changed(&mut updates).await;
    assert!(context.svids.is_empty());
    assert!(source.x509_svid().is_none());
    assert!(source.x509_bundle_for(&td("example.org")).is_none());

    // WEP-15: retried with backoff; the identity comes back without the caller acting.
    provider.update(|m| m.x509 = saved.clone());
    let context = changed(&mut updates).await;
    assert_eq!(context.svids.len(), 1);
    assert_eq!(
        source.x509_svid().unwrap().leaf().der(),
        saved.svids[0].svid.leaf().der()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn source_waits_for_an_identity_then_times_out() {
    let provider = StaticProvider::new(Material::default());
    let server = Running::start(provider);
    let err = X509Source::builder()
        .with_client(client(&server).await)
        .with_timeout(Some(Duration::from_secs(1)))
        .build()
        .await
        .expect_err("no identity");
    let SourceError::Timeout {
        timeout,
        last_error,
        ..
    } = err
    else {
        panic!("timeout expected: {err:?}");
    };
    assert_eq!(timeout, Duration::from_secs(1));
    assert!(last_error.unwrap().is_permission_denied());
    server.shutdown().await;

    // No socket at the path: fails at once, naming the path, instead of waiting.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.sock");
    let lazy = || {
        WorkloadApiClient::connect_lazy(&EndpointAddress::Unix(missing.clone()))
            .unwrap()
            .with_backoff(fast())
    };
    let started = std::time::Instant::now();
    let err = BundleSource::builder()
        .with_client(lazy())
        .build()
        .await
        .expect_err("no socket");
    assert!(started.elapsed() < Duration::from_secs(5), "failed fast");
    assert!(
        matches!(&err, SourceError::Client(ClientError::SocketNotFound { path }) if *path == missing),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("Workload API socket {} does not exist", missing.display())
    );

    // Told to wait for the socket: retried (WEP-14) until the timeout, which names the
    // endpoint; the last failure is the source.
    let err = BundleSource::builder()
        .with_client(lazy())
        .wait_for_socket()
        .with_timeout(Some(Duration::from_millis(500)))
        .build()
        .await
        .expect_err("nothing listens");
    let SourceError::Timeout {
        endpoint: Some(EndpointAddress::Unix(path)),
        last_error: Some(_),
        ..
    } = &err
    else {
        panic!("timeout expected: {err:?}");
    };
    assert_eq!(*path, missing);
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());

    // A stale socket file where nobody listens: retried too.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let err = X509Source::builder()
        .with_client(
            WorkloadApiClient::connect_lazy(&EndpointAddress::Unix(stale))
                .unwrap()
                .with_backoff(fast()),
        )
        .with_timeout(Some(Duration::from_millis(300)))
        .build()
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, SourceError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn x509_source_comes_up_when_the_identity_arrives() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::new(Material::default());
    let server = Running::start(provider.clone());
    let client = client(&server).await;
    let building = tokio::spawn(X509Source::new(client));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!building.is_finished());
    let ready = StaticProvider::example(&ca, &other);
    provider.replace(Material {
        x509: ready.x509(),
        ..Material::default()
    });
    let source = tokio::time::timeout(Duration::from_secs(5), building)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        source.x509_svid().unwrap().spiffe_id().as_str(),
        "spiffe://example.org/workload"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn jwt_source_caches_tokens_and_follows_bundles() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = Running::start(provider.clone());
    let source = JwtSource::new(client(&server).await).await.unwrap();

    let first = source.fetch_jwt_svid(&["api"]).await.unwrap();
    assert_eq!(first.spiffe_id(), &id("spiffe://example.org/workload"));
    assert_eq!(first.audience(), ["api"]);
    // Cached until half-life: the same token again, also for the same set in another order.
    let again = source.fetch_jwt_svid(&["api"]).await.unwrap();
    assert_eq!(again.token(), first.token());
    let both = source.fetch_jwt_svids(&["b", "a"], None).await.unwrap();
    let same = source
        .fetch_jwt_svids(&["a", "b", "a"], None)
        .await
        .unwrap();
    assert_eq!(both[0].token, same[0].token);
    assert_ne!(both[0].token, first.token());

    // The token verifies against the source's JWT bundles: the bundle of the token's own
    // trust domain (JWT-20, WAPI-23).
    let svid = JwtSvid::validate_now(first.token(), &source, &["api"]).unwrap();
    assert_eq!(svid.spiffe_id(), first.spiffe_id());
    assert!(source.jwt_bundle_for(&td("other.org")).is_some());

    // Errors are not cached; WAPI-20 not-entitled is PERMISSION_DENIED.
    let err = source
        .fetch_jwt_svids(&["api"], Some(&id("spiffe://example.org/nope")))
        .await
        .expect_err("not entitled");
    assert!(err.is_permission_denied());
    let err = source.fetch_jwt_svid(&[]).await.expect_err("no audience");
    assert!(matches!(err, ClientError::InvalidArgument { .. }));

    // Bundle rotation: a federated bundle dropped.
    let mut updates = source.subscribe();
    provider.update(|m| m.jwt_bundles = vec![ca.jwt_bundle()]);
    let set = changed(&mut updates).await;
    assert_eq!(set.len(), 1);
    assert!(source.jwt_bundle_for(&td("other.org")).is_none());
    assert_eq!(source.bundles().len(), 1);

    source.close();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !source.is_closed() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    // Closing ends the updates.
    assert!(updates.changed().await.is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn bundle_source_keeps_x509_and_jwt_apart() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = Running::start(provider.clone());
    let source = BundleSource::new(client(&server).await).await.unwrap();
    let set = source.bundles();
    assert_eq!(set.len(), 2);
    let x509 = source.x509_bundle_for(&td("example.org")).unwrap();
    assert_eq!(x509.authorities()[0].der(), ca.x509.trust_anchor().der());
    let jwt = source.jwt_bundle_for(&td("other.org")).unwrap();
    assert!(jwt.get(other.jwt.kid()).is_some());

    // An X.509-only change reaches the set; the JWT half stays (WAPI-17).
    let mut updates = source.subscribe();
    let third = Ca::new("third.org");
    provider.update(|m| m.x509.bundles.push(third.x509_bundle()));
    let set = changed(&mut updates).await;
    assert_eq!(set.len(), 3);
    assert!(source.x509_bundle_for(&td("third.org")).is_some());
    assert!(source.jwt_bundle_for(&td("third.org")).is_none());
    assert!(source.jwt_bundle_for(&td("other.org")).is_some());
    drop(source);
    // Dropping the last clone stops the task and the updates.
    tokio::time::timeout(Duration::from_secs(5), updates.changed())
        .await
        .unwrap()
        .expect_err("closed");
    server.shutdown().await;
}

#[tokio::test]
async fn clones_share_one_stream() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = Running::start(provider.clone());
    let source = X509Source::new(client(&server).await).await.unwrap();
    let clone = source.clone();
    let shared: Arc<dyn X509SvidSource + Send + Sync> = Arc::new(clone);
    let mut updates = source.subscribe();
    let fresh = ca.svid("spiffe://example.org/next");
    let leaf = fresh.leaf().der().clone();
    provider.update(|m| m.x509.svids = vec![X509SvidEntry::new(fresh)]);
    changed(&mut updates).await;
    assert_eq!(shared.x509_svid().unwrap().leaf().der(), &leaf);
    assert_eq!(provider.callers.lock().unwrap().len(), 2);
    server.shutdown().await;
}
