//! A hostile local process against the server kit: the server runs in a child process (this
//! test binary re-executed) whose descriptor limit is 64 (`ulimit -n 64`); this process opens
//! 200 idle connections (more than that limit allows the server to hold), keeps replacing
//! them, and runs slow-loris clients that send the HTTP/2 preface one byte at a time. A
//! well-behaved client running as the same uid as the flood must still be served, every call
//! within seconds; the slow-loris connections must be closed at the handshake timeout.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{next, raw_client, request, Ca, StaticProvider};
use spiffe_workload::{proto, WorkloadApiServer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::Command;

/// The environment variable that makes `server_child` serve (in the re-executed binary).
const CHILD_SOCKET: &str = "SPIFFE_FLOOD_TEST_SOCKET";

/// The server's handshake timeout in this test.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// The child: a server on the socket named in the environment, until stdin closes (at most
/// two minutes). Does nothing in a normal test run.
#[tokio::test]
#[ignore = "the server half of `idle_flood_and_slow_loris_do_not_starve_a_well_behaved_client`"]
async fn server_child() {
    let Some(socket) = std::env::var_os(CHILD_SOCKET) else {
        return;
    };
    let provider = StaticProvider::example(&Ca::new("example.org"), &Ca::new("other.org"));
    let listener = tokio::net::UnixListener::bind(PathBuf::from(socket)).unwrap();
    let stdin_closed = async {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 16];
        while stdin.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    };
    let stop = async {
        tokio::select! {
            () = stdin_closed => {}
            () = tokio::time::sleep(Duration::from_secs(120)) => {}
        }
    };
    println!("ready");
    WorkloadApiServer::new(provider)
        .with_handshake_timeout(HANDSHAKE_TIMEOUT)
        .serve_unix(listener, stop)
        .await
        .unwrap();
}

/// Starts `server_child` with a descriptor limit of 64 and waits for it to listen.
async fn start_server(socket: &Path) -> tokio::process::Child {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 64 && exec "$0" "$@""#)
        .arg(exe)
        .args(["server_child", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_SOCKET, socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.trim() == "ready" {
                return;
            }
        }
        panic!("server child exited");
    });
    ready.await.expect("server child ready");
    // Keep reading, so the child's test harness can report on its stdout.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    // The socket exists once `ready` is printed (bound before).
    assert!(socket.exists());
    child
}

/// Keeps `n` idle connections open, replacing a few every few milliseconds (each new one
/// displaces one of its own kind on the server).
async fn idle_flood(socket: PathBuf, n: usize, until: Instant) -> usize {
    let mut open = std::collections::VecDeque::new();
    let mut made = 0;
    while Instant::now() < until {
        while open.len() < n {
            if let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_millis(200), UnixStream::connect(&socket)).await
            {
                open.push_back(stream);
                made += 1;
            } else {
                break;
            }
        }
        for _ in 0..5 {
            open.pop_front();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    made
}

/// Sends the client preface one byte at a time; returns how long the server kept the
/// connection (it must close it at the handshake timeout).
async fn slow_loris(socket: PathBuf) -> Duration {
    let start = Instant::now();
    let mut stream = UnixStream::connect(&socket).await.unwrap();
    for byte in b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".iter().cycle().take(200) {
        if stream.write_all(&[*byte]).await.is_err() {
            return start.elapsed();
        }
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
        if let Ok(Ok(0) | Err(_)) = read {
            return start.elapsed();
        }
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_flood_and_slow_loris_do_not_starve_a_well_behaved_client() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let mut server = start_server(&socket).await;

    let flood_until = Instant::now() + Duration::from_secs(8);
    let flood = tokio::spawn(idle_flood(socket.clone(), 200, flood_until));
    let lorises: Vec<_> = (0..5)
        .map(|_| tokio::spawn(slow_loris(socket.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The well-behaved client, same uid as the flood: a watch stream that stays open, and
    // fresh connections making calls throughout the flood.
    let mut watcher = raw_client(&socket).await;
    let mut stream = watcher
        .fetch_x509svid(request(proto::X509svidRequest {}, &["true"]))
        .await
        .unwrap()
        .into_inner();
    next(&mut stream).await.unwrap();
    let mut slowest = Duration::ZERO;
    let mut calls = 0;
    while Instant::now() < flood_until {
        let start = Instant::now();
        let served = tokio::time::timeout(Duration::from_secs(5), async {
            let mut client = raw_client(&socket).await;
            let mut x509 = client
                .fetch_x509svid(request(proto::X509svidRequest {}, &["true"]))
                .await?
                .into_inner();
            let first = x509.message().await?.expect("a message");
            let jwt = client
                .fetch_jwtsvid(request(
                    proto::JwtsvidRequest {
                        audience: vec!["a".into()],
                        spiffe_id: String::new(),
                    },
                    &["true"],
                ))
                .await?
                .into_inner();
            Ok::<_, tonic::Status>((first, jwt))
        })
        .await
        .expect("served within 5 s under the flood")
        .expect("served");
        assert_eq!(served.0.svids[0].spiffe_id, "spiffe://example.org/workload");
        assert_eq!(served.1.svids.len(), 1);
        slowest = slowest.max(start.elapsed());
        calls += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let made = flood.await.unwrap();
    assert!(made > 200, "the flood kept connecting ({made})");
    assert!(calls >= 10, "{calls} calls");
    eprintln!("{calls} calls under a flood of {made} connections; slowest {slowest:?}");
    // The long-lived stream of the well-behaved client was never evicted: it still answers.
    drop(watcher);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.message())
            .await
            .is_err(),
        "the watch stream is still open (no message, no end)"
    );
    // Slow-loris connections were closed by the handshake timeout at the latest (under the
    // flood, eviction may close them sooner).
    for loris in lorises {
        let kept = loris.await.unwrap();
        assert!(
            kept < HANDSHAKE_TIMEOUT + Duration::from_secs(3),
            "{kept:?}"
        );
    }
    // Without a flood, a slow loris is closed at the handshake timeout, not before.
    let kept = slow_loris(socket.clone()).await;
    assert!(
        kept >= HANDSHAKE_TIMEOUT - Duration::from_millis(300),
        "{kept:?}"
    );
    assert!(
        kept < HANDSHAKE_TIMEOUT + Duration::from_secs(3),
        "{kept:?}"
    );
    drop(server.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}
