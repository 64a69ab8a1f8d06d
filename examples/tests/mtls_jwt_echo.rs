//! Runs `mtls_jwt_echo` as a user does: the server and the client as processes, each with
//! `SPIFFE_ENDPOINT_SOCKET` pointing at its own socket of a Workload API served by this test.
//! Checks the echo and the JWT check, and the refusals: a server that is not the one asked for,
//! a client the server does not allow, and a JWT-SVID for another audience.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

use common::{TrustDomainCa, Workload};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const SERVER: &str = "spiffe://example.org/echo-server";
const CLIENT: &str = "spiffe://example.org/echo-client";
const INTRUDER: &str = "spiffe://example.org/intruder";
const PROGRAM: &str = env!("CARGO_BIN_EXE_mtls_jwt_echo");

/// Every step is bounded: a hung process fails the test instead of stalling the suite.
const LIMIT: Duration = Duration::from_secs(30);

/// The echo server process and the lines it prints.
struct Server {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    addr: String,
}

impl Server {
    async fn start(workload: &Workload) -> Self {
        let mut child = Command::new(PROGRAM)
            .args(["serve", "--listen", "127.0.0.1:0", "--client", CLIENT])
            .args(["--audience", "echo"])
            .env("SPIFFE_ENDPOINT_SOCKET", workload.endpoint())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, mut lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = tx.send(line);
            }
        });
        let first = tokio::time::timeout(LIMIT, lines.recv())
            .await
            .expect("the server starts in time")
            .expect("the server prints its address");
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        Self { child, lines, addr }
    }

    /// The next line the server prints that contains `text`.
    async fn line_with(&mut self, text: &str) -> String {
        let wait = async {
            loop {
                let line = self.lines.recv().await.expect("the server is running");
                if line.contains(text) {
                    return line;
                }
            }
        };
        tokio::time::timeout(LIMIT, wait)
            .await
            .unwrap_or_else(|_| panic!("no server line with {text:?}"))
    }
}

/// Runs the client with the identity of `workload` to completion.
async fn call(workload: &Workload, server: &Server, server_id: &str, audience: &str) -> Output {
    let child = Command::new(PROGRAM)
        .args(["call", "--connect", &server.addr, "--server", server_id])
        .args(["--audience", audience, "hello", "second line"])
        .env("SPIFFE_ENDPOINT_SOCKET", workload.endpoint())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .expect("the client finishes in time")
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_echo_with_jwt_auth_on_the_workload_api() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TrustDomainCa::new("example.org");
    let server_workload = ca.serve(dir.path(), SERVER);
    let client_workload = ca.serve(dir.path(), CLIENT);
    let intruder_workload = ca.serve(dir.path(), INTRUDER);
    let mut server = Server::start(&server_workload).await;

    // The echo, after the mTLS handshake and the JWT check.
    let out = call(&client_workload, &server, SERVER, "echo").await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            format!("server: {SERVER}"),
            format!("authenticated as {CLIENT}"),
            "echo: hello".to_owned(),
            "echo: second line".to_owned(),
        ]
    );
    let line = server.line_with("authenticated").await;
    assert_eq!(
        line.split_once(": ").map(|(_, rest)| rest),
        Some("authenticated by mTLS and JWT-SVID")
    );

    // A JWT-SVID for another audience: the mTLS handshake succeeds, the JWT check does not.
    let out = call(&client_workload, &server, SERVER, "another-service").await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("denied: invalid JWT-SVID"), "{stderr}");
    let line = server.line_with("denied").await;
    assert!(line.contains(CLIENT), "{line}");

    // The client expects another server ID: it refuses the server in the handshake.
    let out = call(
        &client_workload,
        &server,
        "spiffe://example.org/other",
        "echo",
    )
    .await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "server refused: peer SPIFFE ID {SERVER} is not authorized"
        )),
        "{stderr}"
    );

    // A workload the server does not allow: refused in the handshake, nothing echoed.
    let out = call(&intruder_workload, &server, SERVER, "echo").await;
    assert!(!out.status.success());
    assert!(
        !text(&out.stdout).contains("echo:"),
        "{}",
        text(&out.stdout)
    );
    let line = server.line_with("refused").await;
    assert!(
        line.ends_with(&format!(
            "refused: peer SPIFFE ID {INTRUDER} is not authorized"
        )),
        "{line}"
    );

    server.child.start_kill().unwrap();
    let _ = tokio::time::timeout(LIMIT, server.child.wait()).await;
}

#[tokio::test]
async fn a_missing_workload_api_socket_fails_at_once_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("agent.sock");
    let child = Command::new(PROGRAM)
        .args(["serve", "--listen", "127.0.0.1:0", "--client", CLIENT])
        .args(["--audience", "echo"])
        .env(
            "SPIFFE_ENDPOINT_SOCKET",
            format!("unix://{}", missing.display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Well under the sources' 30 s wait for a first update.
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("fails fast")
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "error: Workload API socket {} does not exist",
            missing.display()
        )
    );
}
