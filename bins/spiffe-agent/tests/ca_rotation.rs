//! CA rotation at the server (prepare, activate, taint, revoke) as the agent sees it: the new
//! authority reaches the bundle and workloads before it signs anything, SVIDs of a tainted or
//! removed authority are re-signed under the active one, JWT-SVIDs of a tainted key are
//! dropped; federated bundles follow the entries' `federates_with`.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{td, Agent};
use spiffe_agent::server::fake::FakeServer;
use spiffe_agent::server::ServerBundle;
use spiffe_attest::Selector;
use spiffe_ca::keys::{KeyType, SoftwareSigner};
use spiffe_ca::x509::X509SvidIssuer;
use spiffe_core::x509::verify_path;
use spiffe_core::{Certificate, JwtBundle, TrustDomain, X509Bundle};

/// The bundle authority with subject key id `id`.
fn authority(bundle: &ServerBundle, id: &str) -> Certificate {
    bundle
        .x509()
        .authorities()
        .iter()
        .find(|c| {
            c.subject_key_id()
                .is_some_and(|ski| ski.iter().map(|b| format!("{b:02x}")).collect::<String>() == id)
        })
        .cloned()
        .expect("authority in the bundle")
}

/// How many of the agent's SVIDs chain to `anchor`.
fn issued_under(agent: &Agent, anchor: &Certificate) -> usize {
    let now = agent.clock.now();
    agent
        .manager
        .entries()
        .iter()
        .filter_map(|e| agent.manager.x509_svid(e.id().as_str()))
        .filter(|svid| verify_path(svid.chain(), std::slice::from_ref(anchor), now).is_ok())
        .count()
}

#[tokio::test]
async fn a_tainted_authority_gets_its_svids_re_signed_and_bundles_pushed() {
    let agent = Agent::new(|_| {});
    agent.put_entries(10);
    agent.manager.sync().await.unwrap();
    let old_id = agent.server.active_x509_authority_id();
    let selectors = [Selector::parse("unix:uid:1001").unwrap()];
    let mut changes = agent.manager.changes();

    // Prepare: the new authority is in the bundle workloads receive; nothing is re-signed.
    let new_id = agent.server.prepare_x509_authority().unwrap().unwrap();
    changes.mark_unchanged();
    let report = agent.manager.sync().await.unwrap();
    assert_eq!((report.untrusted_svids, report.svids_signed), (0, 0));
    assert!(changes.has_changed().unwrap(), "the new bundle was pushed");
    let view = agent.manager.workload_view(&selectors);
    assert_eq!(view.x509_bundles[0].authorities().len(), 2);
    let bundle = agent.manager.bundle().unwrap();
    let (old, new) = (authority(&bundle, &old_id), authority(&bundle, &new_id));
    assert_eq!(issued_under(&agent, &old), 10);

    // Activate: still nothing to re-sign.
    assert!(agent.server.activate_x509_authority(&new_id));
    let report = agent.manager.sync().await.unwrap();
    assert_eq!(report.svids_signed, 0);

    // Taint the old one: every SVID is re-signed under the new one in the same round.
    assert!(agent.server.taint_x509_authority(&old_id));
    changes.mark_unchanged();
    let report = agent.manager.sync().await.unwrap();
    assert_eq!((report.untrusted_svids, report.svids_signed), (10, 10));
    assert_eq!(issued_under(&agent, &new), 10);
    assert_eq!(issued_under(&agent, &old), 0);
    assert!(changes.has_changed().unwrap());
    let view = agent.manager.workload_view(&selectors);
    let svid = view.identities[0].svid.as_ref().unwrap();
    verify_path(svid.chain(), std::slice::from_ref(&new), agent.clock.now()).unwrap();

    // Revoke: the old authority leaves the bundle; nothing left to re-sign.
    assert!(agent.server.revoke_x509_authority(&old_id));
    let report = agent.manager.sync().await.unwrap();
    assert_eq!((report.untrusted_svids, report.svids_signed), (0, 0));
    let view = agent.manager.workload_view(&selectors);
    assert_eq!(
        view.x509_bundles[0].authorities(),
        std::slice::from_ref(&new)
    );

    // An authority removed without being tainted first: its SVIDs are re-signed too.
    let third = agent.server.prepare_x509_authority().unwrap().unwrap();
    agent.manager.sync().await.unwrap();
    assert!(agent.server.activate_x509_authority(&third));
    assert!(agent.server.revoke_x509_authority(&new_id));
    let report = agent.manager.sync().await.unwrap();
    assert_eq!((report.untrusted_svids, report.svids_signed), (10, 10));
    let third = authority(&agent.manager.bundle().unwrap(), &third);
    assert_eq!(issued_under(&agent, &third), 10);
}

