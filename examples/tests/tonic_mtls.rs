//! Runs `tonic_mtls` as a user does: the gRPC server and its client as processes, each on its
//! own socket of a Workload API served by this test. Checks the call over mTLS with the
//! caller's SPIFFE ID seen by the server, and the refusals: a caller of the trust domain the
//! server does not allow (PERMISSION_DENIED from the handler), a server other than the one
//! asked for, and a workload of another trust domain (refused in the handshake).
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{failed, run, succeeded, Background};
use common::{TrustDomainCa, Workload};
use tokio::process::Command;

const GREETER: &str = "spiffe://example.org/greeter";
const WEB: &str = "spiffe://example.org/web";
const BATCH: &str = "spiffe://example.org/batch";
const PROGRAM: &str = env!("CARGO_BIN_EXE_tonic_mtls");

fn call(workload: &Workload, addr: &str, server: &str) -> Command {
    let mut command = Command::new(PROGRAM);
    command
        .args([
            "call",
            "--connect",
            addr,
            "--server",
            server,
            "hello",
            "again",
        ])
        .env("SPIFFE_ENDPOINT_SOCKET", workload.endpoint());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tonic_service_over_spiffe_mtls_authorizes_callers_by_spiffe_id() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TrustDomainCa::new("example.org");
    let greeter = ca.serve(dir.path(), GREETER);
    let web = ca.serve(dir.path(), WEB);
    let batch = ca.serve(dir.path(), BATCH);
    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign =
        TrustDomainCa::new("other.org").serve(foreign_dir.path(), "spiffe://other.org/web");

    let mut server = Command::new(PROGRAM);
    server
        .args(["serve", "--listen", "127.0.0.1:0", "--allow", WEB])
        .env("SPIFFE_ENDPOINT_SOCKET", greeter.endpoint());
    let mut server = Background::spawn(server);
    assert_eq!(server.next_line().await, format!("serving as {GREETER}"));
    let line = server.next_line().await;
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected line: {line}"))
        .to_owned();

    // The allowed caller: two calls on one channel, its SPIFFE ID seen by the handler.
    let stdout = succeeded(&run(call(&web, &addr, GREETER)).await);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            format!("reply: \"hello\" (the server saw {WEB})"),
            format!("reply: \"again\" (the server saw {WEB})"),
        ]
    );
    assert_eq!(
        server.next_line().await,
        format!("Say(\"hello\") from {WEB}")
    );
    assert_eq!(
        server.next_line().await,
        format!("Say(\"again\") from {WEB}")
    );

    // A workload of the trust domain, through the handshake, but not allowed by the handler.
    let stderr = failed(&run(call(&batch, &addr, GREETER)).await);
    assert_eq!(
        stderr.trim_end(),
        format!("error: PermissionDenied: {BATCH} is not allowed to call example.Echo")
    );
    assert_eq!(
        server.next_line().await,
        format!("Say from {BATCH}: denied")
    );

    // The client expects another server: it refuses this one in the handshake.
    let stderr = failed(&run(call(&web, &addr, "spiffe://example.org/other")).await);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: cannot connect to {addr}: server refused: peer SPIFFE ID {GREETER} is not authorized"
        )
    );

    // A workload of another trust domain: no handshake, no reply. It has no bundle for
    // example.org, so it aborts on the server's certificate (TLS 1.3: before sending its
    // own), and the server logs a failed handshake.
    let out = run(call(&foreign, &addr, GREETER)).await;
    failed(&out);
    assert!(!common::process::text(&out.stdout).contains("reply"));
    server.line_with("handshake").await;

    server.stop().await;
}
