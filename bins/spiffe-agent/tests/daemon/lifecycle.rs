//! The agent's identity over time: renewal at half-life, the admin API's alias and ban, x509pop
//! attestation and re-attestation.

use std::sync::Arc;

use super::*;

/// With a 6 s agent SVID, the agent renews it (`RenewAgent`) at half-life, stores the new one,
/// and keeps syncing over mTLS with it: an entry created after two renewals still arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_svid_is_renewed_at_half_life_and_the_agent_keeps_working() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut config = ServerConfigFile::new(&dir.join("server"));
    config.cache_reload_interval = Some("1s".into());
    config.extra_server = "    agent_ttl = \"6s\"\n".into();
    let mut server = ServerProcess::start(&ServerProcess::binary(), &config)
        .expect("start spiffe-server (build it first: cargo build -p spiffe-server)");
    let store = SqlDataStore::open(&SqlSettings::sqlite(config.sqlite_path()))
        .await
        .unwrap();
    let token = new_token(&store).await;
    let bundle_path = write_bootstrap_bundle(&store, dir).await;
    let agent_dir = dir.join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let agent_conf = agent_config(&agent_dir, &config, &bundle_path);
    let mut agent = start_agent(&[
        "run",
        "-config",
        agent_conf.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Starting Workload and SDS APIs")),
        "the agent did not start:\n{}",
        agent.output()
    );
    let started = Instant::now();
    let first = std::fs::read(agent_dir.join("data").join("agent_svid.pem")).unwrap();
    for round in 1..=2u32 {
        assert!(
            agent.wait_for_line(WAIT, |l| l.contains("Successfully rotated agent SVID")),
            "no renewal:\n{}\n--- server ---\n{}",
            agent.output(),
            server.output()
        );
        // At half-life (3 s each), not earlier: the server backdates notBefore by 10 s.
        assert!(
            started.elapsed() >= Duration::from_secs(2) * round,
            "renewal {round} came after {:?}",
            started.elapsed()
        );
    }
    let renewed = std::fs::read(agent_dir.join("data").join("agent_svid.pem")).unwrap();
    assert_ne!(first, renewed, "the renewed SVID is stored");
    create_entry(&store, &token, "spiffe://example.org/after-renewal", dir).await;
    let socket = agent_dir.join("public").join("api.sock");
    let output = until_ok(
        &[
            "api",
            "fetch",
            "x509",
            "-socketPath",
            socket.to_str().unwrap(),
        ],
        &agent,
    )
    .await;
    assert!(text(&output.stdout).contains("spiffe://example.org/after-renewal"));
    assert!(agent.terminate().unwrap().success());
    assert!(server.terminate().unwrap().success());
}

