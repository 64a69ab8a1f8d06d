//! The `spiffe` crate (an independent implementation) as the client of our server.
#![allow(clippy::unwrap_used)]

mod common;

use common::{next, Ca, Running, StaticProvider};
use spiffe::{TrustDomain, WorkloadApiClient};

fn td(s: &str) -> TrustDomain {
    TrustDomain::new(s).unwrap()
}

#[tokio::test]
async fn x509_svid_context_and_bundles() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = Running::start(provider.clone());
    let client = WorkloadApiClient::connect_to(server.endpoint())
        .await
        .unwrap();

    // WAPI-13/14: DER chain leaf first, PKCS#8 key, hint.
    let svid = client.fetch_x509_svid().await.unwrap();
    assert_eq!(
        svid.spiffe_id().to_string(),
        "spiffe://example.org/workload"
    );
    assert_eq!(svid.hint(), Some("main"));
    let served = provider.x509().svids[0].svid.clone();
    assert_eq!(svid.leaf().as_bytes(), served.leaf().der().as_ref());
    let chain_len = svid.cert_chain().len();
    assert_eq!(chain_len, served.chain().len());

    let context = client.fetch_x509_context().await.unwrap();
    assert_eq!(context.svids().len(), 1);
    // WAPI-26: own and federated bundles keyed by trust domain.
    let bundles = context.bundle_set();
    assert_eq!(bundles.len(), 2);
    let own = bundles.get(&td("example.org")).unwrap();
    assert_eq!(
        own.authorities()[0].as_bytes(),
        ca.x509.trust_anchor().der().as_ref()
    );
    assert!(bundles.get(&td("other.org")).is_some());

    let bundles = client.fetch_x509_bundles().await.unwrap();
    assert_eq!(bundles.len(), 2);
    assert_eq!(
        bundles.get(&td("other.org")).unwrap().authorities()[0].as_bytes(),
        other.x509.trust_anchor().der().as_ref()
    );

    // The server saw the real peer credentials (SO_PEERCRED) of this process: callers are
    // identified out of band, never by anything they send (WEP-12).
    let callers = provider.callers.lock().unwrap().clone();
    assert!(!callers.is_empty());
    assert_eq!(callers[0].pid, Some(std::process::id() as i32));
    // ... and this process's start time, read at accept, for attestors' pid-reuse checks.
    let own_start = spiffe_attest::workload::unix::process_start_time(std::process::id() as i32);
    assert_eq!(callers[0].start_time, Some(own_start.unwrap()));
    server.shutdown().await;
}

