//! The Workload API provider called directly: attestation cached per caller (one attestation
//! for many concurrent streams, again after the TTL), callers waiting for SVIDs being signed or
//! for the first sync, callers that cannot be attested, shared answers, change notifications.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{next_change, Agent};
use spiffe_agent::workload::{AgentIdentityProvider, ProviderConfig};
use spiffe_attest::workload::WorkloadAttestor;
use spiffe_attest::{AttestError, Selector};
use spiffe_core::BoxFuture;
use spiffe_workload::{CallerInfo, IdentityProvider, ProviderError};

/// Selectors from the caller's uid alone, counting its calls.
#[derive(Default)]
struct CountingAttestor {
    calls: AtomicUsize,
}

impl WorkloadAttestor for CountingAttestor {
    fn name(&self) -> &'static str {
        "test"
    }

    fn attest<'a>(
        &'a self,
        peer: &'a CallerInfo,
    ) -> BoxFuture<'a, Result<Vec<Selector>, AttestError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let uid = peer.uid;
        Box::pin(async move { Ok(vec![Selector::new("unix", &format!("uid:{uid}")).unwrap()]) })
    }
}

/// A caller that is this (live) process, presenting `uid`.
fn caller(uid: u32) -> CallerInfo {
    let pid = std::process::id() as i32;
    let start = spiffe_attest::workload::unix::process_start_time(pid).unwrap();
    CallerInfo::new(Some(pid), uid, uid).with_start_time(start)
}

fn provider(
    agent: &Agent,
    config: ProviderConfig,
) -> (Arc<AgentIdentityProvider>, Arc<CountingAttestor>) {
    let attestor = Arc::new(CountingAttestor::default());
    let provider =
        AgentIdentityProvider::new(agent.manager.clone(), vec![attestor.clone()], config);
    (Arc::new(provider), attestor)
}

#[tokio::test(start_paused = true)]
async fn one_attestation_serves_many_streams_until_the_ttl() {
    let mut agent = Agent::new(|_| {});
    agent.put_entries(3);
    agent.start();
    let (provider, attestor) = provider(&agent, ProviderConfig::default());
    let me = caller(1001);

    let mut calls = Vec::new();
    for _ in 0..200 {
        let provider = provider.clone();
        calls.push(tokio::spawn(
            async move { provider.x509_context(&me).await },
        ));
    }
    for call in calls {
        let context = call.await.unwrap().unwrap();
        assert_eq!(context.svids[0].svid.spiffe_id().path(), "/w1");
    }
    assert_eq!(attestor.calls.load(Ordering::SeqCst), 1);
    assert_eq!(provider.stats().selector_sets, 1);

    // Past the TTL the caller is attested again, once.
    tokio::time::advance(ProviderConfig::default().attestation_ttl + Duration::from_secs(1)).await;
    provider.x509_context(&me).await.unwrap();
    provider.x509_context(&me).await.unwrap();
    assert_eq!(attestor.calls.load(Ordering::SeqCst), 2);
    agent.stop().await;
}

