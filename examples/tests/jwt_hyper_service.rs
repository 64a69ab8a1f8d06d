//! Runs `jwt_hyper_service` as a user does: the service and its client as processes, each on
//! its own socket of a Workload API served by this test. Checks the authenticated call, and
//! each refusal with its reason: no token, a malformed one, one for another audience, one
//! signed by a key the service does not trust, and a valid one of a caller not allowed.
#![allow(clippy::unwrap_used)]

mod common;

use common::process::{failed, run, succeeded, Background, LIMIT};
use common::{TrustDomainCa, Workload};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

const SERVICE: &str = "spiffe://example.org/orders";
const WEB: &str = "spiffe://example.org/web";
const OTHER: &str = "spiffe://example.org/batch";
const PROGRAM: &str = env!("CARGO_BIN_EXE_jwt_hyper_service");

fn call(workload: &Workload, addr: &str, audience: &str) -> Command {
    let mut command = Command::new(PROGRAM);
    command
        .args(["call", "--url", &format!("http://{addr}/orders/7")])
        .args(["--audience", audience])
        .env("SPIFFE_ENDPOINT_SOCKET", workload.endpoint());
    command
}

/// A raw HTTP/1 GET with the given extra header lines; returns the whole answer.
async fn raw_get(addr: &str, headers: &str) -> String {
    let exchange = async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request =
            format!("GET /orders HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        answer
    };
    tokio::time::timeout(LIMIT, exchange).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hyper_service_authenticates_callers_by_jwt_svid() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TrustDomainCa::new("example.org");
    let service_workload = ca.serve(dir.path(), SERVICE);
    let web = ca.serve(dir.path(), WEB);
    let other = ca.serve(dir.path(), OTHER);
    // Same trust domain name, different keys: its tokens must not pass.
    let impostor_dir = tempfile::tempdir().unwrap();
    let impostor = TrustDomainCa::new("example.org").serve(impostor_dir.path(), WEB);

    let mut service = Command::new(PROGRAM);
    service
        .args(["serve", "--listen", "127.0.0.1:0", "--audience", "orders"])
        .args(["--allow", WEB])
        .env("SPIFFE_ENDPOINT_SOCKET", service_workload.endpoint());
    let mut service = Background::spawn(service);
    let first = service.next_line().await;
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();

    // The allowed caller, with a token for the service's audience.
    let stdout = succeeded(&run(call(&web, &addr, "orders")).await);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [format!("calling as {WEB}"), format!("200 OK: hello, {WEB}"),]
    );
    assert_eq!(
        service.next_line().await,
        format!("GET /orders/7: 200 for {WEB}")
    );

    // A token for another audience.
    let stderr = failed(&run(call(&web, &addr, "payments")).await);
    assert!(
        stderr.starts_with("error: the service answered 401 Unauthorized: invalid JWT-SVID"),
        "{stderr}"
    );
    assert!(service
        .next_line()
        .await
        .starts_with("GET /orders/7: 401 invalid JWT-SVID"));

    // A token signed by a key outside the service's JWT bundle.
    let stderr = failed(&run(call(&impostor, &addr, "orders")).await);
    assert!(
        stderr.contains("401 Unauthorized: invalid JWT-SVID"),
        "{stderr}"
    );
    service.line_with("401 invalid JWT-SVID").await;

    // A valid token of a caller the service does not allow.
    let stderr = failed(&run(call(&other, &addr, "orders")).await);
    assert_eq!(
        stderr.trim_end(),
        format!("error: the service answered 403 Forbidden: {OTHER} is not allowed")
    );
    assert_eq!(
        service.next_line().await,
        format!("GET /orders/7: 403 {OTHER} is not allowed")
    );

    // No token, and not a bearer token: 401 with the reason and the scheme to use.
    let answer = raw_get(&addr, "").await;
    assert!(
        answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("no Authorization header (expected `Bearer <JWT-SVID>`)\n"),
        "{answer}"
    );
    let answer = raw_get(&addr, "Authorization: Basic d2ViOnB3\r\n").await;
    assert!(
        answer.ends_with("the Authorization header is not `Bearer <JWT-SVID>`\n"),
        "{answer}"
    );
    let answer = raw_get(&addr, "Authorization: Bearer not.a.jwt\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\n\r\ninvalid JWT-SVID: "), "{answer}");

    service.stop().await;
}
