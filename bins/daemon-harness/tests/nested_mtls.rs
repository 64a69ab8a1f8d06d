//! Real mTLS between workloads of nested servers, as processes on loopback. The workloads are
//! this test process, selected by its binary path (`unix:path`), holding `X509Source`s on the
//! agents' Workload APIs; servers and clients are `spiffe-tls` over TCP on 127.0.0.1, each
//! authorizing its peer by exact SPIFFE ID.
//!
//! - Across levels: a workload of the root's agent and a workload of the downstream's agent
//!   shake hands (both ways) every 300 ms while the root CA rotates, the downstream CA
//!   rotates, and the old root is tainted and revoked. No handshake may fail; at the end both
//!   levels' SVIDs chain to the new root only (checked by `openssl verify` too). Once with
//!   the downstream CA rotated by hand before the taint, once without: then the downstream
//!   replaces its CA by itself when the root taints the authority it chains to.
//! - Two tenants: two downstream servers under one root; a workload of tenant A authorizes
//!   one workload of tenant B by ID and refuses another of tenant B, whose chain verifies:
//!   authorization is by SPIFFE ID, not by issuing server.
//!
//! Needs the binaries (`cargo build -p spiffe-server -p spiffe-agent`) and `openssl`.
#![allow(clippy::unwrap_used)]

mod nested_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use daemon_harness::{agent::agent_binary, Domain};
use nested_support::*;
use spiffe_core::{
    Certificate, SpiffeId, TrustDomain, X509Bundle, X509BundleSource, X509Svid, X509SvidSource,
};
use spiffe_tls::tokio::{dial, listen, PeerSpiffeId};
use spiffe_tls::{mtls_client_config, mtls_server_config, Authorizer, PeerRejected};
use spiffe_workload::{EndpointAddress, WorkloadApiClient, X509Source};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn trust_domain() -> TrustDomain {
    TrustDomain::new(TD).unwrap()
}

