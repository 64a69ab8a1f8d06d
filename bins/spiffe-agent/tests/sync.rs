//! Entry sync and batch signing against the fake server: one batch for new entries, only
//! changed entries fetched afterwards, batches capped at 500, deletions and updates followed,
//! per-entry refusals retried.
#![allow(clippy::unwrap_used)]

mod common;

use common::Agent;
use spiffe_attest::{RegistrationEntry, Selector};
use spiffe_core::x509::verify_path;

#[tokio::test]
async fn new_entries_are_signed_in_one_batch_then_synced_incrementally() {
    let agent = Agent::new(|_| {});
    agent.put_entries(20);
    let mut changes = agent.manager.changes();

    let report = agent.manager.sync().await.unwrap();
    assert_eq!(report.entries, 20);
    assert_eq!(report.entries_fetched, 20);
    assert_eq!(report.svids_signed, 20);
    assert_eq!(report.batches, 1);
    let stats = agent.server.stats();
    assert_eq!((stats.batch_calls, stats.largest_batch), (1, 20));
    assert!(changes.has_changed().unwrap(), "workloads were notified");

    // Every SVID is the entry's identity and chains to the bundle's authority.
    let bundle = agent.manager.bundle().expect("bundle synced");
    let now = agent.clock.now();
    for entry in agent.manager.entries() {
        let svid = agent
            .manager
            .x509_svid(entry.id().as_str())
            .expect("signed");
        assert_eq!(svid.spiffe_id(), entry.spiffe_id());
        verify_path(svid.chain(), bundle.x509().authorities(), now).expect("chains to the bundle");
    }

    // Nothing changed: the server sends no entry, nothing is signed.
    changes.mark_unchanged();
    let report = agent.manager.sync().await.unwrap();
    assert_eq!((report.entries_fetched, report.svids_signed), (0, 0));
    assert_eq!(agent.server.stats().entries_sent, 20);
    assert!(
        !changes.has_changed().unwrap(),
        "no change, no notification"
    );

    // A changed DNS name: that entry alone is fetched and re-signed.
    let old = agent.manager.x509_svid("w00003").unwrap();
    let changed = agent
        .server
        .entry("w00003")
        .unwrap()
        .to_builder()
        .dns_name("w3.example.org")
        .build()
        .unwrap();
    agent.server.put_entry(changed);
    let generation = agent.manager.generation();
    let report = agent.manager.sync().await.unwrap();
    assert_eq!((report.entries_fetched, report.svids_signed), (1, 1));
    // The entry change and its new SVID reach workloads as one change.
    assert_eq!(agent.manager.generation(), generation + 1);
    let new = agent.manager.x509_svid("w00003").unwrap();
    assert_ne!(old.leaf().serial(), new.leaf().serial());
    assert_eq!(
        new.leaf().dns_sans().collect::<Vec<_>>(),
        ["w3.example.org"]
    );

    // A changed selector changes who gets the SVID, not the SVID.
    let moved = agent
        .server
        .entry("w00004")
        .unwrap()
        .to_builder()
        .selectors([Selector::parse("unix:uid:4444").unwrap()])
        .build()
        .unwrap();
    agent.server.put_entry(moved);
    let report = agent.manager.sync().await.unwrap();
    assert_eq!((report.entries_fetched, report.svids_signed), (1, 0));
    let view = agent
        .manager
        .workload_view(&[Selector::parse("unix:uid:4444").unwrap()]);
    assert_eq!(view.identities.len(), 1);
    assert!(view.identities[0].svid.is_some());
    assert!(agent
        .manager
        .workload_view(&[Selector::parse("unix:uid:1004").unwrap()])
        .is_empty());

    // A deleted entry and its SVID are gone.
    assert!(agent.server.delete_entry("w00005"));
    changes.mark_unchanged();
    let report = agent.manager.sync().await.unwrap();
    assert_eq!((report.entries, report.entries_removed), (19, 1));
    assert!(agent.manager.x509_svid("w00005").is_none());
    assert!(changes.has_changed().unwrap());
    assert_eq!(agent.manager.cache_stats().x509_svids, 19);
}

