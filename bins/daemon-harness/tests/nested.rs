//! Nested servers as processes on loopback: a root server and its agent, a downstream server
//! (`UpstreamAuthority "spire"`) that gets its identity from the root agent's Workload API and
//! its CA from the root, and the downstream's own agent. Workloads are the agent CLI
//! (`spiffe-agent api fetch`), selected by binary path.
//!
//! Needs the binaries: `cargo build -p spiffe-server -p spiffe-agent`, and `openssl` on the
//! path (the chains are checked by an independent verifier).
#![allow(clippy::unwrap_used)]

mod nested_support;

use std::time::{Duration, Instant};

use daemon_harness::{agent::agent_binary, Domain, KeyManagerKind, ServerProcess};
use nested_support::*;

#[test]
fn downstream_svids_chain_to_the_root_and_survive_a_root_outage() {
    let dir = tempfile::tempdir().unwrap();
    let mut root = root_domain(dir.path());
    let server_bin = ServerProcess::binary();
    let agent_bin = agent_binary();
    register_downstream_server(&root);
    root.create_entry(
        &format!("spiffe://{TD}/root-workload"),
        &[&path_selector(&agent_bin)],
        &[],
    )
    .unwrap();
    // Entries reach the agent in one sync: once the workload's SVID is there, so is the
    // downstream server's.
    root.wait_for_svid(&format!("spiffe://{TD}/root-workload"))
        .unwrap();

    let ds = downstream_domain(dir.path(), &root).unwrap();
    ds.create_entry(
        &format!("spiffe://{TD}/ds-workload"),
        &[&path_selector(&agent_bin)],
        &[],
    )
    .unwrap();
    ds.wait_for_svid(&format!("spiffe://{TD}/ds-workload"))
        .unwrap();

    // Both workloads' SVIDs verify against the root server's bundle alone.
    let root_bundle = dir.path().join("root-bundle.pem");
    write_bundle(&root, &root_bundle);
    let ds_chain = fetch_svid(&ds, &dir.path().join("ds-svid"));
    let root_chain = fetch_svid(&root, &dir.path().join("root-svid"));
    assert_eq!(pem_count(&ds_chain), 2, "leaf, then the downstream CA");
    assert_eq!(pem_count(&root_chain), 1, "a leaf of the self-signed root");
    for chain in [&ds_chain, &root_chain] {
        let (ok, out) = openssl_verifies(&root_bundle, chain);
        assert!(ok, "{} does not verify: {out}", chain.display());
    }
    // And not against a bundle without the root: the downstream's leaf is not self-anchored.
    let (ok, _) = openssl_verifies(&dir.path().join("ds-svid/svid.0.pem"), &ds_chain);
    assert!(!ok, "a chain must not verify against its own leaf and CA");

    // A JWT-SVID minted downstream validates at the root's agent (its key was published).
    let token_out = ds.agent_cli(&["api", "fetch", "jwt", "-audience", "nested-test"]);
    assert!(token_out.status.success(), "{}", text(&token_out));
    let token = String::from_utf8_lossy(&token_out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("ey") && w.matches('.').count() == 2)
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no token in {}", text(&token_out)));
    eventually("downstream JWT-SVID validates at the root agent", || {
        let out = root.agent_cli(&[
            "api",
            "validate",
            "jwt",
            "-audience",
            "nested-test",
            "-svid",
            &token,
        ]);
        if out.status.success() {
            Ok(())
        } else {
            Err(text(&out))
        }
    });
    assert!(healthcheck_verbose(&ds).contains("Upstream authority is reachable."));

    // Root outage: the downstream says so and goes on issuing.
    root.server.kill().unwrap();
    eventually("healthcheck -verbose reports the outage", || {
        let out = healthcheck_verbose(&ds);
        if out.contains("Upstream authority is unreachable") && out.contains("Server is healthy.") {
            Ok(())
        } else {
            Err(out)
        }
    });
    ds.create_entry(
        &format!("spiffe://{TD}/during-outage"),
        &[&path_selector(&agent_bin)],
        &[],
    )
    .unwrap();
    ds.wait_for_svid(&format!("spiffe://{TD}/during-outage"))
        .unwrap();
    assert!(
        ds.server.output().contains("Upstream server unreachable"),
        "the outage is logged"
    );

    // The root returns (same datastore, same bind port): the downstream reconnects.
    root.server = ServerProcess::start(&server_bin, &root.server_config).unwrap();
    eventually("healthcheck -verbose reports the return", || {
        let out = healthcheck_verbose(&ds);
        if out.contains("Upstream authority is reachable.") {
            Ok(())
        } else {
            Err(out)
        }
    });
}