/// SPIRE's quickstart through the server's admin API, as its CLI does it: `CreateJoinToken`
/// with `-spiffeID spiffe://example.org/myagent` (a node alias entry), then an entry parented
/// to the alias, not to the agent. The agent is authorized for it through the alias. Then
/// `BanAgent`: the agent stops, says why, and removes its SVID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_through_the_admin_api_with_a_node_alias_then_a_ban() {
    use spire_api_proto::server::agent::v1::agent_client::AgentClient;
    use spire_api_proto::server::agent::v1::CreateJoinTokenRequest;
    use spire_api_proto::server::entry::v1::entry_client::EntryClient;
    use spire_api_proto::server::entry::v1::BatchCreateEntryRequest;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server_config, mut server, store) = start_server(dir, "").await;
    let admin = server.admin_channel().await;
    let myagent = SpiffeId::new("spiffe://example.org/myagent").unwrap();
    let token = AgentClient::new(admin.clone())
        .create_join_token(CreateJoinTokenRequest {
            ttl: 600,
            token: String::new(),
            agent_id: Some(spire_api_proto::convert::spiffe_id_to_proto(&myagent)),
        })
        .await
        .unwrap()
        .into_inner()
        .value;

    let bundle_path = write_bootstrap_bundle(&store, dir).await;
    let agent_dir = dir.join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let config = agent_config(&agent_dir, &server_config, &bundle_path);
    let mut agent = start_agent(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        &token,
    ]);
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Starting Workload and SDS APIs")),
        "the agent did not start:\n{}\n--- server ---\n{}",
        agent.output(),
        server.output()
    );

    // `entry create -parentID spiffe://example.org/myagent -spiffeID …/myservice -selector unix:uid:$(id -u)`
    let uid = std::fs::metadata(dir).unwrap().uid();
    let entry = RegistrationEntry::builder(
        new_entry_id().unwrap(),
        SpiffeId::new("spiffe://example.org/myservice").unwrap(),
        myagent,
    )
    .selector(Selector::new("unix", &format!("uid:{uid}")).unwrap())
    .build()
    .unwrap();
    let response = EntryClient::new(admin)
        .batch_create_entry(BatchCreateEntryRequest {
            entries: vec![spire_api_proto::convert::entry_to_proto(&entry).unwrap()],
            output_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.results[0].status.as_ref().unwrap().code, 0);

    let socket = agent_dir.join("public").join("api.sock");
    let output = until_ok(
        &[
            "api",
            "fetch",
            "x509",
            "-socketPath",
            socket.to_str().unwrap(),
        ],
        &agent,
    )
    .await;
    assert!(text(&output.stdout).contains("SPIFFE ID:\t\tspiffe://example.org/myservice"));

    // `spiffe-server agent ban`: the agent says why, removes its SVID and stops (exit 1).
    let agent_id = SpiffeId::new(&format!(
        "spiffe://example.org/spire/agent/join_token/{token}"
    ))
    .unwrap();
    AgentClient::new(server.admin_channel().await)
        .ban_agent(spire_api_proto::server::agent::v1::BanAgentRequest {
            id: Some(spire_api_proto::convert::spiffe_id_to_proto(&agent_id)),
        })
        .await
        .unwrap();
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Agent is banned or evicted")),
        "{}",
        agent.output()
    );
    // It stops by itself (`wait` is bounded and kills it otherwise).
    let status = agent.wait().expect("the banned agent did not stop");
    assert_eq!(status.code(), Some(1));
    assert!(!agent_dir.join("data").join("agent_svid.pem").exists());
    assert!(server.terminate().unwrap().success());
}

