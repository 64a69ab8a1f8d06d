//! Runs examples (jwt_hyper_service, tonic_mtls, watcher) against a real trust domain of processes: spiffe-server and an attested
//! spiffe-agent (daemon-harness), with registration entries made by the server's CLI. The
//! workloads are told apart by their binaries (`unix:path` selectors, the agent's unix
//! attestor discovering workload paths), so each example binary is copied once per identity.
//!
//! Needs `cargo build -p spiffe-server -p spiffe-agent` first (`cargo nextest run --workspace`
//! builds them).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::process::{run, succeeded, text, Background};
use daemon_harness::agent::agent_binary;
use daemon_harness::{Domain, ServerProcess};
use tokio::process::Command;

const ORDERS: &str = "spiffe://example.org/orders";
const WEB: &str = "spiffe://example.org/web";
const WATCHER: &str = "spiffe://example.org/watcher";
const GREETER: &str = "spiffe://example.org/greeter";

/// A copy of an example binary at `<dir>/bin/<name>`, so that it has a path of its own.
fn copy(program: &str, dir: &Path, name: &str) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = bin.join(name);
    std::fs::copy(program, &path).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_get_their_identities_from_a_real_agent() {
    for binary in [ServerProcess::binary(), agent_binary()] {
        assert!(
            binary.exists(),
            "{} is missing: run `cargo build -p spiffe-server -p spiffe-agent` first",
            binary.display()
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let domain = tokio::task::spawn_blocking(move || {
        Domain::start(&path, "example.org", |_, agent| {
            agent.unix_attestor_data = "            discover_workload_path = true".into();
        })
    })
    .await
    .unwrap()
    .unwrap();
    let endpoint = format!("unix://{}", domain.agent_config.socket_path.display());

    let service_bin = copy(
        env!("CARGO_BIN_EXE_jwt_hyper_service"),
        dir.path(),
        "orders",
    );
    let client_bin = copy(env!("CARGO_BIN_EXE_jwt_hyper_service"), dir.path(), "web");
    let watcher_bin = copy(env!("CARGO_BIN_EXE_watcher"), dir.path(), "watcher");
    let greeter_bin = copy(env!("CARGO_BIN_EXE_tonic_mtls"), dir.path(), "greeter");
    let grpc_client_bin = copy(env!("CARGO_BIN_EXE_tonic_mtls"), dir.path(), "grpc-web");
    for (id, bin, extra) in [
        (ORDERS, &service_bin, &[][..]),
        (WEB, &client_bin, &[][..]),
        (GREETER, &greeter_bin, &[][..]),
        // The same identity for another binary: a second entry.
        (WEB, &grpc_client_bin, &[][..]),
        // Short-lived, so that the watcher sees the agent rotate it (at half its life).
        (WATCHER, &watcher_bin, &["-x509SVIDTTL", "10"][..]),
    ] {
        let selector = format!("unix:path:{}", bin.display());
        domain.create_entry(id, &[&selector], extra).unwrap();
    }

    // The service, with the identity the agent gives its binary; it waits for its JWT bundle.
    let mut service = Command::new(&service_bin);
    service
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--audience",
            "orders",
            "--allow",
            WEB,
        ])
        .env("SPIFFE_ENDPOINT_SOCKET", &endpoint);
    let mut service = Background::spawn(service);
    let line = service.line_with("listening on ").await;
    let addr = line.strip_prefix("listening on ").unwrap().to_owned();

    // The client; its entry may reach the agent a moment later, so it is retried for a while.
    let deadline = Instant::now() + Duration::from_secs(60);
    let out = loop {
        let mut client = Command::new(&client_bin);
        client
            .args(["call", "--url", &format!("http://{addr}/orders")])
            .args(["--audience", "orders"])
            .env("SPIFFE_ENDPOINT_SOCKET", &endpoint);
        let out = run(client).await;
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let stdout = succeeded(&out);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [format!("calling as {WEB}"), format!("200 OK: hello, {WEB}")],
        "{}",
        domain.agent.output()
    );
    assert_eq!(
        service.line_with("GET /orders").await,
        format!("GET /orders: 200 for {WEB}")
    );
    service.stop().await;

    // gRPC over mTLS with X.509-SVIDs from the agent: the handler sees the client's ID.
    let mut greeter = Command::new(&greeter_bin);
    greeter
        .args(["serve", "--listen", "127.0.0.1:0", "--allow", WEB])
        .env("SPIFFE_ENDPOINT_SOCKET", &endpoint);
    let mut greeter = Background::spawn(greeter);
    assert_eq!(greeter.next_line().await, format!("serving as {GREETER}"));
    let line = greeter.line_with("listening on ").await;
    let addr = line.strip_prefix("listening on ").unwrap().to_owned();
    let mut client = Command::new(&grpc_client_bin);
    client
        .args(["call", "--connect", &addr, "--server", GREETER, "hello"])
        .env("SPIFFE_ENDPOINT_SOCKET", &endpoint);
    let stdout = succeeded(&run(client).await);
    assert_eq!(
        stdout.trim_end(),
        format!("reply: \"hello\" (the server saw {WEB})")
    );
    greeter.stop().await;

    // The watcher sees its SVID, then the agent's rotation of it: a new serial.
    let mut watcher = Command::new(&watcher_bin);
    watcher
        .args(["--count", "2"])
        .env("SPIFFE_ENDPOINT_SOCKET", &endpoint);
    let out = run(watcher).await;
    let stdout = succeeded(&out);
    let svids: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with(&format!("  SVID {WATCHER} serial ")))
        .collect();
    assert_eq!(svids.len(), 2, "{stdout}{}", text(&out.stderr));
    assert_ne!(svids[0], svids[1], "{stdout}");
    assert!(stdout.contains("  X.509 bundle example.org: "), "{stdout}");
    assert!(stdout.contains("  JWT bundle example.org: "), "{stdout}");
}
