//! Rotation and outages on tokio's paused clock (the agent's and the fake server's wall clock
//! follow it): SVIDs re-signed at half their lifetime within ±10%, spread by jitter; a server
//! outage keeps the cached SVIDs served while the retry delay grows 1.5x up to its cap; the
//! agent recovers by itself when the server returns.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{next_change, within, Agent};
use spiffe_attest::Selector;

const TTL: Duration = Duration::from_secs(3600);

fn serials(agent: &Agent) -> HashMap<String, Vec<u8>> {
    agent
        .manager
        .entries()
        .iter()
        .map(|e| {
            let svid = agent.manager.x509_svid(e.id().as_str()).unwrap();
            (e.id().to_string(), svid.leaf().serial().to_vec())
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn svids_rotate_at_half_life_with_jitter() {
    let mut agent = Agent::new(|_| {});
    agent.server.set_x509_svid_ttl(TTL);
    agent.put_entries(60);
    agent.start();
    agent
        .status_until("first sync", |s| {
            s.last_report.is_some_and(|r| r.svids_signed == 60)
        })
        .await;

    // Each deadline lies within half the lifetime ±10% of the half-life; the deadlines are
    // spread (60 equal ones would be a failed jitter).
    let mut deadlines = Vec::new();
    for entry in agent.manager.entries() {
        let times = agent.manager.svid_times(entry.id().as_str()).unwrap();
        let start = times.not_before.as_secs();
        let lifetime = (times.not_after.as_secs() - start) as f64;
        let offset = (times.rotate_at.as_secs() - start) as f64;
        assert!(
            (0.45 * lifetime - 1.0..=0.55 * lifetime + 1.0).contains(&offset),
            "rotation at {offset} s of a {lifetime} s lifetime"
        );
        deadlines.push(times.rotate_at.as_secs());
    }
    deadlines.sort_unstable();
    deadlines.dedup();
    assert!(deadlines.len() > 20, "deadlines not spread: {deadlines:?}");
    let (first, last) = (deadlines[0], *deadlines.last().unwrap());

    // Just before the first deadline nothing has rotated, though the agent kept syncing.
    let before = serials(&agent);
    let now = agent.clock.now().as_secs();
    tokio::time::advance(Duration::from_secs(first - now - 10)).await;
    let rounds = agent.manager.status().rounds;
    agent.rounds_after(rounds, 2).await;
    assert_eq!(serials(&agent), before);

    // Past the last deadline every SVID has been re-signed once, and workloads were told.
    let mut changes = agent.manager.changes();
    changes.mark_unchanged();
    let now = agent.clock.now().as_secs();
    tokio::time::advance(Duration::from_secs(last - now + 1)).await;
    agent
        .status_until("every SVID re-signed", |_| {
            let after = serials(&agent);
            after.iter().all(|(id, serial)| before[id] != *serial)
        })
        .await;
    next_change(&mut changes).await;
    let server_signed = agent.server.stats().x509_svids_signed;
    assert_eq!(server_signed, 120, "each SVID signed exactly twice");
    for entry in agent.manager.entries() {
        let times = agent.manager.svid_times(entry.id().as_str()).unwrap();
        assert!(times.rotate_at.as_secs() > last);
    }
    agent.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_outage_keeps_svids_served_backs_off_and_recovers() {
    let mut agent = Agent::new(|_| {});
    agent.server.set_x509_svid_ttl(TTL);
    agent.put_entries(10);
    agent.start();
    agent.status_until("first sync", |s| s.successes >= 1).await;
    let selectors = [Selector::parse("unix:uid:1003").unwrap()];
    let served = agent.manager.workload_view(&selectors);
    let serial = served.identities[0]
        .svid
        .as_ref()
        .unwrap()
        .leaf()
        .serial()
        .to_vec();

    agent.server.set_failing(true);
    let calls_before = agent.server.sync_times().len();
    let failing = agent
        .status_until("20 failed rounds", |s| s.consecutive_failures >= 20)
        .await;
    assert!(failing.last_error.is_some());

    // The cached SVID is still served throughout.
    let view = agent.manager.workload_view(&selectors);
    let svid = view.identities[0].svid.as_ref().expect("still served");
    assert_eq!(svid.leaf().serial(), serial.as_slice());

    // The last success was followed by the plain 5 s interval; then the waits between failed
    // attempts are 5 s, ×1.5 each, ±10%, capped at 48 × 5 s = 240 s.
    let times = agent.server.sync_times();
    let gaps: Vec<f64> = times[calls_before - 1..]
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    assert!(gaps.len() >= 19, "{gaps:?}");
    assert!((gaps[0] - 5.0).abs() < 0.01, "{gaps:?}");
    let mut expected = 5.0_f64;
    for (i, gap) in gaps.iter().enumerate().skip(1) {
        if i > 1 {
            expected = (expected * 1.5).min(240.0);
        }
        assert!(
            (expected * 0.9 - 0.01..=expected * 1.1 + 0.01).contains(gap),
            "wait {i} was {gap} s, expected {expected} s ± 10%: {gaps:?}"
        );
    }
    assert!(
        gaps.last().copied().unwrap() > 200.0,
        "the cap is reached: {gaps:?}"
    );

    // The server returns: the next attempt succeeds, the interval is back to 5 s, and the
    // SVIDs that came due during the outage (over 55% of their hour passed) are re-signed.
    agent.server.set_failing(false);
    let status = agent
        .status_until("recovery", |s| {
            s.consecutive_failures == 0 && s.successes >= 2
        })
        .await;
    assert_eq!(status.next_sync_in, Duration::from_secs(5));
    let outage = times
        .last()
        .unwrap()
        .duration_since(times[calls_before - 1]);
    assert!(
        outage > Duration::from_secs(2000),
        "outage lasted {outage:?}"
    );
    within("re-signing after the outage", async {
        loop {
            let view = agent.manager.workload_view(&selectors);
            if view.identities[0].svid.as_ref().unwrap().leaf().serial() != serial.as_slice() {
                break;
            }
            agent.manager.changes().changed().await.unwrap();
        }
    })
    .await;
    agent.stop().await;
}
