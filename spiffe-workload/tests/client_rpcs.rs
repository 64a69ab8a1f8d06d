//! Our client against our server over a temp Unix socket: every RPC and the §4.5 behaviours.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{id, Ca, Material, Running, StaticProvider};
use spiffe_core::{JwtBundleSource, TrustDomain, X509BundleSource};
use spiffe_workload::{BackoffConfig, ClientError, WorkloadApiClient};
use spiffe_workload::{EndpointAddress, X509Context, X509SvidEntry};

fn example() -> (Ca, Ca, std::sync::Arc<StaticProvider>) {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    (ca, other, provider)
}

fn td(name: &str) -> TrustDomain {
    TrustDomain::new(name).unwrap()
}

async fn client(server: &Running) -> WorkloadApiClient {
    let address = EndpointAddress::parse(&server.endpoint()).unwrap();
    WorkloadApiClient::connect(&address)
        .await
        .unwrap()
        .with_backoff(BackoffConfig::new(
            Duration::from_millis(10),
            Duration::from_millis(100),
        ))
}

#[tokio::test]
async fn fetch_x509_context_svids_hints_and_bundles() {
    let (ca, other, provider) = example();
    let server = Running::start(provider.clone());
    let client = client(&server).await;

    let context = client.fetch_x509_context().await.unwrap();
    assert_eq!(context.svids.len(), 1);
    let expected = &provider.x509().svids[0].svid;
    assert_eq!(
        context.svids[0].svid.spiffe_id().as_str(),
        "spiffe://example.org/workload"
    );
    assert_eq!(context.svids[0].svid.leaf().der(), expected.leaf().der());
    assert_eq!(context.svids[0].svid.private_key(), expected.private_key());
    assert_eq!(context.svids[0].hint, "main");
    // Own bundle first, then the federated one (WAPI-13, federated_bundles).
    let names: Vec<_> = context
        .bundles
        .iter()
        .map(|b| b.trust_domain().as_str().to_owned())
        .collect();
    assert_eq!(names, ["example.org", "other.org"]);
    assert_eq!(
        context.bundles[0].authorities()[0].der(),
        ca.x509.trust_anchor().der()
    );
    assert_eq!(
        context.bundles[1].authorities()[0].der(),
        other.x509.trust_anchor().der()
    );

    let svids = client.fetch_x509_svids().await.unwrap();
    assert_eq!(svids.len(), 1);
    let default = client.fetch_x509_svid().await.unwrap();
    assert_eq!(default.leaf().der(), expected.leaf().der());
    server.shutdown().await;
}