#[tokio::test]
async fn jwt_svids_of_a_tainted_key_are_dropped() {
    let agent = Agent::new(|_| {});
    agent.put_entries(1);
    agent.manager.sync().await.unwrap();
    let entry = agent.manager.entry("w00000").unwrap();
    let audience = vec!["db".to_owned()];
    let first = agent
        .manager
        .fetch_jwt_svid(&entry, &audience)
        .await
        .unwrap();
    let old_kid = agent.server.active_jwt_kid();

    let new_kid = agent.server.rotate_jwt_authority().unwrap();
    agent.manager.sync().await.unwrap();
    // Rotation alone keeps the cached token (its key is still trusted).
    let again = agent
        .manager
        .fetch_jwt_svid(&entry, &audience)
        .await
        .unwrap();
    assert_eq!(again.token, first.token);

    assert!(agent.server.taint_jwt_authority(&old_kid));
    agent.manager.sync().await.unwrap();
    let fresh = agent
        .manager
        .fetch_jwt_svid(&entry, &audience)
        .await
        .unwrap();
    assert_ne!(fresh.token, first.token);
    let kid = spiffe_core::jwt::UnverifiedJwtSvid::parse_insecure(&fresh.token)
        .unwrap()
        .kid()
        .to_owned();
    assert_eq!(kid, new_kid);
}

#[tokio::test]
async fn federated_bundles_follow_federates_with() {
    let agent = Agent::new(|_| {});
    let other = TrustDomain::new("other.org").unwrap();
    let other_ca = X509SvidIssuer::self_signed(
        &other,
        Arc::new(SoftwareSigner::generate("o", KeyType::EcP256).unwrap()),
        agent.clock.now(),
        spiffe_core::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            agent.clock.now().as_secs() + 86_400,
        )),
    )
    .unwrap();
    let other_bundle = ServerBundle::new(
        X509Bundle::from_authorities(other.clone(), vec![other_ca.trust_anchor().clone()]),
        JwtBundle::new(other.clone()),
    );
    agent.server.set_federated_bundle(other_bundle.clone());
    let entry = agent
        .server
        .put_workload_entry("fed", "/fed", &["unix:uid:7"])
        .unwrap();
    agent.manager.sync().await.unwrap();
    let selectors = [Selector::parse("unix:uid:7").unwrap()];
    // Not federating yet: only the own bundle, and the server was not asked.
    assert_eq!(
        agent.manager.workload_view(&selectors).x509_bundles.len(),
        1
    );
    assert_eq!(agent.server.stats().federated_calls, 0);

    agent.server.put_entry(
        entry
            .to_builder()
            .federates_with(other.clone())
            .build()
            .unwrap(),
    );
    agent.manager.sync().await.unwrap();
    let view = agent.manager.workload_view(&selectors);
    let tds: Vec<&str> = view
        .x509_bundles
        .iter()
        .map(|b| b.trust_domain().as_str())
        .collect();
    assert_eq!(tds, [td().as_str(), "other.org"]);
    assert_eq!(view.jwt_bundles.len(), 2);
    assert_eq!(agent.manager.federated_bundle(&other), Some(other_bundle));

    // A workload of another entry does not see it.
    agent
        .server
        .put_workload_entry("plain", "/plain", &["unix:uid:8"])
        .unwrap();
    agent.manager.sync().await.unwrap();
    let plain = agent
        .manager
        .workload_view(&[Selector::parse("unix:uid:8").unwrap()]);
    assert_eq!(plain.x509_bundles.len(), 1);

    // Federation ends: the bundle is dropped.
    agent.server.put_entry(entry);
    agent.manager.sync().await.unwrap();
    assert!(agent.manager.federated_bundle(&other).is_none());
    assert_eq!(
        agent.manager.workload_view(&selectors).x509_bundles.len(),
        1
    );
}

#[tokio::test]
async fn intermediates_are_parsed_once_and_shared() {
    let clock: Arc<dyn spiffe_agent::clock::Clock> =
        Arc::new(spiffe_agent::clock::TokioClock::new());
    let server = Arc::new(
        FakeServer::with_upstream(td(), common::agent_id(), clock.clone())
            .await
            .unwrap(),
    );
    let agent = Agent::with_server(server, clock, |_| {});
    agent.put_entries(50);
    agent.manager.sync().await.unwrap();
    let stats = agent.manager.cache_stats();
    assert_eq!((stats.x509_svids, stats.intermediates), (50, 1));
    let a = agent.manager.x509_svid("w00001").unwrap();
    let b = agent.manager.x509_svid("w00002").unwrap();
    assert_eq!(a.chain().len(), 2);
    // One parsed intermediate, one allocation, in every chain.
    assert_eq!(
        a.chain()[1].der().as_ref().as_ptr(),
        b.chain()[1].der().as_ref().as_ptr()
    );
    // The chain verifies to the upstream root, which is what the bundle holds.
    let bundle = agent.manager.bundle().unwrap();
    verify_path(a.chain(), bundle.x509().authorities(), agent.clock.now()).unwrap();
}
