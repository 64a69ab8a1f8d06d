//! A CA rotation in one trust domain reaches the other before the old CA expires: with a
//! 3-minute `ca_ttl` in a.test, its next CA is prepared (and published at its bundle endpoint,
//! FED-2) at 90 s and activated at 150 s; b.test polls a.test's endpoint (refresh hint 20 s),
//! and workloads of the two domains keep shaking hands every half second throughout, without
//! one failure.
//!
//! About four minutes. Needs `cargo build -p spiffe-server -p spiffe-agent` first.
#![allow(clippy::unwrap_used)]

mod federation_support;

use std::time::{Duration, Instant};

use daemon_harness::{current_uid, Domain};
use federation_support::*;
use spiffe_core::X509SvidSource;
use spiffe_server::testing::process::free_port;

#[test]
fn a_ca_rotation_reaches_the_federated_domain_without_a_failed_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (free_port(), free_port());
    let a = Domain::start(&dir.path().join("a"), "a.test", |server, agent| {
        server.extra_server = format!(
            "    ca_ttl = \"3m\"\n    default_x509_svid_ttl = \"40s\"\n{}",
            // b.test polls at the refresh hint. At 1m it polled once in the 60 s between the
            // prepare and the activation, and a poll that fell in the up to 5 s before a.test's
            // endpoint reloaded its document got the old bundle, the next one coming after the
            // activation (seen once: the servers start about 0.2 s apart, which puts b.test's
            // polls close behind the prepare). At 20s it polls at least twice in that window,
            // whatever the phase.
            federation_block(pa, "", &federates_spiffe("b.test", pb))
                .replace("refresh_hint = \"1m\"", "refresh_hint = \"20s\"")
        );
        agent.sync_interval = Some("2s".into());
    })
    .unwrap();
    let b = Domain::start(&dir.path().join("b"), "b.test", |server, agent| {
        server.extra_server = federation_block(pb, "", &federates_spiffe("a.test", pa));
        agent.sync_interval = Some("2s".into());
    })
    .unwrap();
    bootstrap(&a, &b, dir.path());
    bootstrap(&b, &a, dir.path());
    ok(&b, &["federation", "refresh", "-id", "a.test"]);
    ok(&a, &["federation", "refresh", "-id", "b.test"]);

    let selector = format!("unix:uid:{}", current_uid());
    let (server_id, client_id) = ("spiffe://a.test/server", "spiffe://b.test/client");
    a.create_entry(
        server_id,
        &[&selector],
        &["-federatesWith", "spiffe://b.test", "-x509SVIDTTL", "30"],
    )
    .unwrap();
    b.create_entry(
        client_id,
        &[&selector],
        &["-federatesWith", "spiffe://a.test"],
    )
    .unwrap();
    a.wait_for_svid(server_id).unwrap();
    b.wait_for_svid(client_id).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (sa, sb) = (source(&a).await, source(&b).await);
        // The first handshake waits for the federated bundles to reach the agents.
        let start = Instant::now();
        while exchange(&sa, server_id, &sb, client_id).await.is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "federation never came up"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let first_issuer = sa.x509_svid().unwrap().leaf().issuer_der().to_vec();
        let mut handshakes = 0;
        let mut after_rotation = 0;
        let deadline = Instant::now() + Duration::from_secs(240);
        while after_rotation < 20 {
            assert!(
                Instant::now() < deadline,
                "a.test's workload never got an SVID from its next CA ({handshakes} handshakes)"
            );
            let result = exchange(&sa, server_id, &sb, client_id).await;
            assert_eq!(
                result,
                Ok(format!("hello {client_id}: ping")),
                "handshake {handshakes} failed\n--- a server ---\n{}\n--- b server ---\n{}",
                a.server.output(),
                b.server.output()
            );
            let back = exchange(&sb, client_id, &sa, server_id).await;
            assert_eq!(
                back,
                Ok(format!("hello {server_id}: ping")),
                "handshake {handshakes} back"
            );
            handshakes += 1;
            if sa.x509_svid().unwrap().leaf().issuer_der() != first_issuer.as_slice() {
                after_rotation += 1;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    // b.test stored a.test's new CA next to the old one.
    let stored = ok(&b, &["bundle", "list", "-id", "spiffe://a.test"]);
    assert!(stored.matches("BEGIN CERTIFICATE").count() >= 2, "{stored}");
}
