//! tonic over the hyper helpers (feature `hyper`), loopback TCP: `TlsIncoming` served by
//! `Server::serve_with_incoming` (with the type of `spiffe_tls::tonic_connection!`) and a
//! channel from `Endpoint::connect_with_connector(SpiffeConnector)`; the handler sees the
//! caller's SPIFFE ID; a client the server refuses gets no answer.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../examples/grpc_echo/mod.rs"]
mod grpc_echo;

use std::net::SocketAddr;
use std::sync::Arc;

use common::*;
use spiffe_tls::hyper::{SpiffeConnector, TlsIncoming};
use spiffe_tls::{mtls_server_config, Authorizer};
use tonic::transport::{Endpoint, Server};

const CLIENT: &str = "spiffe://a.test/client";
const SERVER: &str = "spiffe://a.test/server";

async fn start_server(ca: &Ca, authorizer: Authorizer) -> SocketAddr {
    let config =
        mtls_server_config(provider(), ca.svid(SERVER), bundles(&[ca]), authorizer).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = TlsIncoming::new(listener, Arc::new(config)).map_into::<grpc_echo::GrpcConn>();
    tokio::spawn(
        Server::builder()
            .add_service(grpc_echo::GreeterServer)
            .serve_with_incoming(incoming),
    );
    addr
}

async fn channel(
    addr: SocketAddr,
    connector: SpiffeConnector,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_with_connector(connector)
        .await
}

#[tokio::test]
async fn the_handler_sees_the_caller_spiffe_id() {
    let ca = Ca::new("a.test");
    let addr = start_server(
        &ca,
        Authorizer::member_of(ca.authority.trust_domain().clone()),
    )
    .await;
    let connector = SpiffeConnector::mtls(
        provider(),
        ca.svid(CLIENT),
        bundles(&[&ca]),
        Authorizer::exact(id(SERVER)),
    )
    .unwrap();
    let channel = channel(addr, connector).await.unwrap();
    for name in ["a", "b"] {
        let reply = grpc_echo::say_hello(channel.clone(), name).await.unwrap();
        assert_eq!(reply.message, format!("hello, {name}"));
        assert_eq!(reply.caller, CLIENT);
    }
}

#[tokio::test]
async fn a_refused_client_gets_no_channel() {
    let ca = Ca::new("a.test");
    let addr = start_server(&ca, Authorizer::exact(id(CLIENT))).await;
    let connector = SpiffeConnector::mtls(
        provider(),
        ca.svid("spiffe://a.test/intruder"),
        bundles(&[&ca]),
        Authorizer::exact(id(SERVER)),
    )
    .unwrap();
    // TLS 1.3: the client finishes its side before the server's verdict arrives, so the
    // refusal may surface at connect or at the first call; either way no answer comes back.
    if let Ok(channel) = channel(addr, connector).await {
        let answer = grpc_echo::say_hello(channel, "x").await;
        assert!(
            answer.is_err(),
            "a refused client got an answer: {answer:?}"
        );
    }
}

#[tokio::test]
async fn the_channel_refuses_an_unauthorized_server() {
    let ca = Ca::new("a.test");
    let addr = start_server(&ca, Authorizer::any()).await;
    let connector = SpiffeConnector::mtls(
        provider(),
        ca.svid(CLIENT),
        bundles(&[&ca]),
        Authorizer::exact(id("spiffe://a.test/someone-else")),
    )
    .unwrap();
    assert!(channel(addr, connector).await.is_err());
}