/// The selector of this test process (the workload of every entry below).
fn this_process() -> String {
    path_selector(&std::env::current_exe().unwrap())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An `X509Source` on `domain`'s agent handing out this process's SVID for `id` (the agent
/// may hold several for it); waits, bounded, until the agent has that SVID.
async fn workload_source(domain: &Domain, id: &str) -> X509Source {
    let address = EndpointAddress::parse(&format!(
        "unix://{}",
        domain.agent_config.socket_path.display()
    ))
    .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let want = id.to_owned();
        let attempt = async {
            let client = WorkloadApiClient::connect(&address)
                .await
                .map_err(|e| e.to_string())?;
            X509Source::builder()
                .with_client(client)
                .with_picker(move |svids| {
                    svids
                        .iter()
                        .position(|e| e.svid.spiffe_id().to_string() == want)
                })
                .build()
                .await
                .map_err(|e| e.to_string())
        };
        let last = match tokio::time::timeout(Duration::from_secs(10), attempt).await {
            Ok(Ok(source)) if source.x509_svid().is_some() => return source,
            Ok(Ok(_)) => "no SVID for it yet".to_owned(),
            Ok(Err(e)) => e,
            Err(_) => "timed out".to_owned(),
        };
        assert!(
            Instant::now() < deadline,
            "no SVID for {id} from {}: {last}\n--- agent ---\n{}",
            address,
            domain.agent.output()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A TLS server answering `hello <peer ID>: <line>` to each connection; the errors of failed
/// handshakes are collected (a refusal by the SPIFFE verifier as its `PeerRejected`).
struct EchoServer {
    addr: SocketAddr,
    errors: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl EchoServer {
    async fn start(config: rustls::ServerConfig) -> Self {
        let errors = Arc::new(Mutex::new(Vec::new()));
        let log = errors.clone();
        let mut listener = listen("127.0.0.1:0", config)
            .await
            .unwrap()
            .on_handshake_error(move |_, e| {
                let why =
                    PeerRejected::from_io(e).map_or_else(|| e.to_string(), |r| format!("{r:?}"));
                log.lock().unwrap().push(why);
            });
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let peer = stream
                        .peer_spiffe_id()
                        .map(|id| id.to_string())
                        .unwrap_or_default();
                    let (reader, mut writer) = tokio::io::split(stream);
                    let mut line = String::new();
                    if BufReader::new(reader).read_line(&mut line).await.is_ok() {
                        let answer = format!("hello {peer}: {line}");
                        let _ = writer.write_all(answer.as_bytes()).await;
                        let _ = writer.shutdown().await;
                    }
                });
            }
        });
        Self { addr, errors, task }
    }

    fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection to `addr`: handshake, `ping`, the answer line (bounded in time).
async fn ping(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Result<String, String> {
    let exchange = async {
        let stream = dial(addr, config).await.map_err(|e| format!("dial: {e}"))?;
        let (reader, mut writer) = tokio::io::split(stream);
        writer
            .write_all(b"ping\n")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut line = String::new();
        BufReader::new(reader)
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if line.is_empty() {
            return Err("the server closed the connection".to_owned());
        }
        Ok(line.trim_end().to_owned())
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| "timed out".to_owned())?
}

fn server_config(
    svids: impl X509SvidSource + Send + Sync + 'static,
    bundles: impl X509BundleSource + Send + Sync + 'static,
    allow: &str,
) -> rustls::ServerConfig {
    mtls_server_config(
        provider(),
        svids,
        bundles,
        Authorizer::exact(SpiffeId::new(allow).unwrap()),
    )
    .unwrap()
}

fn client_config(
    svids: impl X509SvidSource + Send + Sync + 'static,
    bundles: impl X509BundleSource + Send + Sync + 'static,
    allow: &str,
) -> Arc<rustls::ClientConfig> {
    Arc::new(
        mtls_client_config(
            provider(),
            svids,
            bundles,
            Authorizer::exact(SpiffeId::new(allow).unwrap()),
        )
        .unwrap(),
    )
}

/// `spiffe-server <args>` on `domain`, which must succeed; its stdout.
fn ok(domain: &Domain, args: &[&str]) -> String {
    let out = domain.server_cli(args).unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n--- server ---\n{}",
        text(&out),
        domain.server.output()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first `Authority ID:` in a `localauthority` answer.
fn authority_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Authority ID:"))
        .unwrap_or_else(|| panic!("no authority ID in {out}"))
        .trim()
        .to_owned()
}

/// The X.509 roots `source`'s agent serves for the trust domain.
fn roots(source: &X509Source) -> Vec<Certificate> {
    source
        .x509_bundle_for(&trust_domain())
        .map(|b| b.authorities().to_vec())
        .unwrap_or_default()
}

/// The SKI (hex) of the root `svid` chains to: the authority key ID of its chain's last
/// certificate.
fn anchor_of(svid: &X509Svid) -> String {
    let top = svid.chain().last().unwrap();
    hex(top.authority_key_id().unwrap_or_default())
}

fn ski(cert: &Certificate) -> String {
    hex(cert.subject_key_id().unwrap())
}

fn pem(certs: &[Certificate]) -> String {
    let mut out = String::new();
    for cert in certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der().as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// Handshakes counted by phase, and every failure with the phase it happened in.
#[derive(Default)]
struct Tally {
    phase: String,
    ok: usize,
    failures: Vec<String>,
}

const ROOT_WL: &str = "spiffe://example.org/level/root-workload";
const DS_WL: &str = "spiffe://example.org/level/ds-workload";

/// The root's and the downstream's CAs rotate by hand (`localauthority x509 prepare` /
/// `activate`), then the old root is tainted and revoked, while a root-level workload and a
/// downstream workload shake hands both ways every 300 ms. SVIDs live 10 minutes, so no
/// SVID rotates by age during the test: the re-signing after the taint is the taint's doing,
/// at both levels.
#[test]
fn mtls_across_levels_survives_rotations_and_a_revoked_root() {
    across_levels(true);
}

/// As above without rotating the downstream CA by hand: when the root taints the authority
/// the downstream's CA chains to, the downstream replaces its CA by itself (as SPIRE's
/// downstream servers do), so its workloads are re-signed under the new root before the old
/// one is revoked.
#[test]
fn a_root_taint_rotates_the_downstream_ca_under_it() {
    across_levels(false);
}

fn across_levels(rotate_downstream_by_hand: bool) {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let ttls = "    ca_ttl = \"1h\"\n    default_x509_svid_ttl = \"10m\"\n";
    let root = root_domain_with(dir.path(), |server, agent| {
        server.extra_server = ttls.into();
        agent.sync_interval = Some("2s".into());
    });
    let agent_bin = agent_binary();
    register_downstream_server(&root);
    root.create_entry(ROOT_WL, &[&this_process()], &[]).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Entries reach the agent in one sync: once this process has its SVID, the downstream
    // server has one too.
    let root_source = runtime.block_on(workload_source(&root, ROOT_WL));
    let ds = downstream_domain_named(dir.path(), "downstream", &root, |server, agent| {
        server.extra_server = "    ca_ttl = \"30m\"\n    default_x509_svid_ttl = \"10m\"\n".into();
        agent.sync_interval = Some("2s".into());
    })
    .unwrap();
    ds.create_entry(DS_WL, &[&this_process()], &[]).unwrap();
    let ds_source = runtime.block_on(workload_source(&ds, DS_WL));
    let setup = started.elapsed();

    let old_root = authority_id(&ok(&root, &["localauthority", "x509", "show"]));
    let first_ds_ca = authority_id(&ok(&ds, &["localauthority", "x509", "show"]));
    assert_eq!(
        roots(&root_source).iter().map(ski).collect::<Vec<_>>(),
        std::slice::from_ref(&old_root),
        "the root agent serves the one root"
    );
    for source in [&root_source, &ds_source] {
        assert_eq!(anchor_of(&source.x509_svid().unwrap()), old_root);
    }

    // Each side serves with its own SVID and trusts only its own agent's bundle.
    let (tally, stop) = (
        Arc::new(Mutex::new(Tally::default())),
        Arc::new(AtomicBool::new(false)),
    );
    let (servers, driver) = runtime.block_on(async {
        let ds_server =
            EchoServer::start(server_config(ds_source.clone(), ds_source.clone(), ROOT_WL)).await;
        let root_server = EchoServer::start(server_config(
            root_source.clone(),
            root_source.clone(),
            DS_WL,
        ))
        .await;
        let to_ds = client_config(root_source.clone(), root_source.clone(), DS_WL);
        let to_root = client_config(ds_source.clone(), ds_source.clone(), ROOT_WL);
        let targets = [
            (
                "root → downstream",
                ds_server.addr,
                to_ds,
                format!("hello {ROOT_WL}: ping"),
            ),
            (
                "downstream → root",
                root_server.addr,
                to_root,
                format!("hello {DS_WL}: ping"),
            ),
        ];
        let (tally, stop) = (tally.clone(), stop.clone());
        let driver = tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                for (label, addr, config, expected) in &targets {
                    let result = ping(*addr, config.clone()).await;
                    let mut tally = tally.lock().unwrap();
                    match result {
                        Ok(line) if &line == expected => tally.ok += 1,
                        other => {
                            let failure = format!("[{}] {label}: {other:?}", tally.phase);
                            tally.failures.push(failure);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        ([ds_server, root_server], driver)
    });

    // Runs `action` as phase `name`, then lets handshakes go on until at least `min` more
    // succeeded; fails at once on any failed handshake (client or server side).
    let mut phase_counts: Vec<(String, usize)> = Vec::new();
    let mut phase = |name: &str, min: usize, action: &mut dyn FnMut()| {
        let before = {
            let mut tally = tally.lock().unwrap();
            tally.phase = name.to_owned();
            tally.ok
        };
        action();
        let deadline = Instant::now() + WAIT;
        loop {
            let (done, failures) = {
                let tally = tally.lock().unwrap();
                (tally.ok - before, tally.failures.clone())
            };
            let server_errors: Vec<String> = servers.iter().flat_map(EchoServer::errors).collect();
            assert!(
                failures.is_empty() && server_errors.is_empty(),
                "failed handshakes: {failures:#?}\nserver side: {server_errors:#?}\n--- root ---\n{}\n--- downstream ---\n{}\n--- downstream agent ---\n{}",
                root.server.output(),
                ds.server.output(),
                ds.agent.output()
            );
            if done >= min {
                phase_counts.push((name.to_owned(), done));
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: only {done} handshakes in a minute"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    // Polls `check` (bounded) while the handshakes go on.
    let wait_for = |what: &str, check: &dyn Fn() -> bool| {
        let deadline = Instant::now() + WAIT;
        while !check() {
            assert!(
                Instant::now() < deadline,
                "{what}\n--- root ---\n{}\n--- downstream ---\n{}",
                root.server.output(),
                ds.server.output()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };

    phase("steady", 10, &mut || {});

    // Root CA rotation: the next root reaches both levels' agents before it signs anything.
    let mut new_root = String::new();
    phase("root prepared", 6, &mut || {
        new_root = authority_id(&ok(&root, &["localauthority", "x509", "prepare"]));
        wait_for("the prepared root reaches both agents", &|| {
            [&root_source, &ds_source].iter().all(|s| {
                let skis: Vec<String> = roots(s).iter().map(ski).collect();
                skis.contains(&old_root) && skis.contains(&new_root)
            })
        });
    });
    phase("root activated", 6, &mut || {
        ok(
            &root,
            &[
                "localauthority",
                "x509",
                "activate",
                "-authorityID",
                &new_root,
            ],
        );
    });

    // Downstream CA rotation: its next CA is signed by the root's active (new) authority.
    if rotate_downstream_by_hand {
        phase("downstream rotated", 6, &mut || {
            let prepared = authority_id(&ok(&ds, &["localauthority", "x509", "prepare"]));
            ok(
                &ds,
                &[
                    "localauthority",
                    "x509",
                    "activate",
                    "-authorityID",
                    &prepared,
                ],
            );
        });
    }
    // Nothing re-signed yet: SVIDs outlive the test.
    for source in [&root_source, &ds_source] {
        assert_eq!(anchor_of(&source.x509_svid().unwrap()), old_root);
    }

    // Taint the old root: both agents re-sign what chains to it, the downstream's agent by
    // the taint mark its server copied from the root's bundle (and, when the downstream's
    // active CA chains to the old root, once the downstream replaced its CA).
    phase("old root tainted", 6, &mut || {
        ok(
            &root,
            &["localauthority", "x509", "taint", "-authorityID", &old_root],
        );
        wait_for("both workloads re-signed under the new root", &|| {
            [&root_source, &ds_source]
                .iter()
                .all(|s| anchor_of(&s.x509_svid().unwrap()) == new_root)
        });
    });
    // The downstream followed the root's taint by itself (its old CA chains to the tainted
    // root); tainting it there by hand is refused as done already.
    wait_for("the downstream follows the taint", &|| {
        ds.server
            .output()
            .contains("Upstream authority tainted by the upstream server")
    });
    let by_hand = ds
        .server_cli(&["upstreamauthority", "taint", "-subjectKeyID", &old_root])
        .unwrap();
    assert!(
        !by_hand.status.success() && text(&by_hand).contains("is already tainted"),
        "{}",
        text(&by_hand)
    );
    phase("old root revoked", 6, &mut || {
        ok(
            &root,
            &[
                "localauthority",
                "x509",
                "revoke",
                "-authorityID",
                &old_root,
            ],
        );
        wait_for("the old root leaves both agents' bundles", &|| {
            [&root_source, &ds_source]
                .iter()
                .all(|s| roots(s).iter().map(ski).collect::<Vec<_>>() == [new_root.clone()])
        });
    });
    // The downstream revoked the old root too (the root's bundle no longer holds it): its old
    // CA is gone.
    wait_for("the downstream follows the revocation", &|| {
        ds.server
            .output()
            .contains("Upstream authority revoked by the upstream server")
    });
    let ds_authorities = ok(&ds, &["localauthority", "x509", "show"]);
    assert_ne!(
        authority_id(&ds_authorities),
        first_ds_ca,
        "the downstream CA was replaced"
    );
    assert!(
        !ds_authorities.contains("Old X.509 authority:\n  Authority ID"),
        "{ds_authorities}"
    );
    // After the revocation both agents still reach their servers: a new entry arrives.
    phase("after the revocation", 10, &mut || {
        for (domain, name) in [(&root, "root-after"), (&ds, "ds-after")] {
            let id = format!("spiffe://{TD}/{name}");
            domain
                .create_entry(&id, &[&path_selector(&agent_bin)], &[])
                .unwrap();
            domain.wait_for_svid(&id).unwrap();
        }
    });
    stop.store(true, Ordering::SeqCst);
    runtime.block_on(driver).unwrap();

    // Both levels' SVIDs chain to the new root only, by an independent verifier.
    let new_root_cert: Vec<Certificate> = roots(&root_source);
    let only_new = dir.path().join("new-root.pem");
    std::fs::write(&only_new, pem(&new_root_cert)).unwrap();
    let root_bundle = dir.path().join("root-bundle.pem");
    write_bundle(&root, &root_bundle);
    assert_eq!(
        pem_count(&root_bundle),
        1,
        "the root server's bundle holds the new root only"
    );
    for (name, source, chain_len) in [("root", &root_source, 1), ("downstream", &ds_source, 2)] {
        let svid = source.x509_svid().unwrap();
        assert_eq!(
            svid.chain().len(),
            chain_len,
            "{name}: {:?}",
            svid.chain().len()
        );
        let chain = dir.path().join(format!("{name}-chain.pem"));
        std::fs::write(&chain, pem(svid.chain())).unwrap();
        for bundle in [&only_new, &root_bundle] {
            let (verified, out) = openssl_verifies(bundle, &chain);
            assert!(verified, "{name} SVID against {}: {out}", bundle.display());
        }
    }
    assert!(
        healthcheck_verbose(&ds).contains("Upstream authority is reachable."),
        "{}",
        healthcheck_verbose(&ds)
    );

    let tally = tally.lock().unwrap();
    eprintln!(
        "setup {setup:?}, total {:?}: {} handshakes, none failed; by phase: {phase_counts:?}",
        started.elapsed(),
        tally.ok
    );
    assert!(tally.failures.is_empty());
}

const A_SERVER: &str = "spiffe://example.org/tenant-a/server";
const B_CLIENT: &str = "spiffe://example.org/tenant-b/client";
const B_OTHER: &str = "spiffe://example.org/tenant-b/other";

/// Two downstream servers (tenants A and B) under one root. A's workload serves, allowing
/// B's `client` only; B's `client` gets through, B's `other` (same issuing server, a chain
/// that verifies) is refused by the authorizer. Both sides trust the root's bundle alone.
#[test]
fn tenants_authorize_each_other_by_spiffe_id_not_by_issuing_server() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_domain(dir.path());
    let agent_bin = agent_binary();
    register_downstream_server(&root);
    root.create_entry(
        &format!("spiffe://{TD}/marker"),
        &[&path_selector(&agent_bin)],
        &[],
    )
    .unwrap();
    root.wait_for_svid(&format!("spiffe://{TD}/marker"))
        .unwrap();
    let a = downstream_domain_named(dir.path(), "tenant-a", &root, |_, _| {}).unwrap();
    let b = downstream_domain_named(dir.path(), "tenant-b", &root, |_, _| {}).unwrap();
    a.create_entry(A_SERVER, &[&this_process()], &[]).unwrap();
    b.create_entry(B_CLIENT, &[&this_process()], &[]).unwrap();
    b.create_entry(B_OTHER, &[&this_process()], &[]).unwrap();

    // The root's bundle, as an operator hands it out: the only trust either side has.
    let root_bundle_path = dir.path().join("root-bundle.pem");
    write_bundle(&root, &root_bundle_path);
    let root_certs =
        spiffe_core::x509::parse_certificates(&std::fs::read(&root_bundle_path).unwrap()).unwrap();
    assert_eq!(root_certs.len(), 1);
    let root_ski = ski(&root_certs[0]);
    let root_bundle = Arc::new(X509Bundle::from_authorities(trust_domain(), root_certs));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let a_server = workload_source(&a, A_SERVER).await;
        let b_client = workload_source(&b, B_CLIENT).await;
        let b_other = workload_source(&b, B_OTHER).await;

        // Two issuing servers: each SVID's intermediate is its tenant's CA, and both
        // intermediates are signed by the root.
        let (a_svid, b_svid, other_svid) = (
            a_server.x509_svid().unwrap(),
            b_client.x509_svid().unwrap(),
            b_other.x509_svid().unwrap(),
        );
        for svid in [&a_svid, &b_svid, &other_svid] {
            assert_eq!(svid.chain().len(), 2, "leaf, then the tenant's CA");
            assert_eq!(anchor_of(svid), root_ski);
        }
        assert_ne!(
            a_svid.chain()[1].der(),
            b_svid.chain()[1].der(),
            "tenants A and B have CAs of their own"
        );
        assert_eq!(b_svid.chain()[1].der(), other_svid.chain()[1].der());

        let server = EchoServer::start(server_config(
            a_server.clone(),
            root_bundle.clone(),
            B_CLIENT,
        ))
        .await;
        let answer = ping(
            server.addr,
            client_config(b_client.clone(), root_bundle.clone(), A_SERVER),
        )
        .await;
        assert_eq!(answer, Ok(format!("hello {B_CLIENT}: ping")));
        assert!(server.errors().is_empty(), "{:?}", server.errors());

        // B's other workload: its chain verifies against the root's bundle, its ID is not
        // the one allowed.
        let refused = ping(
            server.addr,
            client_config(b_other.clone(), root_bundle.clone(), A_SERVER),
        )
        .await;
        assert!(
            refused.is_err(),
            "B's other workload got through: {refused:?}"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.errors().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let expected = format!(
            "{:?}",
            PeerRejected::Unauthorized {
                spiffe_id: SpiffeId::new(B_OTHER).unwrap(),
            }
        );
        assert_eq!(
            server.errors(),
            [expected],
            "refused on authorization, not on its chain"
        );

        // The same workload, allowed by ID, gets through the same server's trust.
        let allowing_other = EchoServer::start(server_config(
            a_server.clone(),
            root_bundle.clone(),
            B_OTHER,
        ))
        .await;
        let answer = ping(
            allowing_other.addr,
            client_config(b_other.clone(), root_bundle.clone(), A_SERVER),
        )
        .await;
        assert_eq!(answer, Ok(format!("hello {B_OTHER}: ping")));

        // And A's workload accepts B's client as a server too (the other direction).
        let b_serves = EchoServer::start(server_config(
            b_client.clone(),
            root_bundle.clone(),
            A_SERVER,
        ))
        .await;
        let answer = ping(
            b_serves.addr,
            client_config(a_server.clone(), root_bundle.clone(), B_CLIENT),
        )
        .await;
        assert_eq!(answer, Ok(format!("hello {A_SERVER}: ping")));
    });
}
