//! The harness itself: a trust domain comes up, an entry reaches a workload (this test process,
//! by uid), and the agent's CLI shows it.
#![allow(clippy::unwrap_used)]

use daemon_harness::{current_uid, Domain};

#[test]
fn a_domain_starts_and_serves_an_entry_to_this_process() {
    let dir = tempfile::tempdir().unwrap();
    let domain = Domain::start(dir.path(), "harness.test", |_, _| {}).unwrap();
    assert!(domain
        .agent_id
        .starts_with("spiffe://harness.test/spire/agent/join_token/"));
    let selector = format!("unix:uid:{}", current_uid());
    let id = domain
        .create_entry("spiffe://harness.test/workload", &[&selector], &[])
        .unwrap();
    assert!(!id.is_empty());
    let out = domain
        .wait_for_svid("spiffe://harness.test/workload")
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("SPIFFE ID:\t\tspiffe://harness.test/workload"),
        "{text}"
    );
    let listed = domain
        .server_cli(&["entry", "show", "-entryID", &id])
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("spiffe://harness.test/workload"));
}
