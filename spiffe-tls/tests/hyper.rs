//! hyper helpers (feature `hyper`) over loopback TCP: `SpiffeConnector` in hyper-util's
//! client against `TlsIncoming` served by hyper-util's server; each side sees the other's
//! SPIFFE ID; refused peers fail with the verifier's reason and are never yielded.
#![allow(clippy::unwrap_used)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use common::*;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use spiffe_tls::hyper::{ConnectError, PeerIdentity, SpiffeConnector, TlsIncoming};
use spiffe_tls::{mtls_server_config, Authorizer, PeerRejected};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tower_service::Service;

const CLIENT: &str = "spiffe://a.test/client";
const SERVER: &str = "spiffe://a.test/server";

async fn incoming(ca: &Ca, authorizer: Authorizer) -> (SocketAddr, TlsIncoming) {
    let config =
        mtls_server_config(provider(), ca.svid(SERVER), bundles(&[ca]), authorizer).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = TlsIncoming::new(listener, Arc::new(config));
    assert_eq!(incoming.local_addr(), Some(addr));
    (addr, incoming)
}

/// Serves every yielded connection with hyper; each response body is the caller's SPIFFE ID
/// as captured from the stream.
fn serve(mut incoming: TlsIncoming) {
    tokio::spawn(async move {
        while let Some(stream) = incoming.next().await {
            let stream = stream.unwrap();
            let peer = stream.peer_identity().clone();
            let service = service_fn(move |_request: Request<Incoming>| {
                let caller = peer
                    .spiffe_id()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(caller)))) }
            });
            tokio::spawn(async move {
                hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await
            });
        }
    });
}

fn connector(ca: &Ca, me: &str, authorizer: Authorizer) -> SpiffeConnector {
    SpiffeConnector::mtls(provider(), ca.svid(me), bundles(&[ca]), authorizer).unwrap()
}

#[tokio::test]
async fn requests_carry_both_peer_ids() {
    let ca = Ca::new("a.test");
    let (addr, incoming) = incoming(&ca, Authorizer::exact(id(CLIENT))).await;
    serve(incoming);

    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector(
        &ca,
        CLIENT,
        Authorizer::exact(id(SERVER)),
    ));
    for path in ["/one", "/two"] {
        let uri: Uri = format!("https://{addr}{path}").parse().unwrap();
        let response = client.get(uri).await.unwrap();
        assert_eq!(response.status(), 200);
        let server = response.extensions().get::<PeerIdentity>().unwrap();
        assert_eq!(server.spiffe_id(), Some(&id(SERVER)));
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, CLIENT.as_bytes());
    }
}

#[tokio::test]
async fn the_connector_refuses_an_unauthorized_server() {
    let ca = Ca::new("a.test");
    let (addr, incoming) = incoming(&ca, Authorizer::any()).await;
    serve(incoming);

    let mut connector = connector(&ca, CLIENT, Authorizer::exact(id("spiffe://a.test/other")));
    let uri: Uri = format!("https://{addr}/").parse().unwrap();
    let Err(ConnectError::Handshake(io)) = connector.call(uri).await else {
        panic!("expected a handshake failure");
    };
    assert_eq!(
        PeerRejected::from_io(&io),
        Some(&PeerRejected::Unauthorized {
            spiffe_id: id(SERVER)
        })
    );
}

#[tokio::test]
async fn the_connector_yields_a_stream_with_the_server_id() {
    let ca = Ca::new("a.test");
    let (addr, mut incoming) = incoming(&ca, Authorizer::exact(id(CLIENT))).await;
    let mut connector = connector(&ca, CLIENT, Authorizer::exact(id(SERVER)));
    let uri: Uri = format!("http://localhost:{}/", addr.port())
        .parse()
        .unwrap();
    let (stream, accepted) = tokio::join!(connector.call(uri), incoming.next());
    assert_eq!(stream.unwrap().peer_spiffe_id(), Some(id(SERVER)));
    let accepted = accepted.unwrap().unwrap();
    assert_eq!(accepted.peer_spiffe_id(), Some(&id(CLIENT)));
    let remote = accepted.peer_identity().remote_addr().unwrap();
    assert!(remote.ip().is_loopback());
}

#[tokio::test]
async fn incoming_never_yields_a_refused_client() {
    let ca = Ca::new("a.test");
    let other = Ca::new("b.test");
    let (addr, mut incoming) = incoming(&ca, Authorizer::exact(id(CLIENT))).await;
    let uri: Uri = format!("https://{addr}/").parse().unwrap();

    // Unauthorized ID in a trusted trust domain, then a trust domain the server has no bundle
    // for: the server refuses both.
    let wrong_id = connector(&ca, "spiffe://a.test/intruder", Authorizer::any());
    assert_refused(wrong_id, uri.clone()).await;
    let both = {
        let mut set = spiffe_core::BundleSet::new();
        set.insert_x509(ca.bundle());
        set.insert_x509(other.bundle());
        Arc::new(set)
    };
    let wrong_td = SpiffeConnector::mtls(
        provider(),
        other.svid("spiffe://b.test/client"),
        both,
        Authorizer::any(),
    )
    .unwrap();
    assert_refused(wrong_td, uri.clone()).await;

    // The first connection the stream yields is the authorized one.
    let mut good = connector(&ca, CLIENT, Authorizer::exact(id(SERVER)));
    let (stream, accepted) = tokio::join!(good.call(uri), incoming.next());
    stream.unwrap();
    assert_eq!(
        accepted.unwrap().unwrap().peer_spiffe_id(),
        Some(&id(CLIENT))
    );
}

/// The server refuses the client: with TLS 1.3 the client's handshake completes before the
/// server's verdict, which then arrives as an alert on the first read.
async fn assert_refused(mut connector: SpiffeConnector, uri: Uri) {
    match connector.call(uri).await {
        Err(ConnectError::Handshake(_)) => {}
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(stream) => {
            let mut buf = [0; 1];
            let read = TokioIo::new(stream).read(&mut buf).await;
            assert!(
                read.is_err(),
                "the server did not refuse the client: {read:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_uri_without_host_is_refused_before_connecting() {
    let ca = Ca::new("a.test");
    let mut connector = connector(&ca, CLIENT, Authorizer::any());
    let uri = Uri::from_static("/no/host");
    assert!(matches!(
        connector.call(uri).await,
        Err(ConnectError::MissingHost)
    ));
}

#[tokio::test]
async fn a_silent_client_holds_up_no_one_and_is_dropped_after_the_timeout() {
    let ca = Ca::new("a.test");
    let config = mtls_server_config(
        provider(),
        ca.svid(SERVER),
        bundles(&[&ca]),
        Authorizer::exact(id(CLIENT)),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut incoming = TlsIncoming::with_handshake_timeout(
        listener,
        Arc::new(config),
        std::time::Duration::from_millis(300),
    );

    // A client that connects and says nothing.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();

    // A real client is served meanwhile.
    let mut good = connector(&ca, CLIENT, Authorizer::exact(id(SERVER)));
    let uri: Uri = format!("https://{addr}/").parse().unwrap();
    let (stream, accepted) = tokio::join!(good.call(uri), incoming.next());
    stream.unwrap();
    assert_eq!(
        accepted.unwrap().unwrap().peer_spiffe_id(),
        Some(&id(CLIENT))
    );

    // The silent one is closed once its handshake time is up.
    let mut buf = [0; 1];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), silent.read(&mut buf))
        .await
        .expect("the server closes the silent connection");
    assert!(matches!(read, Ok(0) | Err(_)), "unexpected data: {read:?}");
}
