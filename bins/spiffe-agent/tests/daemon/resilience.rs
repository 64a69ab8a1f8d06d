//! Sync at scale, refused attestation, server outages, a damaged stored SVID, and the
//! conformance kit against the agent.

use super::*;

/// More authorized entries than the server sends in full (500): the sync goes through
/// revisions and asks for the entries by id; the workload's entry arrives among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_entries_sync_through_revisions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server_config, mut server, store) = start_server(dir, "").await;
    let token = new_token(&store).await;
    let parent = SpiffeId::new(&format!(
        "spiffe://example.org/spire/agent/join_token/{}",
        token.expose()
    ))
    .unwrap();
    let others: Vec<RegistrationEntry> = (0..600)
        .map(|i| {
            RegistrationEntry::builder(
                new_entry_id().unwrap(),
                SpiffeId::new(&format!("spiffe://example.org/other/{i}")).unwrap(),
                parent.clone(),
            )
            .selector(Selector::new("unix", &format!("uid:{}", 100_000 + i)).unwrap())
            .build()
            .unwrap()
        })
        .collect();
    for result in store.create_entries(others).await.unwrap() {
        assert!(result.is_ok());
    }
    create_entry(&store, &token, "spiffe://example.org/mine", dir).await;

    let bundle_path = write_bootstrap_bundle(&store, dir).await;
    let agent_dir = dir.join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let config = agent_config(&agent_dir, &server_config, &bundle_path);
    let mut agent = start_agent(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Starting Workload and SDS APIs")),
        "the agent did not start:\n{}",
        agent.output()
    );
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
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("Received 1 svid after"), "{stdout}");
    assert!(stdout.contains("spiffe://example.org/mine"), "{stdout}");
    assert!(agent.terminate().unwrap().success());
    assert!(server.terminate().unwrap().success());
}

/// A token the server does not know: the agent says why and exits 1, and stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_join_token_fails_attestation_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server_config, mut server, store) = start_server(dir, "").await;
    let bundle_path = write_bootstrap_bundle(&store, dir).await;
    let agent_dir = dir.join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let config = agent_config(&agent_dir, &server_config, &bundle_path);
    let output = agent_cli(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        "00000000-0000-0000-0000-000000000000",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let log = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(log.contains("failed to attest"), "{log}");
    assert!(log.contains("AttestAgent failed"), "{log}");
    assert!(!agent_dir.join("data").join("agent_svid.pem").exists());
    assert!(!agent_dir.join("data").join("agent_svid.key").exists());
    // Without any token, the agent says a token is needed.
    let output = agent_cli(&["run", "-config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let log = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(log.contains("a join token is required"), "{log}");
    assert!(server.terminate().unwrap().success());
}

/// The server goes away (SIGKILL): workloads keep getting their cached SVIDs; when it comes
/// back (same CA: disk key manager), the agent syncs again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_outage_keeps_svids_served_and_the_agent_recovers() {
    use spiffe_server::testing::process::KeyManagerKind;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut server_config = ServerConfigFile::new(&dir.join("server"));
    server_config.cache_reload_interval = Some("1s".into());
    server_config.key_manager = KeyManagerKind::Disk;
    let mut server = ServerProcess::start(&ServerProcess::binary(), &server_config)
        .expect("start spiffe-server (build it first: cargo build -p spiffe-server)");
    let store = SqlDataStore::open(&SqlSettings::sqlite(server_config.sqlite_path()))
        .await
        .unwrap();
    let token = new_token(&store).await;
    let bundle_path = write_bootstrap_bundle(&store, dir).await;
    let agent_dir = dir.join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let config = agent_config(&agent_dir, &server_config, &bundle_path);
    let mut agent = start_agent(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Starting Workload and SDS APIs")),
        "the agent did not start:\n{}",
        agent.output()
    );
    create_entry(&store, &token, "spiffe://example.org/before", dir).await;
    let socket = agent_dir.join("public").join("api.sock");
    let socket_arg = socket.to_str().unwrap();
    until_ok(&["api", "fetch", "x509", "-socketPath", socket_arg], &agent).await;

    // Outage: the cached SVID is still served.
    server.kill().unwrap();
    drop(server);
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("sync with the server failed")),
        "{}",
        agent.output()
    );
    let output = agent_cli(&["api", "fetch", "x509", "-socketPath", socket_arg]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("spiffe://example.org/before"));

    // The server returns; an entry created meanwhile reaches the agent.
    create_entry(&store, &token, "spiffe://example.org/after", dir).await;
    let mut server = ServerProcess::start(&ServerProcess::binary(), &server_config)
        .expect("restart spiffe-server");
    let deadline = Instant::now() + WAIT;
    loop {
        let output = agent_cli(&["api", "fetch", "x509", "-socketPath", socket_arg]);
        if text(&output.stdout).contains("spiffe://example.org/after") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not recover:\n{}\n--- server ---\n{}",
            agent.output(),
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(agent.terminate().unwrap().success());
    assert!(server.terminate().unwrap().success());
}

