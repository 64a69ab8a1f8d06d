//! The server kit's per-caller shares and its answer when full, over a real Unix socket: one
//! caller (uid) cannot take every stream slot, and a server whose connections are all busy
//! answers a newcomer UNAVAILABLE (WEP-14) instead of leaving it to hang.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use common::{next, raw_client, request, Ca, Running, StaticProvider};
use spiffe_workload::{proto, WorkloadApiServer};
use tonic::Code;

const OK: &[&str] = &["true"];

/// The environment variable naming the socket for `other_uid_child`.
const CHILD_SOCKET: &str = "SPIFFE_LIMITS_TEST_SOCKET";

fn provider() -> std::sync::Arc<StaticProvider> {
    StaticProvider::example(&Ca::new("example.org"), &Ca::new("other.org"))
}

/// Run as another uid by `one_caller_cannot_take_every_stream`: opens a stream and prints
/// `served` or the status code. Does nothing in a normal test run.
#[tokio::test]
#[ignore = "the other caller of `one_caller_cannot_take_every_stream`"]
async fn other_uid_child() {
    let Some(socket) = std::env::var_os(CHILD_SOCKET) else {
        return;
    };
    let mut client = raw_client(std::path::Path::new(&socket)).await;
    let outcome = match client
        .fetch_x509svid(request(proto::X509svidRequest {}, OK))
        .await
    {
        Ok(response) => {
            let mut stream = response.into_inner();
            match next(&mut stream).await {
                Ok(_) => "served".to_owned(),
                Err(status) => format!("{:?}", status.code()),
            }
        }
        Err(status) => format!("{:?}", status.code()),
    };
    println!("OUTCOME {outcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_caller_cannot_take_every_stream() {
    let server = Running::start_server(
        WorkloadApiServer::new(provider())
            .with_max_streams(8)
            .with_max_streams_per_caller(2),
    );
    let mut client = raw_client(&server.path).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = client
            .fetch_x509svid(request(proto::X509svidRequest {}, OK))
            .await
            .unwrap()
            .into_inner();
        next(&mut stream).await.unwrap();
        held.push(stream);
    }
    // This caller's share is used up, though the server has room: RESOURCE_EXHAUSTED, for
    // streams and unary calls alike, on this connection or a new one.
    let status = client
        .fetch_x509_bundles(request(proto::X509BundlesRequest {}, OK))
        .await
        .expect_err("over the caller's share");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.message().contains("caller"), "{}", status.message());
    let mut other_connection = raw_client(&server.path).await;
    let status = other_connection
        .fetch_jwtsvid(request(
            proto::JwtsvidRequest {
                audience: vec!["a".into()],
                spiffe_id: String::new(),
            },
            OK,
        ))
        .await
        .expect_err("over the caller's share");
    assert_eq!(status.code(), Code::ResourceExhausted);

    // Another caller (uid 65534) is still served. Needs root to switch uid.
    // The effective uid, from /proc (no libc call).
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if root {
        std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::set_permissions(&server.path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let output = tokio::task::spawn_blocking({
            let socket = server.path.clone();
            move || {
                std::process::Command::new(std::env::current_exe().unwrap())
                    .args(["other_uid_child", "--exact", "--ignored", "--nocapture"])
                    .env(CHILD_SOCKET, socket)
                    .uid(65534)
                    .gid(65534)
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("OUTCOME served"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    } else {
        eprintln!("not root: the other-uid half of this test did not run");
    }

    // Giving a stream back gives the slot back.
    held.pop();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match client
            .fetch_x509_bundles(request(proto::X509BundlesRequest {}, OK))
            .await
        {
            Ok(_) => break,
            Err(status) if status.code() == Code::ResourceExhausted => {
                assert!(tokio::time::Instant::now() < deadline, "slot never freed");
                tokio::task::yield_now().await;
            }
            Err(status) => panic!("{status:?}"),
        }
    }
    drop(held);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_connections_at_the_bound_turn_a_newcomer_away_with_unavailable() {
    let server = Running::start_server(
        WorkloadApiServer::new(provider())
            .with_max_connections(2)
            .with_max_connections_per_caller(2),
    );
    // Two connections, each carrying a stream: nothing is idle, nothing can be evicted.
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut client = raw_client(&server.path).await;
        let mut stream = client
            .fetch_x509svid(request(proto::X509svidRequest {}, OK))
            .await
            .unwrap()
            .into_inner();
        next(&mut stream).await.unwrap();
        busy.push((client, stream));
    }
    let mut newcomer = raw_client(&server.path).await;
    let status = tokio::time::timeout(
        Duration::from_secs(5),
        newcomer.fetch_x509svid(request(proto::X509svidRequest {}, OK)),
    )
    .await
    .expect("answered, not left hanging")
    .expect_err("no room");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    // The busy ones are still served.
    let (client, _) = &mut busy[0];
    let jwt = client
        .fetch_jwtsvid(request(
            proto::JwtsvidRequest {
                audience: vec!["a".into()],
                spiffe_id: String::new(),
            },
            OK,
        ))
        .await
        .unwrap();
    assert_eq!(jwt.into_inner().svids.len(), 1);
    drop(busy);
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_connection_is_told_to_go_away() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Running::start_server(
        WorkloadApiServer::new(provider()).with_idle_timeout(Duration::from_millis(300)),
    );
    let mut stream = tokio::net::UnixStream::connect(&server.path).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    // Read everything until the server closes: it must send GOAWAY (frame type 7).
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received))
        .await
        .expect("closed within the idle timeout and the close grace")
        .unwrap();
    let mut rest = received.as_slice();
    let mut kinds = Vec::new();
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        kinds.push(rest[3]);
        rest = &rest[(9 + len).min(rest.len())..];
    }
    assert!(kinds.contains(&7), "GOAWAY among {kinds:?}");
    server.shutdown().await;
}
