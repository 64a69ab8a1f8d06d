//! HTTP over SPIFFE mTLS with hyper: a server that accepts any workload of the demo trust
//! domain and answers with the caller's SPIFFE ID, and a client that talks only to
//! `spiffe://demo.test/api`, in one program with an in-memory trust domain.
//!
//! ```text
//! cargo run -p spiffe-tls --example hyper_mtls -- --requests 3
//! ```
//!
//! Server side: `spiffe_tls::hyper::TlsIncoming` yields established mTLS connections with the
//! client's `PeerIdentity`, served by hyper-util's auto (HTTP/1 and HTTP/2) connection builder;
//! the identity is captured per connection and printed per request. Client side:
//! `spiffe_tls::hyper::SpiffeConnector` in hyper-util's legacy `Client`; the server's
//! `PeerIdentity` arrives in each response's extensions.
#![allow(missing_docs)]

mod demo;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use spiffe_core::SpiffeId;
use spiffe_tls::hyper::{PeerIdentity, SpiffeConnector, TlsIncoming};
use spiffe_tls::{mtls_server_config, Authorizer};
use tokio_stream::StreamExt;

/// HTTP over SPIFFE mTLS with hyper (server and client in one program).
#[derive(Parser, Debug)]
struct Cli {
    /// How many requests the client sends (over one pooled connection)
    #[arg(long, default_value_t = 3)]
    requests: u32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), demo::Error> {
    let cli = Cli::parse();
    let pki = demo::Pki::new()?;
    let addr = start_server(&pki).await?;
    println!("server: {} listening on {addr}", demo::SERVER_ID);

    let connector = SpiffeConnector::mtls(
        demo::provider(),
        pki.client.clone(),
        pki.bundles.clone(),
        Authorizer::exact(SpiffeId::new(demo::SERVER_ID)?),
    )?;
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    for i in 0..cli.requests {
        let response = client
            .get(format!("https://{addr}/hello/{i}").parse()?)
            .await?;
        let server = response
            .extensions()
            .get::<PeerIdentity>()
            .and_then(|peer| peer.spiffe_id().cloned());
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        println!(
            "client: {status} from {} — {}",
            display(server.as_ref()),
            String::from_utf8_lossy(&body).trim_end()
        );
    }
    Ok(())
}

/// Binds 127.0.0.1 on a free port and serves in the background.
async fn start_server(pki: &demo::Pki) -> Result<SocketAddr, demo::Error> {
    let config = mtls_server_config(
        demo::provider(),
        pki.server.clone(),
        pki.bundles.clone(),
        Authorizer::member_of(pki.trust_domain.clone()),
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut incoming = TlsIncoming::new(listener, Arc::new(config));
    tokio::spawn(async move {
        while let Some(accepted) = incoming.next().await {
            let stream = match accepted {
                Ok(stream) => stream,
                Err(e) => {
                    println!("server: accept failed: {e}");
                    continue;
                }
            };
            let peer = stream.peer_identity().clone();
            let service = service_fn(move |request: Request<Incoming>| {
                let peer = peer.clone();
                async move { Ok::<_, Infallible>(answer(&peer, &request)) }
            });
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if let Err(e) = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    println!("server: connection failed: {e}");
                }
            });
        }
    });
    Ok(addr)
}

fn answer(peer: &PeerIdentity, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let caller = display(peer.spiffe_id());
    println!(
        "server: {} {} from {caller} ({})",
        request.method(),
        request.uri().path(),
        peer.remote_addr()
            .map_or_else(String::new, |a| a.to_string()),
    );
    Response::new(Full::new(Bytes::from(format!("hello, {caller}\n"))))
}

fn display(id: Option<&SpiffeId>) -> String {
    id.map_or_else(|| "(no SPIFFE ID)".to_owned(), ToString::to_string)
}
