//! The caches' bounds and lifetimes: JWT-SVIDs reused per (entry, audience set) until half
//! their life, bounded by LRU, served from cache through a server failure only while
//! unexpired; X.509-SVIDs evicted least recently used beyond the bound, never while in use;
//! entries' additional attributes (no prefetch, a `jti` in every JWT-SVID).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Agent;

fn audience(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(start_paused = true)]
async fn jwt_svids_are_cached_per_entry_and_audience_until_half_life() {
    let agent = Agent::new(|_| {});
    agent.server.set_jwt_svid_ttl(Duration::from_secs(300));
    agent.put_entries(2);
    agent.manager.sync().await.unwrap();
    let entry = agent.manager.entry("w00000").unwrap();
    let other = agent.manager.entry("w00001").unwrap();

    let first = agent
        .manager
        .fetch_jwt_svid(&entry, &audience(&["b", "a"]))
        .await
        .unwrap();
    assert_eq!(&first.spiffe_id, entry.spiffe_id());
    // The same audience set in another order, with a duplicate: a hit.
    let hit = agent
        .manager
        .fetch_jwt_svid(&entry, &audience(&["a", "b", "a"]))
        .await
        .unwrap();
    assert_eq!(hit.token, first.token);
    // Another audience, another entry: misses.
    let other_aud = agent
        .manager
        .fetch_jwt_svid(&entry, &audience(&["c"]))
        .await
        .unwrap();
    assert_ne!(other_aud.token, first.token);
    let other_entry = agent
        .manager
        .fetch_jwt_svid(&other, &audience(&["a", "b"]))
        .await
        .unwrap();
    assert_ne!(other_entry.token, first.token);
    let stats = agent.manager.cache_stats().jwt;
    assert_eq!((stats.hits, stats.mints, stats.cached), (1, 3, 3));
    assert_eq!(agent.server.stats().jwt_calls, 3);

    // Still a hit just before half-life, a new token just after.
    tokio::time::advance(Duration::from_secs(149)).await;
    let before = agent
        .manager
        .fetch_jwt_svid(&entry, &audience(&["a", "b"]))
        .await
        .unwrap();
    assert_eq!(before.token, first.token);
    tokio::time::advance(Duration::from_secs(2)).await;
    let renewed = agent
        .manager
        .fetch_jwt_svid(&entry, &audience(&["a", "b"]))
        .await
        .unwrap();
    assert_ne!(renewed.token, first.token);
    assert_eq!(agent.manager.cache_stats().jwt.mints, 4);

    // Past half-life with the server down: the unexpired token is still served...
    agent.server.set_failing(true);
    tokio::time::advance(Duration::from_secs(200)).await;
    let stale = agent
        .manager
        .fetch_jwt_svid(&entry, &audience(&["a", "b"]))
        .await
        .unwrap();
    assert_eq!(stale.token, renewed.token);
    // ...but never an expired one.
    tokio::time::advance(Duration::from_secs(120)).await;
    assert!(agent
        .manager
        .fetch_jwt_svid(&entry, &audience(&["a", "b"]))
        .await
        .is_err());
    agent.server.set_failing(false);
    assert!(agent
        .manager
        .fetch_jwt_svid(&entry, &audience(&[]))
        .await
        .is_err());
}

#[tokio::test]
async fn the_jwt_cache_is_bounded_least_recently_used() {
    let agent = Agent::new(|c| c.jwt_svid_cache_max_size = 2);
    agent.put_entries(1);
    agent.manager.sync().await.unwrap();
    let entry = agent.manager.entry("w00000").unwrap();
    for aud in ["a", "b", "a", "c"] {
        agent
            .manager
            .fetch_jwt_svid(&entry, &audience(&[aud]))
            .await
            .unwrap();
    }
    // "a" was used after "b", so "b" went when "c" came.
    let stats = agent.manager.cache_stats().jwt;
    assert_eq!((stats.mints, stats.hits, stats.cached), (3, 1, 2));
    agent
        .manager
        .fetch_jwt_svid(&entry, &audience(&["a"]))
        .await
        .unwrap();
    agent
        .manager
        .fetch_jwt_svid(&entry, &audience(&["b"]))
        .await
        .unwrap();
    let stats = agent.manager.cache_stats().jwt;
    assert_eq!((stats.mints, stats.hits), (4, 2));
}

#[tokio::test]
async fn eviction_never_drops_an_svid_in_use() {
    let agent = Agent::new(|c| c.x509_svid_cache_max_size = 2);
    agent.put_entries(5);
    agent.manager.sync().await.unwrap();
    assert_eq!(agent.manager.cache_stats().x509_svids, 2);
    // A workload holds the SVID of w00000 (as the provider holds what it served).
    let held = agent.manager.x509_svid("w00000").unwrap();

    // Two more are asked for: signed beyond the bound; the idle one (w00001) is evicted, the
    // held one stays, the two just signed are protected until handed out.
    let ids = ["w00002", "w00003"].map(|id| agent.manager.entry(id).unwrap().id().clone());
    agent.manager.request_svids(ids);
    let report = agent.manager.sync().await.unwrap();
    assert_eq!((report.svids_signed, report.svids_evicted), (2, 1));
    assert!(agent.manager.x509_svid("w00001").is_none());
    assert_eq!(agent.manager.cache_stats().x509_svids, 3);

    // w00002 handed out and dropped at once: idle; w00003 not yet picked up: still protected.
    drop(agent.manager.x509_svid("w00002").unwrap());
    let report = agent.manager.sync().await.unwrap();
    assert_eq!(report.svids_evicted, 1);
    assert!(agent.manager.x509_svid("w00002").is_none());
    // Picking up w00003 (and dropping it) leaves the held SVID as the only one in use.
    drop(agent.manager.x509_svid("w00003").unwrap());
    for _ in 0..3 {
        agent.manager.sync().await.unwrap();
        let kept = agent
            .manager
            .x509_svid("w00000")
            .expect("never evicted while held");
        assert_eq!(kept.leaf().serial(), held.leaf().serial());
    }
    assert!(agent.manager.cache_stats().x509_svids <= 2);
    // Released, it is an ordinary cache member again (within the bound, so it stays).
    drop(held);
    agent.manager.sync().await.unwrap();
    assert!(agent.manager.x509_svid("w00000").is_some());
}

