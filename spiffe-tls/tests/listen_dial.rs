//! `spiffe_tls::tokio::{listen, dial}` and `TlsListener` over loopback TCP: an mTLS echo with
//! both peer IDs; a silent client that would stall a serial accept loop is cut off by the
//! handshake timeout while other clients get through; refused clients and servers are reported
//! with their `PeerRejected`.
#![allow(clippy::unwrap_used)]

mod common;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use spiffe_tls::tokio::{dial, listen, PeerSpiffeId, TlsListener};
use spiffe_tls::{mtls_client_config, mtls_server_config, Authorizer, PeerRejected};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const CLIENT: &str = "spiffe://a.test/client";
const SERVER: &str = "spiffe://a.test/server";

/// Within 5 s, or the test fails.
async fn soon<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .expect("done within 5 s")
}

/// Echoes one connection of `listener` after another; each handshake error goes to `errors`.
fn echo_server(
    ca: &Ca,
    authorized: &str,
    timeout: Duration,
) -> (SocketAddr, mpsc::UnboundedReceiver<HandshakeError>) {
    let config = mtls_server_config(
        provider(),
        ca.svid(SERVER),
        bundles(&[ca]),
        Authorizer::exact(id(authorized)),
    )
    .unwrap();
    let (tx, errors) = mpsc::unbounded_channel();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let tx = Mutex::new(tx);
    let mut listener = TlsListener::new(
        tokio::net::TcpListener::from_std(std_listener).unwrap(),
        config,
    )
    .with_handshake_timeout(timeout)
    .on_handshake_error(move |addr, error| {
        let rejected = PeerRejected::from_io(error).cloned();
        let _ = tx.lock().unwrap().send((addr, error.kind(), rejected));
    });
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let peer = stream.peer_spiffe_id().map(|id| id.to_string());
                let mut line = [0; 5];
                if stream.read_exact(&mut line).await.is_ok() {
                    let reply = format!("{} {}", String::from_utf8_lossy(&line), peer.unwrap());
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                }
            });
        }
    });
    (addr, errors)
}

/// What the listener reported of a failed handshake: the peer, the error kind, and the
/// verifier's rejection if there was one.
type HandshakeError = (SocketAddr, io::ErrorKind, Option<PeerRejected>);

fn client_config(ca: &Ca, me: &str, server: &str) -> rustls::ClientConfig {
    mtls_client_config(
        provider(),
        ca.svid(me),
        bundles(&[ca]),
        Authorizer::exact(id(server)),
    )
    .unwrap()
}

async fn echo(addr: SocketAddr, config: rustls::ClientConfig) -> io::Result<String> {
    let mut stream = dial(addr, config).await?;
    assert_eq!(stream.peer_spiffe_id(), Some(id(SERVER)));
    stream.write_all(b"hello").await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    Ok(reply)
}

#[tokio::test]
async fn listen_and_dial_echo_with_both_peer_ids() {
    let ca = Ca::new("a.test");
    let config = mtls_server_config(
        provider(),
        ca.svid(SERVER),
        bundles(&[&ca]),
        Authorizer::exact(id(CLIENT)),
    )
    .unwrap();
    let mut listener = listen("127.0.0.1:0", config).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, remote) = listener.accept().await.unwrap();
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).await.unwrap();
        stream.write_all(&buf).await.unwrap();
        stream.shutdown().await.unwrap();
        (stream.peer_spiffe_id(), remote)
    });
    let mut stream = soon(dial(addr, client_config(&ca, CLIENT, SERVER)))
        .await
        .unwrap();
    assert_eq!(stream.peer_spiffe_id(), Some(id(SERVER)));
    stream.write_all(b"hello").await.unwrap();
    let mut echo = Vec::new();
    soon(stream.read_to_end(&mut echo)).await.unwrap();
    assert_eq!(echo, b"hello");
    let (peer, remote) = soon(server).await.unwrap();
    assert_eq!(peer, Some(id(CLIENT)));
    assert_eq!(remote, stream.get_ref().0.local_addr().unwrap());
}

#[tokio::test]
async fn a_silent_client_times_out_without_holding_up_others() {
    let ca = Ca::new("a.test");
    let (addr, mut errors) = echo_server(&ca, CLIENT, Duration::from_millis(300));
    // Connects over TCP and never starts a handshake.
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    // Served meanwhile.
    let reply = soon(echo(addr, client_config(&ca, CLIENT, SERVER)))
        .await
        .unwrap();
    assert_eq!(reply, format!("hello {CLIENT}"));
    // Then the silent one is cut off and reported.
    let (from, kind, rejected) = soon(errors.recv()).await.unwrap();
    assert_eq!(from, silent_addr);
    assert_eq!(kind, io::ErrorKind::TimedOut);
    assert_eq!(rejected, None);
    let mut silent = silent;
    let mut rest = Vec::new();
    let closed = soon(silent.read_to_end(&mut rest)).await;
    assert!(
        closed.is_err() || rest.is_empty(),
        "the connection is closed"
    );
}

#[tokio::test]
async fn refused_clients_are_reported_and_refused_servers_fail_dial() {
    let ca = Ca::new("a.test");
    let (addr, mut errors) = echo_server(&ca, CLIENT, Duration::from_secs(5));

    // A client the server's authorizer refuses: never accepted, reported with its ID.
    let intruder = "spiffe://a.test/intruder";
    let refused = soon(echo(addr, client_config(&ca, intruder, SERVER))).await;
    assert!(refused.is_err(), "{refused:?}");
    let (_, _, rejected) = soon(errors.recv()).await.unwrap();
    assert_eq!(
        rejected,
        Some(PeerRejected::Unauthorized {
            spiffe_id: id(intruder)
        })
    );

    // A server the client's authorizer refuses: `dial` fails with the rejection.
    let error = soon(dial(
        addr,
        client_config(&ca, CLIENT, "spiffe://a.test/other"),
    ))
    .await
    .unwrap_err();
    assert_eq!(
        PeerRejected::from_io(&error),
        Some(&PeerRejected::Unauthorized {
            spiffe_id: id(SERVER)
        })
    );
}

#[tokio::test]
async fn dropping_the_listener_closes_its_socket() {
    let ca = Ca::new("a.test");
    let config = mtls_server_config(
        provider(),
        ca.svid(SERVER),
        bundles(&[&ca]),
        Authorizer::exact(id(CLIENT)),
    )
    .unwrap();
    let listener = listen("127.0.0.1:0", Arc::new(config)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    // The accept task ends at its next turn; from then on, connecting is refused.
    soon(async {
        loop {
            match tokio::net::TcpStream::connect(addr).await {
                Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => break,
                _ => tokio::task::yield_now().await,
            }
        }
    })
    .await;
}
