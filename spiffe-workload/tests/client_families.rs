//! Every gRPC client family against the server kit on a Unix socket, as real clients: py-spiffe
//! (grpc-core through grpcio, which sends the percent-encoded socket path as `:authority`) for
//! every call it makes, a bare grpcio channel with its default authority and with the raw socket
//! path as authority (what grpc-java sends), and @grpc/grpc-js (Node.js). The `spiffe` crate is
//! covered by `spiffe_crate_client.rs`.
//!
//! The clients are installed by `scripts/test.sh` (prerequisites): a venv with PyPI `spiffe`
//! and `grpcio` in `target/venv-py`, and `@grpc/grpc-js` + `@grpc/proto-loader` in
//! `target/node-grpc`. `SPIFFE_TEST_PYTHON` and `SPIFFE_TEST_NODE_MODULES` point elsewhere.
//! The tests fail (they do not skip) when a client is missing.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Ca, Running, StaticProvider};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// How long a client may take for everything it does.
const PATIENCE: Duration = Duration::from_secs(60);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

fn python() -> PathBuf {
    let python = std::env::var_os("SPIFFE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/venv-py/bin/python"));
    assert!(
        python.exists(),
        "{} missing: run scripts/test.sh (prerequisites) to install py-spiffe",
        python.display()
    );
    python
}

fn node_modules() -> PathBuf {
    let modules = std::env::var_os("SPIFFE_TEST_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/node-grpc/node_modules"));
    assert!(
        modules.join("@grpc/grpc-js").exists(),
        "{} missing: run scripts/test.sh (prerequisites) to install @grpc/grpc-js",
        modules.display()
    );
    modules
}

fn example() -> (Ca, std::sync::Arc<StaticProvider>) {
    let (ca, other) = (Ca::new("example.org"), Ca::new("other.org"));
    let provider = StaticProvider::example(&ca, &other);
    (ca, provider)
}

/// The next JSON line of a client, which must not report an error.
async fn next(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> Value {
    let line = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("a line");
    let value: Value = serde_json::from_str(&line).unwrap();
    assert!(value.get("error").is_none(), "{value}");
    value
}

/// Runs a client to completion and returns its stdout lines as JSON.
async fn run(command: &mut Command) -> Vec<Value> {
    let output = tokio::time::timeout(PATIENCE, command.stdin(Stdio::null()).output())
        .await
        .expect("client finished in time")
        .unwrap();
    assert!(
        output.status.success(),
        "client failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_spiffe_makes_every_call() {
    let (ca, provider) = example();
    let server = Running::start(provider.clone());
    let mut child = Command::new(python())
        .arg(script("py_spiffe_client.py"))
        .arg(&server.path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let workload = "spiffe://example.org/workload";
    let both = ["example.org", "other.org"];
    let v = next(&mut lines).await;
    assert_eq!(
        (v["call"].as_str(), v["spiffe_id"].as_str()),
        (Some("fetch_x509_svid"), Some(workload))
    );
    let v = next(&mut lines).await;
    assert_eq!(v["ids"], serde_json::json!([workload]));
    let v = next(&mut lines).await;
    assert_eq!(
        (v["call"].as_str(), v["svids"].as_u64()),
        (Some("fetch_x509_context"), Some(1))
    );
    assert_eq!(v["bundles"], serde_json::json!(both));
    let v = next(&mut lines).await;
    assert_eq!(v["bundles"], serde_json::json!(both));
    let v = next(&mut lines).await;
    assert_eq!(
        (v["call"].as_str(), v["spiffe_id"].as_str()),
        (Some("fetch_jwt_svid"), Some(workload))
    );
    assert_eq!(v["audience"], serde_json::json!(["web"]));
    let v = next(&mut lines).await;
    assert_eq!(v["ids"], serde_json::json!([workload]));
    let v = next(&mut lines).await;
    assert_eq!(v["bundles"], serde_json::json!(both));
    let v = next(&mut lines).await;
    assert_eq!(
        (v["call"].as_str(), v["spiffe_id"].as_str()),
        (Some("validate_jwt_svid"), Some(workload))
    );
    let v = next(&mut lines).await;
    assert_eq!(
        (v["call"].as_str(), v["spiffe_id"].as_str()),
        (Some("stream_x509_contexts"), Some(workload))
    );
    let v = next(&mut lines).await;
    assert_eq!(v["bundles"], serde_json::json!(both));
    // A rotation reaches py-spiffe's watch.
    provider.update(|m| m.x509.svids[0].svid = ca.svid("spiffe://example.org/rotated"));
    stdin.write_all(b"rotated\n").await.unwrap();
    let v = next(&mut lines).await;
    assert_eq!(v["spiffe_id"], "spiffe://example.org/rotated");
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    // The provider saw the real caller: this process's uid, a pid and its start time.
    let caller = provider.callers.lock().unwrap()[0];
    assert!(caller.pid.is_some() && caller.start_time.is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_with_its_default_and_a_raw_path_authority() {
    let (_ca, provider) = example();
    let server = Running::start(provider);
    let raw_path = server.path.display().to_string();
    // No option: grpc-core's default authority (the percent-encoded path); then the raw path,
    // as grpc-java sends it; then a name with a port.
    for options in [None, Some(raw_path.as_str()), Some("localhost:1234")] {
        let mut command = Command::new(python());
        command
            .arg(script("grpcio_raw_client.py"))
            .arg(&server.path);
        if let Some(authority) = options {
            command.arg(authority);
        }
        let out = run(&mut command).await;
        assert_eq!(
            out[0]["x509"], "spiffe://example.org/workload",
            "{options:?}"
        );
        assert_eq!(
            out[0]["jwt"], "spiffe://example.org/workload",
            "{options:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_js_makes_its_calls() {
    let (_ca, provider) = example();
    let server = Running::start(provider);
    let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto/workload.proto");
    let out = run(Command::new("node")
        .arg(script("grpc_js_client.js"))
        .arg(&server.path)
        .arg(proto)
        .env("NODE_PATH", node_modules()))
    .await;
    let workload = "spiffe://example.org/workload";
    assert_eq!(out[0]["x509"], workload);
    assert_eq!(out[0]["jwt"], workload);
    assert_eq!(out[0]["validated"], workload);
    assert_eq!(
        out[0]["jwt_bundles"],
        serde_json::json!(["spiffe://example.org", "spiffe://other.org"])
    );
    server.shutdown().await;
}
