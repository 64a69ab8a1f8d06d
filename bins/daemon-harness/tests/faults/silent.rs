//! A connection to the server that goes silent: no reset, nothing answered (a dropped NAT
//! mapping, a server host gone). The agent's calls on it run out after their 30 s bound; the
//! agent must then use new connections, not wait for the HTTP/2 keepalive, which notices only
//! after 5 minutes and 20 seconds (pings no more often than every 5 minutes, which a grpc-go
//! server requires).

use std::time::{Duration, Instant};

use super::domain_behind_proxy;

const AFTER_SILENCE: &str = "spiffe://faults.test/created-after-silence";
/// The agent's call bound (30 s), its first sync backoff (5 s), a sync interval and a fetch,
/// with room for a loaded machine; far below the keepalive's 320 s.
const RECOVERY_BOUND: Duration = Duration::from_secs(120);

#[test]
fn a_silent_connection_is_replaced_after_one_timed_out_call() {
    let dir = tempfile::tempdir().unwrap();
    let (domain, proxy, selector) = domain_behind_proxy(dir.path(), String::new());

    proxy.silence_all();
    let silenced = Instant::now();
    assert!(proxy.stats().accepted >= 1, "{:?}", proxy.stats());
    // Reaches the agent only through a sync made after the silence.
    domain
        .create_entry(AFTER_SILENCE, &[&selector], &[])
        .unwrap();
    loop {
        let out = domain.agent_cli(&["api", "fetch", "x509"]);
        if out.status.success() && String::from_utf8_lossy(&out.stdout).contains(AFTER_SILENCE) {
            break;
        }
        assert!(
            silenced.elapsed() < RECOVERY_BOUND,
            "no SVID for the new entry {}s after the connection went silent ({:?})\n--- agent ---\n{}",
            silenced.elapsed().as_secs(),
            proxy.stats(),
            domain.agent.output()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let stats = proxy.stats();
    assert!(stats.silenced >= 1, "{stats:?}");
    // The entry came over a new connection, after the replacement the agent logged.
    assert!(
        domain
            .agent
            .output()
            .contains("later calls use a new connection"),
        "{}",
        domain.agent.output()
    );
}
