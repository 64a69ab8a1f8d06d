//! The agent as a process against a real `spiffe-server` process: SPIRE's quickstart.
//!
//! Needs the server binary: `cargo build -p spiffe-server` first (or `SPIFFE_SERVER_BIN`).
//! The join token and the workload entry are written to the server's SQLite datastore
//! directly (the server re-reads other writers' changes every second here), standing in for
//! `spiffe-server token generate` and `entry create`. The processes are run by
//! `daemon-harness` (its `Domain` does the same set-up with the server's CLI).
//!
//! - [`quickstart`]: SPIRE's quickstart, config errors, the repository's configs, insecure
//!   bootstrap.
//! - [`lifecycle`]: renewal, the admin API's alias and ban, x509pop.
//! - [`resilience`]: sync at scale, refused attestation, outages, a damaged SVID, the
//!   conformance kit.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use daemon_harness::{agent_cli, AgentConfigFile, AgentProcess};

use spiffe_attest::node::join_token::JoinToken;
use spiffe_attest::{RegistrationEntry, Selector};
use spiffe_core::pki_types::UnixTime;
use spiffe_core::{SpiffeId, TrustDomain, X509Svid};
use spiffe_server::datastore::{new_entry_id, DataStore, SqlDataStore, SqlSettings};
use spiffe_server::testing::process::{ServerConfigFile, ServerProcess};

const WAIT: Duration = Duration::from_secs(60);

mod lifecycle;
mod quickstart;
mod resilience;

/// `spiffe-agent <args>`, not waiting for anything.
fn start_agent(args: &[&str]) -> AgentProcess {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    AgentProcess::spawn(&args).expect("start spiffe-agent")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn agent_config(dir: &Path, server: &ServerConfigFile, bundle: &Path) -> PathBuf {
    let mut config = AgentConfigFile::new(dir, "example.org", server.bind_port);
    config.trust_bundle_path = Some(bundle.to_owned());
    config.write().unwrap()
}

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
