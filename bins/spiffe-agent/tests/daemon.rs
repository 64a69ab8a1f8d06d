//! The agent as a process against a real `spiffe-server` process: SPIRE's quickstart.
//!
//! Needs the server binary: `cargo build -p spiffe-server` first (or `SPIFFE_SERVER_BIN`).
//! The join token and the workload entry are written to the server's SQLite datastore
//! directly (the server re-reads other writers' changes every second here), standing in for
//! `spiffe-server token generate` and `entry create`.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spiffe_attest::node::join_token::JoinToken;
use spiffe_attest::{RegistrationEntry, Selector};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain, X509Svid};
use spiffe_server::datastore::{new_entry_id, DataStore, SqlDataStore, SqlSettings};
use spiffe_server::testing::process::{ServerConfigFile, ServerProcess};

const AGENT: &str = env!("CARGO_BIN_EXE_spiffe-agent");
const WAIT: Duration = Duration::from_secs(60);

/// A running `spiffe-agent run`.
struct AgentProcess {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    lines: mpsc::Receiver<String>,
}

impl AgentProcess {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(AGENT)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start spiffe-agent");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = mpsc::channel();
        let streams: Vec<Box<dyn std::io::Read + Send>> = vec![
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let (log, tx) = (log.clone(), tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        Self { child, log, lines }
    }

    fn wait_for_line(&mut self, matches: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + WAIT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if matches(&line) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    fn output(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the agent did not stop in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent_cli(args: &[&str]) -> Output {
    let mut child = Command::new(AGENT)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: every api command has a -timeout, but never trust a child to end.
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn agent_config(dir: &Path, server: &ServerConfigFile, bundle: &Path) -> PathBuf {
    let text = format!(
        r#"agent {{
    data_dir = "{data}"
    log_level = "DEBUG"
    server_address = "127.0.0.1"
    server_port = "{port}"
    socket_path = "{socket}"
    trust_bundle_path = "{bundle}"
    trust_domain = "example.org"
    experimental {{
        sync_interval = "1s"
    }}
}}

plugins {{
    NodeAttestor "join_token" {{
        plugin_data {{}}
    }}
    KeyManager "disk" {{
        plugin_data {{
            directory = "{data}"
        }}
    }}
    WorkloadAttestor "unix" {{
        plugin_data {{}}
    }}
}}
"#,
        data = dir.join("data").display(),
        port = server.bind_port,
        socket = dir.join("public").join("api.sock").display(),
        bundle = bundle.display(),
    );
    let path = dir.join("agent.conf");
    std::fs::write(&path, text).unwrap();
    path
}

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

    let mut agent = AgentProcess::start(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(|l| l.contains("Starting Workload and SDS APIs")),
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
    let mut watch = AgentProcess::start(&["api", "watch", "-socketPath", socket_arg]);
    assert!(
        watch.wait_for_line(|l| l.starts_with("Received 1 svid after")),
        "{}",
        watch.output()
    );
    create_entry(&store, &token, "spiffe://example.org/second", dir).await;
    assert!(
        watch.wait_for_line(|l| l.starts_with("Received 2 svids after")),
        "{}\n--- agent ---\n{}",
        watch.output(),
        agent.output()
    );
    assert!(
        watch.wait_for_line(|l| l == "SPIFFE ID:\t\tspiffe://example.org/second"),
        "{}",
        watch.output()
    );

    // Restart without a token: the stored SVID is used, nothing is attested again. SIGTERM
    // ends the open watch stream; the watcher reports it and keeps trying.
    let status = agent.terminate();
    assert!(
        watch.wait_for_line(|l| l.starts_with("rpc error: code = ")),
        "{}",
        watch.output()
    );
    assert!(status.success(), "{status:?}\n{}", agent.output());
    assert!(!socket.exists(), "the socket is removed on a clean stop");
    drop(agent);
    let mut agent = AgentProcess::start(&["run", "-config", config.to_str().unwrap()]);
    assert!(
        agent.wait_for_line(|l| l.contains("Starting Workload and SDS APIs")),
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
    assert!(agent.terminate().success());
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

// === helpers for the tests below ===

/// A server (with `extra_plugins`) whose entry cache re-reads the datastore every second, and
/// its datastore.
async fn start_server(
    dir: &Path,
    extra_plugins: &str,
) -> (ServerConfigFile, ServerProcess, SqlDataStore) {
    let mut config = ServerConfigFile::new(&dir.join("server"));
    config.cache_reload_interval = Some("1s".into());
    config.extra_plugins = extra_plugins.to_owned();
    let server = ServerProcess::start(&ServerProcess::binary(), &config)
        .expect("start spiffe-server (build it first: cargo build -p spiffe-server)");
    let store = SqlDataStore::open(&SqlSettings::sqlite(config.sqlite_path()))
        .await
        .unwrap();
    (config, server, store)
}

/// `token generate`: a token valid for 10 minutes.
async fn new_token(store: &SqlDataStore) -> JoinToken {
    let token = JoinToken::generate().unwrap();
    let expires = UnixTime::since_unix_epoch(Duration::from_secs(UnixTime::now().as_secs() + 600));
    store.create_join_token(&token, expires).await.unwrap();
    token
}

/// `entry create -parentID <agent of token> -spiffeID <id> -selector unix:uid:<our uid>`.
async fn create_entry(store: &SqlDataStore, token: &JoinToken, spiffe_id: &str, dir: &Path) {
    let uid = std::fs::metadata(dir).unwrap().uid();
    let parent = SpiffeId::new(&format!(
        "spiffe://example.org/spire/agent/join_token/{}",
        token.expose()
    ))
    .unwrap();
    let entry = RegistrationEntry::builder(
        new_entry_id().unwrap(),
        SpiffeId::new(spiffe_id).unwrap(),
        parent,
    )
    .selector(Selector::new("unix", &format!("uid:{uid}")).unwrap())
    .build()
    .unwrap();
    let created = store.create_entries(vec![entry]).await.unwrap();
    assert!(created[0].is_ok(), "{:?}", created[0]);
}

/// Runs `args` until it succeeds (the entry has to reach the agent first), at most [`WAIT`].
async fn until_ok(args: &[&str], agent: &AgentProcess) -> Output {
    let deadline = Instant::now() + WAIT;
    loop {
        let output = agent_cli(args);
        if output.status.success() {
            return output;
        }
        assert!(
            Instant::now() < deadline,
            "{args:?} kept failing: {}\n--- agent ---\n{}",
            text(&output.stderr),
            agent.output()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
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

    let mut agent = AgentProcess::start(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(|l| l.contains("Starting Workload and SDS APIs")),
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
    assert!(agent.terminate().success());
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
    let mut agent = AgentProcess::start(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(|l| l.contains("Starting Workload and SDS APIs")),
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
    assert!(agent.terminate().success());
    assert!(server.terminate().unwrap().success());
}

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
    let mut agent = AgentProcess::start(&[
        "run",
        "-config",
        agent_conf.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(|l| l.contains("Starting Workload and SDS APIs")),
        "the agent did not start:\n{}",
        agent.output()
    );
    let started = Instant::now();
    let first = std::fs::read(agent_dir.join("data").join("agent_svid.pem")).unwrap();
    for round in 1..=2u32 {
        assert!(
            agent.wait_for_line(|l| l.contains("Successfully rotated agent SVID")),
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
    assert!(agent.terminate().success());
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
    let mut agent = AgentProcess::start(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        &token,
    ]);
    assert!(
        agent.wait_for_line(|l| l.contains("Starting Workload and SDS APIs")),
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
        agent.wait_for_line(|l| l.contains("Agent is banned or evicted")),
        "{}",
        agent.output()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = agent.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the banned agent did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    assert!(!agent_dir.join("data").join("agent_svid.pem").exists());
    assert!(server.terminate().unwrap().success());
}

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
    let mut agent = AgentProcess::start(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(|l| l.contains("Starting Workload and SDS APIs")),
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
    assert!(agent.terminate().success());
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
    let mut agent = AgentProcess::start(&["run", "-config", config.to_str().unwrap()]);
    assert!(
        agent.wait_for_line(|l| l.contains("Starting Workload and SDS APIs")),
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
        agent.wait_for_line(|l| l.contains("Successfully rotated agent SVID")),
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
    assert!(agent.terminate().success());
    assert!(server.terminate().unwrap().success());
}

/// A bare HTTP/1.1 GET on loopback: (status line, body).
async fn http_get(port: u16, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
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
    let mut agent = AgentProcess::start(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(|l| l.contains("Starting Workload and SDS APIs")),
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
        agent.wait_for_line(|l| l.contains("sync with the server failed")),
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
    assert!(agent.terminate().success());
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
    let mut agent = AgentProcess::start(&[
        "run",
        "-config",
        config.to_str().unwrap(),
        "-joinToken",
        token.expose(),
    ]);
    assert!(
        agent.wait_for_line(|l| l.contains("Starting Workload and SDS APIs")),
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
    assert!(agent.terminate().success());
    assert!(server.terminate().unwrap().success());
}

/// The server's X.509 authorities from its datastore, as the PEM file an operator hands the
/// agent (`trust_bundle_path`).
async fn write_bootstrap_bundle(store: &SqlDataStore, dir: &Path) -> PathBuf {
    let td = TrustDomain::new("example.org").unwrap();
    let bundle = store
        .get_bundle(&td)
        .await
        .unwrap()
        .expect("the server's bundle");
    let mut pem = String::new();
    for authority in &bundle.x509_authorities {
        let x509 = spiffe_core::Certificate::from_der(authority.der.clone().into()).unwrap();
        pem.push_str(&spiffe_core::X509Bundle::from_authorities(td.clone(), vec![x509]).to_pem());
    }
    let path = dir.join("bootstrap.crt");
    std::fs::write(&path, pem).unwrap();
    path
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
    let agent = AgentProcess::start(&[
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
