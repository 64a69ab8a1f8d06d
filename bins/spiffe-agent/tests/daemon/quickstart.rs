//! SPIRE's quickstart as an operator runs it: join token, fetch, JWT, watch, restart; config
//! errors; the repository's own configs; insecure bootstrap.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_join_token_fetch_x509_and_restart_without_token() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut server_config = ServerConfigFile::new(&dir.join("server"));
    server_config.cache_reload_interval = Some("1s".into());
    let mut server = ServerProcess::start(&ServerProcess::binary(), &server_config)
        .expect("start spiffe-server (build it first: cargo build -p spiffe-server)");

    // What `token generate` and the bootstrap bundle file give an operator.
    let store = SqlDataStore::open(&SqlSettings::sqlite(server_config.sqlite_path()))
        .await
        .unwrap();
    let token = JoinToken::generate().unwrap();
    let expires = UnixTime::since_unix_epoch(
        UnixTime::now()
            .as_secs()
            .checked_add(600)
            .map(Duration::from_secs)
            .unwrap(),
    );
    store.create_join_token(&token, expires).await.unwrap();
    let td = TrustDomain::new("example.org").unwrap();
    let bundle = store
        .get_bundle(&td)
        .await
        .unwrap()
        .expect("the server's bundle");
    let mut pem = String::new();
    for authority in &bundle.x509_authorities {
        let x509 = spiffe_core::Certificate::from_der(authority.der.clone().into()).unwrap();
        let one = spiffe_core::X509Bundle::from_authorities(td.clone(), vec![x509]);
        pem.push_str(&one.to_pem());
    }
    let bundle_path = dir.join("bootstrap.crt");
    std::fs::write(&bundle_path, pem).unwrap();

    let agent_dir = dir.join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let config = agent_config(&agent_dir, &server_config, &bundle_path);
    let socket = agent_dir.join("public").join("api.sock");
    let socket_arg = socket.to_str().unwrap();

    let mut agent = start_agent(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Starting Workload and SDS APIs")),
        "the agent did not start:\n{}\n--- server ---\n{}",
        agent.output(),
        server.output()
    );
    let log = agent.output();
    assert!(log.contains("Node attestation was successful"), "{log}");
    // The token shows only inside the agent's SPIFFE ID (as in SPIRE; it is spent by then).
    let agent_path = format!("spire/agent/join_token/{}", token.expose());
    for line in log.lines().filter(|l| l.contains(token.expose())) {
        assert_eq!(
            line.matches(token.expose()).count(),
            line.matches(&agent_path).count(),
            "the join token appears outside the agent ID: {line}"
        );
    }

    // `entry create -parentID <agent> -spiffeID spiffe://example.org/myservice -selector unix:uid:<uid>`
    let uid = std::fs::metadata(dir).unwrap().uid();
    let agent_id = SpiffeId::new(&format!(
        "spiffe://example.org/spire/agent/join_token/{}",
        token.expose()
    ))
    .unwrap();
    let entry = RegistrationEntry::builder(
        new_entry_id().unwrap(),
        SpiffeId::new("spiffe://example.org/myservice").unwrap(),
        agent_id,
    )
    .selector(Selector::new("unix", &format!("uid:{uid}")).unwrap())
    .build()
    .unwrap();
    let created = store.create_entries(vec![entry]).await.unwrap();
    assert!(created[0].is_ok(), "{:?}", created[0]);

    // `spiffe-agent api fetch x509 -write DIR`, retried until the entry reached the agent.
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let deadline = Instant::now() + WAIT;
    let output = loop {
        let output = agent_cli(&[
            "api",
            "fetch",
            "x509",
            "-socketPath",
            socket_arg,
            "-write",
            out_dir.to_str().unwrap(),
        ]);
        if output.status.success() {
            break output;
        }
        assert!(
            Instant::now() < deadline,
            "no SVID: {}\n--- agent ---\n{}",
            text(&output.stderr),
            agent.output()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("Received 1 svid after "), "{stdout}");
    assert!(
        stdout.contains("SPIFFE ID:\t\tspiffe://example.org/myservice"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!(
        "Writing SVID #0 to file {}.",
        out_dir.join("svid.0.pem").display()
    )));
    let svid = X509Svid::parse_pem(
        &std::fs::read(out_dir.join("svid.0.pem")).unwrap(),
        &std::fs::read(out_dir.join("svid.0.key")).unwrap(),
    )
    .unwrap();
    assert_eq!(svid.spiffe_id().as_str(), "spiffe://example.org/myservice");
    let key_mode = std::fs::metadata(out_dir.join("svid.0.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    let bundle_file = std::fs::read_to_string(out_dir.join("bundle.0.pem")).unwrap();
    assert!(bundle_file.contains("BEGIN CERTIFICATE"));

    // JWT-SVIDs: fetch, then validate.
    let output = agent_cli(&[
        "api",
        "fetch",
        "jwt",
        "-audience",
        "web",
        "-socketPath",
        socket_arg,
    ]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        stdout.starts_with("token(spiffe://example.org/myservice):\n\t"),
        "{stdout}"
    );
    assert!(
        stdout.contains("bundle(spiffe://example.org):") || stdout.contains("bundle(example.org):"),
        "{stdout}"
    );
    let jwt = stdout.lines().nth(1).unwrap().trim().to_owned();
    let output = agent_cli(&[
        "api",
        "validate",
        "jwt",
        "-audience",
        "web",
        "-svid",
        &jwt,
        "-socketPath",
        socket_arg,
    ]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        stdout.starts_with("SVID is valid.\nSPIFFE ID : spiffe://example.org/myservice\n"),
        "{stdout}"
    );
    let output = agent_cli(&[
        "api",
        "validate",
        "jwt",
        "-audience",
        "other",
        "-svid",
        &jwt,
        "-socketPath",
        socket_arg,
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).starts_with("SVID is not valid: "),
        "{}",
        text(&output.stderr)
    );

    let output = agent_cli(&["healthcheck", "-socketPath", socket_arg]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Agent is healthy.\n");

    // The `spiffe` crate (0.19), as a workload would use it.
    let client = spiffe::WorkloadApiClient::connect_to(format!("unix:{}", socket.display()))
        .await
        .unwrap();
    let svid = client.fetch_x509_svid().await.unwrap();
    assert_eq!(
        svid.spiffe_id().to_string(),
        "spiffe://example.org/myservice"
    );
    let jwt_svid = client.fetch_jwt_svid(["web"], None).await.unwrap();
    assert_eq!(
        jwt_svid.spiffe_id().to_string(),
        "spiffe://example.org/myservice"
    );

    // The agent keeps its SVID and key in data_dir; the key is private.
    let key_mode = std::fs::metadata(agent_dir.join("data").join("agent_svid.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);

    // `api watch` prints the first context, then the next one when a second entry arrives.
    let mut watch = start_agent(&["api", "watch", "-socketPath", socket_arg]);
    assert!(
        watch.wait_for_line(WAIT, |l| l.starts_with("Received 1 svid after")),
        "{}",
        watch.output()
    );
    create_entry(&store, &token, "spiffe://example.org/second", dir).await;
    assert!(
        watch.wait_for_line(WAIT, |l| l.starts_with("Received 2 svids after")),
        "{}\n--- agent ---\n{}",
        watch.output(),
        agent.output()
    );
    assert!(
        watch.wait_for_line(WAIT, |l| l == "SPIFFE ID:\t\tspiffe://example.org/second"),
        "{}",
        watch.output()
    );

    // Restart without a token: the stored SVID is used, nothing is attested again. SIGTERM
    // ends the open watch stream; the watcher reports it and keeps trying.
    let status = agent.terminate().unwrap();
    assert!(
        watch.wait_for_line(WAIT, |l| l.starts_with("rpc error: code = ")),
        "{}",
        watch.output()
    );
    assert!(status.success(), "{status:?}\n{}", agent.output());
    assert!(!socket.exists(), "the socket is removed on a clean stop");
    drop(agent);
    let mut agent = start_agent(&["run", "-config", config.to_str().unwrap()]);
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Starting Workload and SDS APIs")),
        "the agent did not restart:\n{}",
        agent.output()
    );
    let log = agent.output();
    assert!(log.contains("Using the stored agent SVID"), "{log}");
    assert!(!log.contains("Node attestation was successful"), "{log}");
    let deadline = Instant::now() + WAIT;
    loop {
        let output = agent_cli(&["api", "fetch", "x509", "-socketPath", socket_arg, "-silent"]);
        if output.status.success() {
            assert_eq!(text(&output.stdout), "");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no SVID after restart: {}\n--- agent ---\n{}",
            text(&output.stderr),
            agent.output()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(agent.terminate().unwrap().success());
    assert!(server.terminate().unwrap().success());
}

#[test]
fn config_errors_name_the_key_and_its_line() {
    // Config errors reach the operator with the key and its line, before anything starts.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("agent.conf");
    std::fs::write(
        &path,
        "agent {\n  trust_domain = \"example.org\"\n  server_address = \"127.0.0.1\"\n  bogus_key = 1\n}\nplugins {}\n",
    )
    .unwrap();
    let output = agent_cli(&["validate", "-config", path.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("SPIRE agent configuration file is invalid: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("bogus_key") && stderr.contains("line 4"),
        "{stderr}"
    );
    let output = agent_cli(&["run", "-config", path.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("bogus_key"));
}

/// The repository's quickstart configs: the server signs under the dummy upstream root, the
/// agent bootstraps trust from `conf/agent/dummy_root_ca.crt`, and `-output json` reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_quickstart_configs_bootstrap_from_the_dummy_root() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let upstream = format!(
        "    UpstreamAuthority \"disk\" {{\n        plugin_data {{\n            key_file_path = \"{}\"\n            cert_file_path = \"{}\"\n        }}\n    }}\n",
        repo_file("conf/server/dummy_upstream_ca.key").display(),
        repo_file("conf/server/dummy_upstream_ca.crt").display(),
    );
    let (server_config, mut server, store) = start_server(dir, &upstream).await;
    let token = new_token(&store).await;

    // conf/agent/agent.conf with this test's directory, port and socket.
    let data = dir.join("data");
    let socket = dir.join("public").join("api.sock");
    let conf_text = std::fs::read_to_string(repo_file("conf/agent/agent.conf"))
        .unwrap()
        .replace("./.data", data.to_str().unwrap())
        .replace(
            "./conf/agent/dummy_root_ca.crt",
            repo_file("conf/agent/dummy_root_ca.crt").to_str().unwrap(),
        )
        .replace("\"8081\"", &format!("\"{}\"", server_config.bind_port))
        .replace("/tmp/spire-agent/public/api.sock", socket.to_str().unwrap());
    let config = dir.join("agent.conf");
    std::fs::write(&config, conf_text).unwrap();
    let output = agent_cli(&["validate", "-config", config.to_str().unwrap()]);
    assert_eq!(
        text(&output.stdout),
        "SPIRE agent configuration file is valid.\n"
    );

    let mut agent = start_agent(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Starting Workload and SDS APIs")),
        "the agent did not start:\n{}\n--- server ---\n{}",
        agent.output(),
        server.output()
    );
    create_entry(&store, &token, "spiffe://example.org/myservice", dir).await;
    let socket_arg = socket.to_str().unwrap();
    let output = until_ok(
        &[
            "api",
            "fetch",
            "x509",
            "-socketPath",
            socket_arg,
            "-output",
            "json",
        ],
        &agent,
    )
    .await;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        json["svids"][0]["spiffe_id"],
        "spiffe://example.org/myservice"
    );
    // The bundle served holds the upstream root the agent bootstrapped with.
    let root = std::fs::read(repo_file("conf/agent/dummy_root_ca.crt")).unwrap();
    let root = spiffe_core::X509Bundle::parse_pem(TrustDomain::new("example.org").unwrap(), &root)
        .unwrap();
    let served = std::fs::read(data.join("bundle.pem")).unwrap();
    let served =
        spiffe_core::X509Bundle::parse_pem(TrustDomain::new("example.org").unwrap(), &served)
            .unwrap();
    assert!(served.contains(&root.authorities()[0]));
    let output = agent_cli(&["api", "fetch", "jwtbundle", "-socketPath", socket_arg]);
    assert!(
        text(&output.stdout).starts_with("bundle("),
        "{}",
        text(&output.stdout)
    );
    assert!(agent.terminate().unwrap().success());
    assert!(server.terminate().unwrap().success());
}

/// `insecure_bootstrap = true` without a bundle: the agent warns, attests, and keeps the
/// server's bundle (fetched after attestation) in data_dir for its next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_bootstrap_warns_attests_and_stores_the_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (server_config, mut server, store) = start_server(dir, "").await;
    let token = new_token(&store).await;
    let data = dir.join("data");
    let socket = dir.join("api.sock");
    let health_port = spiffe_server::testing::process::free_port();
    let metrics_port = spiffe_server::testing::process::free_port();
    let config = dir.join("agent.conf");
    std::fs::write(
        &config,
        format!(
            "agent {{\n  data_dir = \"{}\"\n  server_address = \"127.0.0.1\"\n  server_port = {}\n  socket_path = \"{}\"\n  trust_domain = \"example.org\"\n  insecure_bootstrap = true\n}}\nplugins {{\n  NodeAttestor \"join_token\" {{ plugin_data {{}} }}\n  KeyManager \"memory\" {{ plugin_data {{}} }}\n  WorkloadAttestor \"unix\" {{ plugin_data {{}} }}\n}}\nhealth_checks {{\n  listener_enabled = true\n  bind_address = \"127.0.0.1\"\n  bind_port = \"{health_port}\"\n  live_path = \"/live\"\n  ready_path = \"/ready\"\n}}\ntelemetry {{\n  Prometheus {{\n    host = \"127.0.0.1\"\n    port = {metrics_port}\n  }}\n}}\n",
            data.display(),
            server_config.bind_port,
            socket.display()
        ),
    )
    .unwrap();
    let mut agent = start_agent(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(WAIT, |l| l.contains("Starting Workload and SDS APIs")),
        "the agent did not start:\n{}\n--- server ---\n{}",
        agent.output(),
        server.output()
    );
    let log = agent.output();
    assert!(log.contains("insecure bootstrap"), "{log}");
    let td = TrustDomain::new("example.org").unwrap();
    let stored = spiffe_core::X509Bundle::parse_pem(
        td.clone(),
        &std::fs::read(data.join("bundle.pem")).unwrap(),
    )
    .unwrap();
    let bundle = store.get_bundle(&td).await.unwrap().unwrap();
    assert_eq!(stored.len(), bundle.x509_authorities.len());
    // KeyManager "memory": the key is never written.
    assert!(!data.join("agent_svid.key").exists());
    create_entry(&store, &token, "spiffe://example.org/insecure", dir).await;
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
    assert!(text(&output.stdout).contains("spiffe://example.org/insecure"));
    // /ready once synced; the cache gauges on the Prometheus listener (refreshed every 5 s).
    let (status, _) = http_get(health_port, "/ready").await;
    assert!(status.contains(" 200 "), "{status}");
    let (_, body) = http_get(metrics_port, "/metrics").await;
    assert!(body.contains("spire_agent_synced"), "{body}");
    assert!(body.contains("spire_agent_cache_entries"), "{body}");
    assert!(agent.terminate().unwrap().success());
    assert!(server.terminate().unwrap().success());
}