/// `NodeAttestor "x509pop"` on both sides (certificates from spiffe-ca): attestation over a
/// challenge, answered by the attestor's own thread; with a 6 s `agent_ttl` the server tells
/// the agent to re-attest instead of renewing, and it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x509pop_attests_over_a_challenge_and_reattests_at_half_life() {
    use base64::Engine;
    use spiffe_ca::keys::{KeyType, Signer, SoftwareSigner};
    use spiffe_ca::x509::{X509SvidIssuer, X509SvidRequest};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A node CA and a node certificate it signed.
    let nodes = TrustDomain::new("nodes.test").unwrap();
    let now = UnixTime::now();
    let ca_key: Arc<dyn Signer> =
        Arc::new(SoftwareSigner::generate("node-ca", KeyType::EcP256).unwrap());
    let until = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() + 3600));
    let ca = X509SvidIssuer::self_signed(&nodes, ca_key, now, until).unwrap();
    let node_key = SoftwareSigner::generate("node", KeyType::EcP256).unwrap();
    let minted = ca
        .mint(
            &X509SvidRequest::new(
                SpiffeId::new("spiffe://nodes.test/node-1").unwrap(),
                node_key.public_key(),
                Duration::from_secs(600),
            ),
            now,
        )
        .unwrap();
    let leaf_der = minted.leaf().as_ref().to_vec();
    let chain: Vec<spiffe_core::Certificate> = minted
        .into_chain()
        .into_iter()
        .map(|c| spiffe_core::Certificate::from_der(c).unwrap())
        .collect();
    let pem_of = |certs: Vec<spiffe_core::Certificate>| {
        spiffe_core::X509Bundle::from_authorities(nodes.clone(), certs).to_pem()
    };
    let ca_path = dir.join("node-ca.pem");
    std::fs::write(&ca_path, pem_of(vec![ca.certificate().clone()])).unwrap();
    let cert_path = dir.join("node.pem");
    std::fs::write(&cert_path, pem_of(chain)).unwrap();
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(node_key.to_pkcs8().unwrap());
    let key_lines: Vec<&str> = key_b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let key_path = dir.join("node.key");
    std::fs::write(
        &key_path,
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            key_lines.join("\n")
        ),
    )
    .unwrap();

    let mut server_config = ServerConfigFile::new(&dir.join("server"));
    server_config.cache_reload_interval = Some("1s".into());
    server_config.extra_server = "    agent_ttl = \"6s\"\n".into();
    server_config.extra_plugins = format!(
        "    NodeAttestor \"x509pop\" {{\n        plugin_data {{\n            ca_bundle_path = \"{}\"\n        }}\n    }}\n",
        ca_path.display()
    );
    let mut server = ServerProcess::start(&ServerProcess::binary(), &server_config)
        .expect("start spiffe-server (build it first: cargo build -p spiffe-server)");
    let store = SqlDataStore::open(&SqlSettings::sqlite(server_config.sqlite_path()))
        .await
        .unwrap();
    let bundle_path = write_bootstrap_bundle(&store, dir).await;

    let agent_dir = dir.join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let config = agent_config(&agent_dir, &server_config, &bundle_path);
    let conf_text = std::fs::read_to_string(&config).unwrap().replace(
        "NodeAttestor \"join_token\" {\n        plugin_data {}",
        &format!(
            "NodeAttestor \"x509pop\" {{\n        plugin_data {{\n            certificate_path = \"{}\"\n            private_key_path = \"{}\"\n        }}",
            cert_path.display(),
            key_path.display()
        ),
    );
    std::fs::write(&config, conf_text).unwrap();
    let mut agent = start_agent(&["run", "-config", config.to_str().unwrap()]);
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Starting Workload and SDS APIs")),
        "the agent did not start:\n{}\n--- server ---\n{}",
        agent.output(),
        server.output()
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &leaf_der);
    let fingerprint: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let agent_id = format!("spiffe://example.org/spire/agent/x509pop/{fingerprint}");
    let log = agent.output();
    assert!(log.contains("Node attestation was successful"), "{log}");
    assert!(log.contains(&agent_id), "{log}");

    // Half-life: the server refuses RenewAgent for a re-attestable agent; it attests again.
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Successfully rotated agent SVID")),
        "no re-attestation:\n{}\n--- server ---\n{}",
        agent.output(),
        server.output()
    );
    assert!(agent
        .output()
        .contains("Server asks the agent to attest again"));

    let uid = std::fs::metadata(dir).unwrap().uid();
    let entry = RegistrationEntry::builder(
        new_entry_id().unwrap(),
        SpiffeId::new("spiffe://example.org/on-x509pop-node").unwrap(),
        SpiffeId::new(&agent_id).unwrap(),
    )
    .selector(Selector::new("unix", &format!("uid:{uid}")).unwrap())
    .build()
    .unwrap();
    assert!(store.create_entries(vec![entry]).await.unwrap()[0].is_ok());
    let socket = agent_dir.join("public").join("api.sock");
    let output = until_ok(
        &[
            "api",
            "fetch",
            "x509",
            "-socketPath",
            socket.to_str().unwrap(),
        ],
        &agent,
    )
    .await;
    assert!(text(&output.stdout).contains("spiffe://example.org/on-x509pop-node"));
    assert!(agent.terminate().unwrap().success());
    assert!(server.terminate().unwrap().success());
}