#[tokio::test]
async fn multiple_svids_keep_order_and_hints() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::new(Material {
        x509: X509Context {
            svids: vec![
                X509SvidEntry::new(ca.svid("spiffe://example.org/db")).with_hint("db"),
                X509SvidEntry::new(other.svid("spiffe://other.org/web")).with_hint("web"),
                X509SvidEntry::new(ca.svid("spiffe://example.org/plain")),
            ],
            bundles: vec![ca.x509_bundle(), other.x509_bundle()],
        },
        ..Material::default()
    });
    let server = Running::start(provider);
    let client = client(&server).await;
    let context = client.fetch_x509_context().await.unwrap();
    let got: Vec<_> = context
        .svids
        .iter()
        .map(|e| (e.svid.spiffe_id().as_str().to_owned(), e.hint.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("spiffe://example.org/db".to_owned(), "db".to_owned()),
            ("spiffe://other.org/web".to_owned(), "web".to_owned()),
            ("spiffe://example.org/plain".to_owned(), String::new()),
        ]
    );
    // Both trust domains are own (each SVID's `bundle`), no federated duplicates.
    assert_eq!(context.bundles.len(), 2);
    // WAPI-24: the default is the first.
    assert_eq!(
        client.fetch_x509_svid().await.unwrap().spiffe_id().as_str(),
        "spiffe://example.org/db"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn fetch_x509_and_jwt_bundles() {
    let (ca, other, provider) = example();
    let server = Running::start(provider);
    let client = client(&server).await;

    let x509 = client.fetch_x509_bundles().await.unwrap();
    assert_eq!(x509.len(), 2);
    let own = x509.x509_bundle_for(&td("example.org")).unwrap();
    assert_eq!(own.authorities()[0].der(), ca.x509.trust_anchor().der());
    assert!(x509.x509_bundle_for(&td("other.org")).is_some());
    // WAPI-17: X.509 bundles are not JWT bundles.
    assert!(x509.jwt_bundle_for(&td("example.org")).is_none());

    let jwt = client.fetch_jwt_bundles().await.unwrap();
    assert_eq!(jwt.len(), 2);
    let own = jwt.jwt_bundle_for(&td("example.org")).unwrap();
    assert!(own.get(ca.jwt.kid()).is_some());
    let fed = jwt.jwt_bundle_for(&td("other.org")).unwrap();
    assert!(fed.get(other.jwt.kid()).is_some());
    assert!(jwt.x509_bundle_for(&td("example.org")).is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn fetch_and_validate_jwt_svids() {
    let (_ca, _other, provider) = example();
    let server = Running::start(provider);
    let client = client(&server).await;
    // WAPI-1: the same endpoint serves both profiles, X.509 and JWT; WEP-2: over gRPC.
    assert!(!client.fetch_x509_svids().await.unwrap().is_empty());

    let svids = client.fetch_jwt_svids(&["api", "db"], None).await.unwrap();
    assert_eq!(svids.len(), 1);
    assert_eq!(svids[0].spiffe_id, id("spiffe://example.org/workload"));
    let wanted = id("spiffe://example.org/workload");
    let chosen = client
        .fetch_jwt_svids(&["api"], Some(&wanted))
        .await
        .unwrap();
    assert_eq!(chosen[0].spiffe_id, wanted);

    // WAPI-22: validation through the API returns the claims.
    let validated = client
        .validate_jwt_svid(&svids[0].token, "db")
        .await
        .unwrap();
    assert_eq!(validated.spiffe_id, wanted);
    assert_eq!(
        validated.claims.get_str("sub"),
        Some("spiffe://example.org/workload")
    );
    assert_eq!(validated.claims.get_strs("aud"), Some(vec!["api", "db"]));
    assert!(validated.claims.get_u64("exp").is_some());

    // A token for other audiences fails with INVALID_ARGUMENT, never echoing the token.
    let err = client
        .validate_jwt_svid(&svids[0].token, "elsewhere")
        .await
        .expect_err("wrong audience");
    assert!(
        matches!(err, ClientError::InvalidArgument { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(!format!("{err} {err:?}").contains(&svids[0].token));
    // Garbage is rejected the same way.
    let err = client
        .validate_jwt_svid("a.b.c", "db")
        .await
        .expect_err("garbage");
    assert!(matches!(err, ClientError::InvalidArgument { .. }));
    // WAPI-22, case 129: empty fields.
    let err = client.validate_jwt_svid("", "db").await.expect_err("empty");
    assert!(matches!(err, ClientError::InvalidArgument { .. }));
    server.shutdown().await;
}

#[tokio::test]
async fn jwt_error_codes() {
    let (_ca, _other, provider) = example();
    let server = Running::start(provider);
    let client = client(&server).await;
    // WAPI-10/19, case 126: empty audience.
    let err = client.fetch_jwt_svids(&[], None).await.expect_err("empty");
    assert!(
        matches!(err, ClientError::InvalidArgument { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    // WAPI-20, case 127: an identity the caller does not hold.
    let err = client
        .fetch_jwt_svids(&["a"], Some(&id("spiffe://example.org/other")))
        .await
        .expect_err("not entitled");
    assert!(err.is_permission_denied(), "{err:?}");
    assert!(err.is_retryable());
    server.shutdown().await;
}

#[tokio::test]
async fn two_identities_give_two_jwt_svids() {
    let (ca, other, provider) = example();
    provider.update(|m| {
        m.jwt_ids.push(id("spiffe://example.org/second"));
    });
    let _ = (&ca, &other);
    let server = Running::start(provider);
    let client = client(&server).await;
    // WAPI-19, case 128.
    let svids = client.fetch_jwt_svids(&["a"], None).await.unwrap();
    let ids: Vec<_> = svids.iter().map(|s| s.spiffe_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "spiffe://example.org/workload",
            "spiffe://example.org/second"
        ]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn no_identity_is_permission_denied_everywhere() {
    let provider = StaticProvider::new(Material::default());
    let server = Running::start(provider);
    let client = client(&server).await;
    // WAPI-16, WAPI-18, WAPI-20, WAPI-21, case 124.
    let errors = [
        client.fetch_x509_context().await.map(|_| ()),
        client.fetch_x509_bundles().await.map(|_| ()),
        client.fetch_jwt_svids(&["a"], None).await.map(|_| ()),
        client.fetch_jwt_bundles().await.map(|_| ()),
    ];
    for result in errors {
        let err = result.expect_err("no identity");
        assert!(err.is_permission_denied(), "{err:?}");
        assert!(err.is_retryable());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn permission_denied_stream_is_retried_until_an_identity_appears() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::new(Material::default());
    let server = Running::start(provider.clone());
    let client = client(&server).await;
    let mut watch = client.watch_x509_context();
    // WEP-15: the client backs off and retries; each failure is reported.
    for _ in 0..2 {
        let err = next(&mut watch).await.expect_err("denied");
        assert!(err.is_permission_denied(), "{err:?}");
    }
    provider.replace(Material {
        x509: X509Context {
            svids: vec![X509SvidEntry::new(ca.svid("spiffe://example.org/late"))],
            bundles: vec![ca.x509_bundle(), other.x509_bundle()],
        },
        ..Material::default()
    });
    let context = loop {
        match next(&mut watch).await {
            Ok(context) => break context,
            Err(err) => assert!(err.is_permission_denied(), "{err:?}"),
        }
    };
    assert_eq!(
        context.svids[0].svid.spiffe_id().as_str(),
        "spiffe://example.org/late"
    );
    drop(watch);
    server.shutdown().await;
}

#[tokio::test]
async fn watch_streams_deliver_every_rotation() {
    let (ca, other, provider) = example();
    let server = Running::start(provider.clone());
    let client = client(&server).await;
    let mut x509 = client.watch_x509_context();
    let mut x509_bundles = client.watch_x509_bundles();
    let mut jwt_bundles = client.watch_jwt_bundles();
    // WAPI-7: the first message comes at once.
    let first = next(&mut x509).await.unwrap();
    assert_eq!(next(&mut x509_bundles).await.unwrap().len(), 2);
    assert_eq!(next(&mut jwt_bundles).await.unwrap().len(), 2);
    let mut previous = first.svids[0].svid.leaf().der().clone();
    for round in 0..5 {
        let path = format!("spiffe://example.org/round{round}");
        provider.update(|m| {
            m.x509.svids = vec![X509SvidEntry::new(ca.svid(&path))];
        });
        let update = next(&mut x509).await.unwrap();
        assert_eq!(update.svids[0].svid.spiffe_id().as_str(), path);
        assert_ne!(update.svids[0].svid.leaf().der(), &previous);
        previous = update.svids[0].svid.leaf().der().clone();
    }
    // WAPI-9, case 132: a federated bundle dropped from the message is dropped by the client.
    provider.update(|m| {
        m.x509.bundles = vec![ca.x509_bundle()];
        m.jwt_bundles = vec![ca.jwt_bundle()];
    });
    let update = next(&mut x509).await.unwrap();
    assert_eq!(update.bundles.len(), 1);
    let bundles = loop {
        let set = next(&mut x509_bundles).await.unwrap();
        if set.len() == 1 {
            break set;
        }
    };
    assert!(bundles.x509_bundle_for(&td("other.org")).is_none());
    let jwt = loop {
        let set = next(&mut jwt_bundles).await.unwrap();
        if set.len() == 1 {
            break set;
        }
    };
    assert!(jwt.jwt_bundle_for(&td("other.org")).is_none());
    let _ = other;
    server.shutdown().await;
}

#[tokio::test]
async fn connect_errors_say_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    // No socket file: named by path, retryable (an agent may still come up).
    let path = dir.path().join("nothing.sock");
    let missing = EndpointAddress::Unix(path.clone());
    let err = WorkloadApiClient::connect(&missing)
        .await
        .expect_err("no socket");
    assert!(
        matches!(&err, ClientError::SocketNotFound { path: p } if *p == path),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    // A socket file nobody listens on: the address in the message, the cause in `source()`.
    let stale = EndpointAddress::Unix(dir.path().join("stale.sock"));
    drop(std::os::unix::net::UnixListener::bind(stale.unix_path().unwrap()).unwrap());
    let err = WorkloadApiClient::connect(&stale)
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(&err, ClientError::Connect { address, .. } if *address == stale),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("cannot reach the Workload API at {stale}")
    );
    let cause = std::error::Error::source(&err)
        .expect("a cause")
        .to_string();
    assert!(!err.to_string().contains(&cause), "{err} / {cause}");
    assert!(err.is_retryable());

    // A lazy client fails on use, not on creation.
    let lazy = WorkloadApiClient::connect_lazy(&missing).unwrap();
    assert_eq!(lazy.address(), Some(&missing));
    let err = lazy
        .fetch_x509_context()
        .await
        .expect_err("nothing listens");
    assert!(err.is_retryable(), "{err:?}");
}

/// The next watch item within 5 s.
async fn next<T>(watch: &mut spiffe_workload::Watch<T>) -> Result<T, ClientError> {
    tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("an update within 5 s")
        .expect("watch open")
}