#[test]
fn a_caller_without_a_downstream_entry_gets_no_ca() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_domain(dir.path());
    // The server's identity exists, but its entry is not marked downstream.
    root.create_entry(
        &format!("spiffe://{TD}/not-downstream"),
        &[&path_selector(&ServerProcess::binary())],
        &[],
    )
    .unwrap();
    root.create_entry(
        &format!("spiffe://{TD}/marker"),
        &[&path_selector(&agent_binary())],
        &[],
    )
    .unwrap();
    root.wait_for_svid(&format!("spiffe://{TD}/marker"))
        .unwrap();

    let err = downstream_domain(dir.path(), &root)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("refused NewDownstreamX509CA") && err.contains("authorization denied"),
        "the downstream server must fail to start, refused by the root: {err}"
    );
    // Nothing was signed for it: the root's log has no downstream CA.
    assert!(!root.server.output().contains("Signed downstream X509 CA"));
}

/// Short CA lifetimes (root 240 s, downstream 120 s; SVIDs 20 s): both CAs rotate while the
/// two workloads keep fetching, and at every moment each workload's chain verifies against
/// the bundle the *other* workload's agent serves, as an mTLS handshake between them would.
#[test]
fn root_and_downstream_ca_rotations_keep_both_levels_verifying() {
    let dir = tempfile::tempdir().unwrap();
    let short =
        |ca_ttl: &str| format!("    ca_ttl = \"{ca_ttl}\"\n    default_x509_svid_ttl = \"20s\"\n");
    let root_ttl = short("240s");
    let root = Domain::start(&dir.path().join("root"), TD, |server, agent| {
        server.key_manager = KeyManagerKind::Disk;
        server.extra_server = root_ttl;
        agent.unix_attestor_data = "            discover_workload_path = true".into();
    })
    .unwrap();
    let agent_bin = agent_binary();
    register_downstream_server(&root);
    root.create_entry(
        &format!("spiffe://{TD}/root-workload"),
        &[&path_selector(&agent_bin)],
        &[],
    )
    .unwrap();
    root.wait_for_svid(&format!("spiffe://{TD}/root-workload"))
        .unwrap();
    let block = spire_upstream(&root);
    let ds_ttl = short("120s");
    let ds = Domain::start(&dir.path().join("downstream"), TD, move |server, agent| {
        server.extra_plugins = block;
        server.extra_server = ds_ttl;
        agent.unix_attestor_data = "            discover_workload_path = true".into();
    })
    .unwrap();
    ds.create_entry(
        &format!("spiffe://{TD}/ds-workload"),
        &[&path_selector(&agent_bin)],
        &[],
    )
    .unwrap();
    ds.wait_for_svid(&format!("spiffe://{TD}/ds-workload"))
        .unwrap();

    let (mut root_issuers, mut ds_issuers) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut round = 0;
    while root_issuers.len() < 2 || ds_issuers.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no rotation seen: root issuers {root_issuers:?}, downstream issuers {ds_issuers:?}\n--- root ---\n{}\n--- downstream ---\n{}",
            root.server.output(),
            ds.server.output()
        );
        round += 1;
        let root_dir = dir.path().join(format!("r{round}"));
        let ds_dir = dir.path().join(format!("d{round}"));
        let root_chain = fetch_svid(&root, &root_dir);
        let ds_chain = fetch_svid(&ds, &ds_dir);
        // Each side's chain against the other side's bundle.
        for (chain, bundle) in [
            (&root_chain, ds_dir.join("bundle.0.pem")),
            (&ds_chain, root_dir.join("bundle.0.pem")),
        ] {
            let (ok, out) = openssl_verifies(&bundle, chain);
            assert!(
                ok,
                "round {round}: {} against {}: {out}\n--- downstream ---\n{}\n{}",
                chain.display(),
                bundle.display(),
                ds.server.output(),
                text(&ds.server_cli(&["localauthority", "x509", "show"]).unwrap())
            );
        }
        for (chain, seen) in [
            (&root_chain, &mut root_issuers),
            (&ds_chain, &mut ds_issuers),
        ] {
            let issuer = leaf_issuer(chain);
            if !seen.contains(&issuer) {
                seen.push(issuer);
            }
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}
