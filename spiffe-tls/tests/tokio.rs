//! tokio-rustls helpers (feature `tokio`): an mTLS echo over `tokio::io::duplex` and over
//! loopback TCP, both sides reading the other's SPIFFE ID from the stream; a client the
//! server's authorizer refuses fails the handshake.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rustls::pki_types::ServerName;
use spiffe_tls::tokio::{mtls_acceptor, mtls_connector, tls_acceptor, tls_connector, PeerSpiffeId};
use spiffe_tls::Authorizer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENT: &str = "spiffe://a.test/client";
const SERVER: &str = "spiffe://a.test/server";

fn name() -> ServerName<'static> {
    ServerName::try_from("ignored.invalid").unwrap()
}

#[tokio::test]
async fn mtls_echo_over_duplex_both_sides_see_the_peer_id() {
    let ca = Ca::new("a.test");
    let acceptor = mtls_acceptor(
        provider(),
        ca.svid(SERVER),
        bundles(&[&ca]),
        Authorizer::exact(id(CLIENT)),
    )
    .unwrap();
    let connector = mtls_connector(
        provider(),
        ca.svid(CLIENT),
        bundles(&[&ca]),
        Authorizer::exact(id(SERVER)),
    )
    .unwrap();
    let (client_io, server_io) = tokio::io::duplex(16 * 1024);

    let server = tokio::spawn(async move {
        let mut stream = acceptor.accept(server_io).await.unwrap();
        let peer = stream.peer_spiffe_id();
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).await.unwrap();
        stream.write_all(&buf).await.unwrap();
        stream.shutdown().await.unwrap();
        peer
    });

    let mut stream = connector.connect(name(), client_io).await.unwrap();
    assert_eq!(stream.peer_spiffe_id(), Some(id(SERVER)));
    stream.write_all(b"ping\n").await.unwrap();
    let mut echo = Vec::new();
    stream.read_to_end(&mut echo).await.unwrap();
    assert_eq!(echo, b"ping\n");
    assert_eq!(server.await.unwrap(), Some(id(CLIENT)));

    // The enum stream gives the same answer.
    let stream = tokio_rustls::TlsStream::from(stream);
    assert_eq!(stream.peer_spiffe_id(), Some(id(SERVER)));
}

#[tokio::test]
async fn tls_over_loopback_tcp_client_sees_the_server_id() {
    let ca = Ca::new("a.test");
    let acceptor = tls_acceptor(provider(), ca.svid(SERVER)).unwrap();
    let connector =
        tls_connector(provider(), bundles(&[&ca]), Authorizer::exact(id(SERVER))).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();

    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut stream = acceptor.accept(tcp).await.unwrap();
        // No client certificate in TLS mode.
        let peer = stream.peer_spiffe_id();
        let mut buf = [0; 4];
        stream.read_exact(&mut buf).await.unwrap();
        stream.write_all(&buf).await.unwrap();
        stream.shutdown().await.unwrap();
        peer
    });

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut stream = connector
        .connect(ServerName::from(addr.ip()), tcp)
        .await
        .unwrap();
    assert_eq!(stream.peer_spiffe_id(), Some(id(SERVER)));
    stream.write_all(b"pong").await.unwrap();
    let mut echo = Vec::new();
    stream.read_to_end(&mut echo).await.unwrap();
    assert_eq!(echo, b"pong");
    assert_eq!(server.await.unwrap(), None);
}

#[tokio::test]
async fn unauthorized_client_is_refused_by_the_acceptor() {
    let ca = Ca::new("a.test");
    let acceptor = mtls_acceptor(
        provider(),
        ca.svid(SERVER),
        bundles(&[&ca]),
        Authorizer::exact(id("spiffe://a.test/someone-else")),
    )
    .unwrap();
    let connector = mtls_connector(
        provider(),
        ca.svid(CLIENT),
        bundles(&[&ca]),
        Authorizer::exact(id(SERVER)),
    )
    .unwrap();
    let (client_io, server_io) = tokio::io::duplex(16 * 1024);

    let server = tokio::spawn(async move { acceptor.accept(server_io).await.map(|_| ()) });
    // TLS 1.3: the client finishes its side before the server checks its certificate, so the
    // refusal shows when the client reads.
    let client = async {
        let mut stream = connector.connect(name(), client_io).await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.map(|_| ())
    };
    let client_result = client.await;
    let server_err = server.await.unwrap().unwrap_err();
    let inner = server_err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .unwrap();
    assert!(
        matches!(inner, rustls::Error::InvalidCertificate(_)),
        "server error: {inner:?}"
    );
    assert!(client_result.is_err(), "the client must see the refusal");
}