/// Puts the entry `id` of the fake server again with its additional attributes set.
fn with_attributes(agent: &Agent, id: &str, prefetch_off: bool, jti: bool) {
    let entry = agent.server.entry(id).unwrap();
    agent.server.put_entry(
        entry
            .to_builder()
            .disable_x509_svid_prefetch(prefetch_off)
            .jwt_svid_include_jti(jti)
            .build()
            .unwrap(),
    );
}

/// SPIRE's `disable_x509_svid_prefetch`: the entry's SVID is not signed at sync; once a
/// workload asks for it, it is signed, kept and rotated like any other.
#[tokio::test(start_paused = true)]
async fn an_entry_without_prefetch_is_signed_when_asked_then_kept_and_rotated() {
    let agent = Agent::new(|_| {});
    agent.server.set_x509_svid_ttl(Duration::from_secs(3600));
    agent.put_entries(2);
    with_attributes(&agent, "w00001", true, false);
    let report = agent.manager.sync().await.unwrap();
    assert_eq!(report.svids_signed, 1, "only the prefetched entry");
    assert!(agent.manager.svid_times("w00000").is_some());
    assert!(agent.manager.svid_times("w00001").is_none());
    // Later rounds leave it unsigned while nobody asks.
    let report = agent.manager.sync().await.unwrap();
    assert_eq!(report.svids_signed, 0);
    assert!(agent.manager.svid_times("w00001").is_none());
    assert_eq!(agent.server.stats().x509_svids_signed, 1);

    // A workload asks.
    agent
        .manager
        .request_svids([agent.manager.entry("w00001").unwrap().id().clone()]);
    let report = agent.manager.sync().await.unwrap();
    assert_eq!(report.svids_signed, 1);
    let first = agent
        .manager
        .svid_times("w00001")
        .expect("signed on demand");
    let svid = agent.manager.x509_svid("w00001").expect("served");
    assert_eq!(svid.spiffe_id().path(), "/w1");
    drop(svid);
    // Kept: not signed again while valid.
    assert_eq!(agent.manager.sync().await.unwrap().svids_signed, 0);

    // Rotated at its time like any other.
    let wait = first.rotate_at.as_secs() - agent.clock.now().as_secs() + 1;
    tokio::time::advance(Duration::from_secs(wait)).await;
    let report = agent.manager.sync().await.unwrap();
    assert!(report.svids_signed >= 1, "rotated");
    let rotated = agent.manager.svid_times("w00001").expect("still held");
    assert!(rotated.not_after.as_secs() > first.not_after.as_secs());
}

/// SPIRE's `jwt_svid_include_jti`: every request mints (each token has its own `jti`), and
/// none is cached; other entries' tokens are still cached.
#[tokio::test(start_paused = true)]
async fn jwt_svids_of_a_jti_entry_bypass_the_cache() {
    let agent = Agent::new(|_| {});
    agent.put_entries(2);
    with_attributes(&agent, "w00000", false, true);
    agent.manager.sync().await.unwrap();
    let jti_entry = agent.manager.entry("w00000").unwrap();
    let plain = agent.manager.entry("w00001").unwrap();
    assert!(jti_entry.jwt_svid_include_jti());

    let jti = |token: &str| {
        spiffe_core::UnverifiedJwtSvid::parse_insecure(token)
            .unwrap()
            .claims()
            .get_str("jti")
            .map(str::to_owned)
    };
    let aud = audience(&["a"]);
    let first = agent
        .manager
        .fetch_jwt_svid(&jti_entry, &aud)
        .await
        .unwrap();
    let second = agent
        .manager
        .fetch_jwt_svid(&jti_entry, &aud)
        .await
        .unwrap();
    assert_ne!(first.token, second.token);
    let (a, b) = (jti(&first.token).unwrap(), jti(&second.token).unwrap());
    assert_ne!(a, b);
    let stats = agent.manager.cache_stats().jwt;
    assert_eq!((stats.hits, stats.mints, stats.cached), (0, 2, 0));

    let one = agent.manager.fetch_jwt_svid(&plain, &aud).await.unwrap();
    let two = agent.manager.fetch_jwt_svid(&plain, &aud).await.unwrap();
    assert_eq!(one.token, two.token, "cached as before");
    assert_eq!(jti(&one.token), None);
    assert_eq!(agent.server.stats().jwt_svids_minted, 3);

    // A failing server fails the request: there is no cached token to fall back on.
    agent.server.set_failing(true);
    assert!(agent
        .manager
        .fetch_jwt_svid(&jti_entry, &aud)
        .await
        .is_err());
}