#[tokio::test(start_paused = true)]
async fn callers_with_the_same_selectors_share_one_answer() {
    let mut agent = Agent::new(|_| {});
    agent.put_entries(2);
    agent.start();
    let (provider, _) = provider(&agent, ProviderConfig::default());
    let a = provider.x509_context(&caller(1000)).await.unwrap();
    // Another process key (another gid), same selectors: the same SVID object is served.
    let other = {
        let c = caller(1000);
        CallerInfo::new(c.pid, 1000, 77).with_start_time(c.start_time.unwrap())
    };
    let b = provider.x509_context(&other).await.unwrap();
    assert!(Arc::ptr_eq(&a.svids[0].svid, &b.svids[0].svid));
    assert!(Arc::ptr_eq(&a.bundles[0], &b.bundles[0]));
    let stats = provider.stats();
    assert_eq!((stats.callers, stats.selector_sets), (2, 1));
    agent.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_caller_waits_for_the_first_sync_and_for_svids_being_signed() {
    // The cache holds one SVID; the second entry is signed only when its workload asks.
    let mut agent = Agent::new(|c| c.x509_svid_cache_max_size = 1);
    agent.put_entries(2);
    let (provider, _) = provider(&agent, ProviderConfig::default());

    // Before the first sync the caller waits (here: the loop starts after the call).
    let waiting = {
        let provider = provider.clone();
        tokio::spawn(async move { provider.x509_context(&caller(1000)).await })
    };
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished());
    agent.start();
    let context = waiting.await.unwrap().unwrap();
    assert_eq!(context.svids[0].svid.spiffe_id().path(), "/w0");

    // The second entry has no SVID: the call asks for it, a round signs it, the call returns
    // it, well before the next regular sync.
    let before = agent.manager.status().rounds;
    let started = tokio::time::Instant::now();
    let context = provider.x509_context(&caller(1001)).await.unwrap();
    assert_eq!(context.svids[0].svid.spiffe_id().path(), "/w1");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(agent.manager.status().rounds > before);

    // A caller nothing matches is answered at once.
    let err = provider.x509_context(&caller(4242)).await.unwrap_err();
    assert!(matches!(err, ProviderError::NoIdentity), "{err:?}");
    assert!(matches!(
        provider.jwt_bundles(&caller(4242)).await.unwrap_err(),
        ProviderError::NoIdentity
    ));
    agent.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_server_that_cannot_sign_leaves_the_caller_unavailable() {
    let mut agent = Agent::new(|c| c.x509_svid_cache_max_size = 0);
    agent.put_entries(1);
    agent.server.refuse_entry("w00000", true);
    agent.start();
    let (provider, _) = provider(&agent, ProviderConfig::default());
    let started = tokio::time::Instant::now();
    let err = provider.x509_context(&caller(1000)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable), "{err:?}");
    assert!(started.elapsed() >= ProviderConfig::default().svid_wait_timeout);
    agent.stop().await;
}

#[tokio::test(start_paused = true)]
async fn callers_that_cannot_be_attested() {
    let mut agent = Agent::new(|_| {});
    agent.put_entries(1);
    agent.start();
    let (provider, attestor) = provider(&agent, ProviderConfig::default());
    // No pid (e.g. TCP without an operator mapping): no process to attest.
    let err = provider
        .x509_context(&CallerInfo::new(None, 1000, 1000))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NoIdentity), "{err:?}");
    // A pid without a start time: the process was gone at accept.
    let pid = std::process::id() as i32;
    let err = provider
        .x509_context(&CallerInfo::new(Some(pid), 1000, 1000))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable), "{err:?}");
    assert_eq!(attestor.calls.load(Ordering::SeqCst), 0);
    agent.stop().await;
}

#[tokio::test(start_paused = true)]
async fn changes_fire_for_new_entries_and_new_svids() {
    let mut agent = Agent::new(|_| {});
    agent.put_entries(1);
    agent.start();
    let (provider, _) = provider(&agent, ProviderConfig::default());
    provider.x509_context(&caller(1000)).await.unwrap();
    let mut changes = provider.changes();
    changes.mark_unchanged();
    agent
        .server
        .put_workload_entry("late", "/late", &["unix:uid:1000"])
        .unwrap();
    next_change(&mut changes).await;
    // The entry and then its SVID: the caller ends up with both identities.
    loop {
        let context = provider.x509_context(&caller(1000)).await.unwrap();
        if context.svids.len() == 2 {
            break;
        }
        next_change(&mut changes).await;
    }
    agent.stop().await;
}