/// A stored SVID that cannot be used (here: not a certificate) is reported and replaced by a
/// new attestation; the file is rewritten with a usable SVID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_stored_svid_is_replaced_by_a_new_attestation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server_config, mut server, store) = start_server(dir, "").await;
    let bundle_path = write_bootstrap_bundle(&store, dir).await;
    let agent_dir = dir.join("agent");
    let data = agent_dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("agent_svid.pem"), "not a certificate").unwrap();
    std::fs::write(data.join("agent_svid.key"), "not a key").unwrap();
    let config = agent_config(&agent_dir, &server_config, &bundle_path);
    let token = new_token(&store).await;
    let mut agent = start_agent(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Starting Workload and SDS APIs")),
        "the agent did not start:\n{}",
        agent.output()
    );
    let log = agent.output();
    assert!(
        log.contains("Stored agent SVID is unusable; attesting again"),
        "{log}"
    );
    assert!(log.contains("Node attestation was successful"), "{log}");
    let svid = X509Svid::parse_pem(
        &std::fs::read(data.join("agent_svid.pem")).unwrap(),
        &std::fs::read(data.join("agent_svid.key")).unwrap(),
    )
    .unwrap();
    assert!(svid
        .spiffe_id()
        .as_str()
        .ends_with(&format!("/spire/agent/join_token/{}", token.expose())));
    assert!(agent.terminate().unwrap().success());
    assert!(server.terminate().unwrap().success());
}

/// `spiffe conformance workload-api` (the kit of issue 18) against the agent's Workload API:
/// every check passes, including a rotation seen on the stream (60 s SVIDs, renewed at
/// half-life).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_kit_passes_against_the_agent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server_config, mut server, store) = start_server(dir, "").await;
    let bundle_path = write_bootstrap_bundle(&store, dir).await;
    let agent_dir = dir.join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let config = agent_config(&agent_dir, &server_config, &bundle_path);
    let token = new_token(&store).await;
    let agent = start_agent(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    create_entry(&store, &token, "spiffe://example.org/conformance", dir).await;
    let socket = agent_dir.join("public").join("api.sock");
    until_ok(
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
    // The `spiffe` tool, built beside the server by the workspace build.
    let spiffe = ServerProcess::binary().with_file_name("spiffe");
    assert!(
        spiffe.exists(),
        "{} (cargo build -p spiffe-cli)",
        spiffe.display()
    );
    let output = std::process::Command::new(&spiffe)
        .args([
            "conformance",
            "workload-api",
            "--endpoint",
            &format!("unix://{}", socket.display()),
            "--audience",
            "conformance",
        ])
        .output()
        .unwrap();
    let report = text(&output.stdout);
    assert!(output.status.success(), "{report}{}", text(&output.stderr));
    assert!(report.contains(" passed, 0 failed"), "{report}");
    assert!(!report.lines().any(|l| l.starts_with("fail")), "{report}");
    drop(agent);
    assert!(server.terminate().unwrap().success());
}