#[tokio::test]
async fn jwt_svid_bundles_and_validate() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let server = Running::start(StaticProvider::example(&ca, &other));
    let client = WorkloadApiClient::connect_to(server.endpoint())
        .await
        .unwrap();

    let svid = client.fetch_jwt_svid(["service-a"], None).await.unwrap();
    assert_eq!(
        svid.spiffe_id().to_string(),
        "spiffe://example.org/workload"
    );
    assert_eq!(svid.audience(), ["service-a".to_string()]);

    let bundles = client.fetch_jwt_bundles().await.unwrap();
    assert_eq!(bundles.len(), 2);
    let own = bundles.get(&td("example.org")).unwrap();
    assert!(own.find_jwt_authority(ca.jwt.kid()).is_some());

    // WAPI-22: validated by the server, claims filled (the crate rejects an answer without).
    let validated = client
        .validate_jwt_token("service-a", svid.token())
        .await
        .unwrap();
    assert_eq!(
        validated.spiffe_id().to_string(),
        "spiffe://example.org/workload"
    );
    // The wrong audience is refused.
    assert!(client
        .validate_jwt_token("service-b", svid.token())
        .await
        .is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn x509_stream_receives_pushed_rotation() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = Running::start(provider.clone());
    let client = WorkloadApiClient::connect_to(server.endpoint())
        .await
        .unwrap();

    let mut stream = client.stream_x509_contexts().await.unwrap();
    // WAPI-7: the first message comes at once.
    let first = next(&mut stream).await.unwrap();
    assert_eq!(first.bundle_set().len(), 2);
    let first_leaf = first.svids()[0].leaf().as_bytes().to_vec();

    // Rotation, and the federated bundle dropped (WAPI-6/9: complete state each time).
    let rotated = ca.svid("spiffe://example.org/workload");
    provider.update(|m| {
        m.x509.svids = vec![spiffe_workload::X509SvidEntry::new(rotated.clone())];
        m.x509.bundles.truncate(1);
    });
    let second = next(&mut stream).await.unwrap();
    let second_leaf = second.svids()[0].leaf().as_bytes().to_vec();
    assert_ne!(first_leaf, second_leaf);
    assert_eq!(second_leaf, rotated.leaf().der().as_ref());
    assert_eq!(second.bundle_set().len(), 1);

    // Many rotations on the same stream.
    for _ in 0..5 {
        let next_svid = ca.svid("spiffe://example.org/workload");
        provider.update(|m| {
            m.x509.svids = vec![spiffe_workload::X509SvidEntry::new(next_svid.clone())]
        });
        let message = next(&mut stream).await.unwrap();
        assert_eq!(
            message.svids()[0].leaf().as_bytes(),
            next_svid.leaf().der().as_ref()
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn jwt_bundle_stream_receives_update() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let server = Running::start(provider.clone());
    let client = WorkloadApiClient::connect_to(server.endpoint())
        .await
        .unwrap();

    let mut stream = client.stream_jwt_bundles().await.unwrap();
    assert_eq!(next(&mut stream).await.unwrap().len(), 2);
    provider.update(|m| m.jwt_bundles.truncate(1));
    let updated = next(&mut stream).await.unwrap();
    assert_eq!(updated.len(), 1);
    assert!(updated.get(&td("other.org")).is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn every_svid_with_hints_and_the_remaining_streams() {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    let backup = ca.svid("spiffe://example.org/backup");
    provider.update(|m| {
        m.x509
            .svids
            .push(spiffe_workload::X509SvidEntry::new(backup.clone()).with_hint("backup"));
        m.jwt_ids.push(common::id("spiffe://example.org/backup"));
    });
    let server = Running::start(provider.clone());
    let client = WorkloadApiClient::connect_to(server.endpoint())
        .await
        .unwrap();

    // WAPI-14: every SVID, in order, each with its hint.
    let all = client.fetch_all_x509_svids().await.unwrap();
    let hints: Vec<_> = all.iter().map(|s| s.hint()).collect();
    assert_eq!(hints, [Some("main"), Some("backup")]);
    assert_eq!(all[1].leaf().as_bytes(), backup.leaf().der().as_ref());

    // JWT-SVIDs for every identity, or for the one asked for.
    let tokens = client.fetch_all_jwt_svids(["api"], None).await.unwrap();
    let ids: Vec<_> = tokens.iter().map(|t| t.spiffe_id().to_string()).collect();
    assert_eq!(
        ids,
        [
            "spiffe://example.org/workload",
            "spiffe://example.org/backup"
        ]
    );
    let wanted = spiffe::SpiffeId::new("spiffe://example.org/backup").unwrap();
    let one = client.fetch_jwt_svid(["api"], Some(&wanted)).await.unwrap();
    assert_eq!(one.spiffe_id(), &wanted);

    // The SVID stream (default SVID first) and the X.509 bundle stream follow a rotation.
    let mut svids = client.stream_x509_svids().await.unwrap();
    let mut bundles = client.stream_x509_bundles().await.unwrap();
    assert_eq!(next(&mut svids).await.unwrap().hint(), Some("main"));
    assert_eq!(next(&mut bundles).await.unwrap().len(), 2);
    let rotated = ca.svid("spiffe://example.org/workload");
    provider.update(|m| {
        m.x509.svids[0] = spiffe_workload::X509SvidEntry::new(rotated.clone()).with_hint("main");
        m.x509.bundles.truncate(1);
    });
    let svid = next(&mut svids).await.unwrap();
    assert_eq!(svid.leaf().as_bytes(), rotated.leaf().der().as_ref());
    let after = next(&mut bundles).await.unwrap();
    assert_eq!(after.len(), 1);
    assert!(after.get(&td("other.org")).is_none());
    server.shutdown().await;
}