#[tokio::test(start_paused = true)]
async fn jwt_svids_per_identity_and_validation_on_the_agent_clock() {
    let mut agent = Agent::new(|_| {});
    agent
        .server
        .put_workload_entry("one", "/one", &["unix:uid:1000"])
        .unwrap();
    let two = agent
        .server
        .put_workload_entry("two", "/two", &["unix:uid:1000"])
        .unwrap();
    agent
        .server
        .put_entry(two.to_builder().hint("second").build().unwrap());
    agent.start();
    let (provider, _) = provider(&agent, ProviderConfig::default());
    let me = caller(1000);
    let all = provider
        .jwt_svids(&me, &["api".to_owned()], None)
        .await
        .unwrap();
    let paths: Vec<&str> = all.iter().map(|s| s.spiffe_id.path()).collect();
    assert_eq!(paths, ["/one", "/two"]);
    assert_eq!(all[1].hint, "second");
    let one = spiffe_core::SpiffeId::new("spiffe://example.org/one").unwrap();
    let only = provider
        .jwt_svids(&me, &["api".to_owned()], Some(&one))
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].token, all[0].token);
    let foreign = spiffe_core::SpiffeId::new("spiffe://example.org/not-mine").unwrap();
    assert!(matches!(
        provider
            .jwt_svids(&me, &["api".to_owned()], Some(&foreign))
            .await,
        Err(ProviderError::NotEntitled { .. })
    ));
    // Valid now on the agent's (virtual) clock, expired later.
    let svid = provider
        .validate_jwt_svid(&me, "api", &all[0].token)
        .await
        .unwrap();
    assert_eq!(svid.spiffe_id(), &one);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert!(matches!(
        provider.validate_jwt_svid(&me, "api", &all[0].token).await,
        Err(ProviderError::InvalidJwtSvid(_))
    ));
    agent.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_workload_arriving_during_a_long_first_sync_is_served_next() {
    let mut agent = Agent::new(|c| c.x509_svid_cache_max_size = 2000);
    agent.put_entries(1001);
    // Every server call takes a (virtual) second.
    agent.server.set_delay(Duration::from_secs(1));
    let (provider, _) = provider(&agent, ProviderConfig::default());
    // The workload of the last entry (w01000) is waiting when the agent starts.
    let waiting = {
        let provider = provider.clone();
        tokio::spawn(async move { provider.x509_context(&caller(2000)).await })
    };
    agent.start();
    let context = waiting.await.unwrap().unwrap();
    assert_eq!(context.svids[0].svid.spiffe_id().path(), "/w1000");
    // It got its own batch right after the first (small) one: 65 SVIDs signed so far, not
    // 1001.
    assert_eq!(agent.manager.cache_stats().x509_svids, 65);
    let report = agent
        .status_until("the first sync", |s| s.successes >= 1)
        .await
        .last_report
        .unwrap();
    // 64, then its own batch of 1, then 500 and 436.
    assert_eq!((report.batches, report.svids_signed), (4, 1001));
    agent.stop().await;
}

/// An attestor that always fails, with `error`.
struct FailingAttestor(fn() -> AttestError);

impl WorkloadAttestor for FailingAttestor {
    fn name(&self) -> &'static str {
        "failing"
    }

    fn attest<'a>(
        &'a self,
        _peer: &'a CallerInfo,
    ) -> BoxFuture<'a, Result<Vec<Selector>, AttestError>> {
        let error = (self.0)();
        Box::pin(async move { Err(error) })
    }
}

fn unreachable_daemon() -> AttestError {
    AttestError::plugin(
        "docker",
        std::io::Error::new(std::io::ErrorKind::NotFound, "no docker socket"),
    )
}

fn pid_reused() -> AttestError {
    AttestError::plugin(
        "unix",
        spiffe_attest::workload::unix::UnixAttestorError::PidReused { pid: 42 },
    )
}

/// As SPIRE's agent: a failing attestor's selectors are left out and the others' still serve
/// the caller; only when all fail is it not attested; a failure that puts the caller's process
/// in doubt (its pid reused) fails the whole attestation.
#[tokio::test(start_paused = true)]
async fn a_failing_attestor_is_left_out_unless_the_process_is_in_doubt() {
    let mut agent = Agent::new(|_| {});
    agent.put_entries(1);
    agent.start();
    let me = caller(1000);
    let with = |attestors: Vec<Arc<dyn WorkloadAttestor>>| {
        AgentIdentityProvider::new(agent.manager.clone(), attestors, ProviderConfig::default())
    };

    let counting = Arc::new(CountingAttestor::default());
    let provider = with(vec![
        Arc::new(FailingAttestor(unreachable_daemon)),
        counting.clone(),
    ]);
    let context = provider.x509_context(&me).await.unwrap();
    assert_eq!(context.svids[0].svid.spiffe_id().path(), "/w0");

    let provider = with(vec![Arc::new(FailingAttestor(unreachable_daemon))]);
    let err = provider.x509_context(&me).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable), "{err:?}");

    let provider = with(vec![Arc::new(FailingAttestor(pid_reused)), counting]);
    let err = provider.x509_context(&me).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable), "{err:?}");
    agent.stop().await;
}
