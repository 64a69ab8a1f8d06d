//! Rotation: the resolver presents the source's newest SVID on each new handshake, and
//! verifiers use the newest bundles.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use spiffe_tls::{mtls_client_config, mtls_server_config, peer_spiffe_id, Authorizer};

#[test]
fn new_handshake_presents_the_rotated_svid() {
    let ca = Ca::new("a.test");
    let first = ca.svid("spiffe://a.test/server");
    let source = RotatingSvid::new(first.clone());
    let server = mtls_server_config(
        provider(),
        source.clone(),
        bundles(&[&ca]),
        Authorizer::any(),
    )
    .unwrap();
    let client = mtls_client_config(
        provider(),
        ca.svid("spiffe://a.test/client"),
        bundles(&[&ca]),
        Authorizer::member_of(ca.authority.trust_domain().clone()),
    )
    .unwrap();

    let mut before = handshake(client.clone(), server.clone()).unwrap();
    let seen = before.client.peer_certificates().unwrap()[0].clone();
    assert_eq!(&seen, first.leaf().der());

    // Rotate to a new key and certificate (here also a new ID, to make it visible).
    let second = ca.svid("spiffe://a.test/server-v2");
    source.rotate(second.clone());

    let after = handshake(client, server).unwrap();
    // Resumption is off, so this is a full handshake that asked the resolver again.
    assert_eq!(
        after.client.handshake_kind(),
        Some(rustls::HandshakeKind::Full)
    );
    let seen = after.client.peer_certificates().unwrap()[0].clone();
    assert_eq!(&seen, second.leaf().der());
    assert_ne!(first.leaf().der(), second.leaf().der());
    assert_eq!(
        peer_spiffe_id(&after.client).unwrap().as_str(),
        "spiffe://a.test/server-v2"
    );
    // The connection opened before the rotation keeps working.
    assert_eq!(client_to_server(&mut before, b"still here"), b"still here");
}

#[test]
fn resolver_caches_the_key_per_svid() {
    let ca = Ca::new("a.test");
    let source = RotatingSvid::new(ca.svid("spiffe://a.test/s"));
    let resolver = spiffe_tls::SvidCertResolver::new(source.clone(), &provider());
    let a = resolver.current().unwrap();
    let b = resolver.current().unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&a, &b),
        "same SVID, same CertifiedKey"
    );
    source.rotate(ca.svid("spiffe://a.test/s"));
    let c = resolver.current().unwrap();
    assert!(
        !std::sync::Arc::ptr_eq(&a, &c),
        "rotated SVID, new CertifiedKey"
    );
    let _ = &resolver as &dyn rustls::server::ResolvesServerCert;
}

#[test]
fn verifier_uses_the_newest_bundles() {
    use spiffe_core::{BundleSet, TrustDomain, X509Bundle, X509BundleSource};
    use std::sync::{Arc, RwLock};

    /// A bundle source the test swaps, as a Workload API client does on a bundle update.
    struct Swap(RwLock<Arc<BundleSet>>);
    impl X509BundleSource for Swap {
        fn x509_bundle_for(&self, td: &TrustDomain) -> Option<Arc<X509Bundle>> {
            self.0.read().unwrap().x509_bundle_for(td)
        }
    }

    let a = Ca::new("a.test");
    let b = Ca::new("b.test");
    let trusted = Arc::new(Swap(RwLock::new(bundles(&[&a]))));
    let client = mtls_client_config(
        provider(),
        a.svid("spiffe://a.test/client"),
        trusted.clone(),
        Authorizer::any(),
    )
    .unwrap();
    let server = mtls_server_config(
        provider(),
        b.svid("spiffe://b.test/server"),
        bundles(&[&a]),
        Authorizer::any(),
    )
    .unwrap();
    assert!(handshake(client.clone(), server.clone()).is_err());
    *trusted.0.write().unwrap() = bundles(&[&a, &b]);
    let pair = handshake(client, server).unwrap();
    assert_eq!(
        peer_spiffe_id(&pair.client).unwrap().as_str(),
        "spiffe://b.test/server"
    );
}

#[test]
fn no_handshake_fails_across_rotations() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    let ca = Ca::new("a.test");
    let source = RotatingSvid::new(ca.svid("spiffe://a.test/server"));
    let server = mtls_server_config(
        provider(),
        source.clone(),
        bundles(&[&ca]),
        Authorizer::any(),
    )
    .unwrap();
    let client = mtls_client_config(
        provider(),
        ca.svid("spiffe://a.test/client"),
        bundles(&[&ca]),
        Authorizer::exact(id("spiffe://a.test/server")),
    )
    .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    // Handshakes completed by the workers; rotations wait on it, so every rotation happens
    // while handshakes are in flight, however the threads are scheduled.
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (client, server) = (client.clone(), server.clone());
            let (stop, done) = (stop.clone(), done.clone());
            std::thread::spawn(move || {
                let mut leaves = std::collections::HashSet::new();
                while !stop.load(Ordering::Acquire) {
                    let pair = handshake(client.clone(), server.clone())
                        .unwrap_or_else(|e| panic!("handshake failed across a rotation: {e:?}"));
                    leaves.insert(pair.client.peer_certificates().unwrap()[0].clone());
                    done.fetch_add(1, Ordering::AcqRel);
                }
                leaves.len()
            })
        })
        .collect();
    let wait_for_handshakes = |n: usize| {
        let target = done.load(Ordering::Acquire) + n;
        while done.load(Ordering::Acquire) < target {
            std::thread::yield_now();
        }
    };
    // Rotate five times, each after both workers could complete handshakes on the last SVID.
    for _ in 0..5 {
        wait_for_handshakes(2);
        source.rotate(ca.svid("spiffe://a.test/server"));
    }
    wait_for_handshakes(2);
    let last = source.x509_svid_leaf();
    // One more handshake after the last rotation sees the last SVID.
    let pair = handshake(client, server).unwrap();
    assert_eq!(&pair.client.peer_certificates().unwrap()[0], &last);
    stop.store(true, Ordering::Release);
    let seen: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    // Six SVIDs were served while the workers ran; together they saw more than one.
    assert!(seen >= 2, "workers saw {seen} distinct server certificates");
}