#[tokio::test]
async fn csrs_go_in_batches_of_at_most_500() {
    let agent = Agent::new(|c| c.x509_svid_cache_max_size = 2000);
    agent.put_entries(1001);
    let report = agent.manager.sync().await.unwrap();
    assert_eq!(report.svids_signed, 1001);
    assert_eq!(report.batches, 3);
    let stats = agent.server.stats();
    assert_eq!(stats.batch_calls, 3);
    assert_eq!(stats.largest_batch, 500);
}

#[tokio::test]
async fn a_refused_entry_does_not_stop_the_others_and_is_retried() {
    let agent = Agent::new(|_| {});
    agent.put_entries(5);
    agent.server.refuse_entry("w00002", true);
    let report = agent.manager.sync().await.unwrap();
    assert_eq!((report.svids_signed, report.svids_failed), (4, 1));
    assert!(agent.manager.x509_svid("w00002").is_none());
    // The workload of that entry sees it pending.
    let view = agent
        .manager
        .workload_view(&[Selector::parse("unix:uid:1002").unwrap()]);
    assert_eq!(view.pending().count(), 1);

    agent.server.refuse_entry("w00002", false);
    let report = agent.manager.sync().await.unwrap();
    assert_eq!((report.svids_signed, report.svids_failed), (1, 0));
    assert!(agent.manager.x509_svid("w00002").is_some());
}

#[tokio::test]
async fn entries_beyond_the_cache_bound_are_signed_when_asked_for() {
    let agent = Agent::new(|c| c.x509_svid_cache_max_size = 3);
    agent.put_entries(5);
    let report = agent.manager.sync().await.unwrap();
    // The first three (by id) fill the cache; the others wait for a workload.
    assert_eq!(report.svids_signed, 3);
    assert!(agent.manager.x509_svid("w00004").is_none());
    agent
        .manager
        .request_svids([agent.manager.entry("w00004").unwrap().id().clone()]);
    let report = agent.manager.sync().await.unwrap();
    assert_eq!(report.svids_signed, 1);
    assert!(agent.manager.x509_svid("w00004").is_some());
}

#[tokio::test]
async fn nested_and_foreign_parents_follow_the_servers_authorization() {
    let agent = Agent::new(|_| {});
    // An entry under the agent, one nested under that entry's ID, one under another agent.
    let parent = agent
        .server
        .put_workload_entry("parent", "/parent", &["unix:uid:1"])
        .unwrap();
    let nested = RegistrationEntry::builder(
        "nested".parse().unwrap(),
        spiffe_core::SpiffeId::new("spiffe://example.org/nested").unwrap(),
        parent.spiffe_id().clone(),
    )
    .selector(Selector::parse("unix:uid:2").unwrap())
    .build()
    .unwrap();
    agent.server.put_entry(nested);
    let foreign = RegistrationEntry::builder(
        "foreign".parse().unwrap(),
        spiffe_core::SpiffeId::new("spiffe://example.org/foreign").unwrap(),
        spiffe_core::SpiffeId::new("spiffe://example.org/spire/agent/join_token/other").unwrap(),
    )
    .selector(Selector::parse("unix:uid:3").unwrap())
    .build()
    .unwrap();
    agent.server.put_entry(foreign);

    let report = agent.manager.sync().await.unwrap();
    assert_eq!(report.entries, 2);
    assert!(agent.manager.entry("foreign").is_none());
    // The nested entry is served by its selectors although its parent is not the agent.
    let view = agent
        .manager
        .workload_view(&[Selector::parse("unix:uid:2").unwrap()]);
    assert_eq!(view.identities.len(), 1);
    assert_eq!(view.identities[0].entry.id().as_str(), "nested");
}
