//! gRPC over SPIFFE mTLS with tonic: a Greeter server that accepts any workload of the demo
//! trust domain and reads the caller's SPIFFE ID inside its handler, and a client channel that
//! talks only to `spiffe://demo.test/api`, in one program with an in-memory trust domain.
//!
//! ```text
//! cargo run -p spiffe-tls --example tonic_mtls -- --calls 3
//! ```
//!
//! Server side: `spiffe_tls::hyper::TlsIncoming`, each stream mapped into the type
//! `spiffe_tls::tonic_connection!` declares (it implements tonic's `Connected`; spiffe-tls does
//! not depend on tonic), served by `Server::serve_with_incoming`; the handler finds the
//! caller's `PeerIdentity` in the request extensions. Client side:
//! `Endpoint::connect_with_connector(SpiffeConnector)`.
#![allow(missing_docs)]

mod demo;
mod grpc_echo;

use std::sync::Arc;

use clap::Parser;
use spiffe_core::SpiffeId;
use spiffe_tls::hyper::{SpiffeConnector, TlsIncoming};
use spiffe_tls::{mtls_server_config, Authorizer};
use tonic::transport::{Endpoint, Server};

/// gRPC over SPIFFE mTLS with tonic (server and client in one program).
#[derive(Parser, Debug)]
struct Cli {
    /// How many calls the client makes (over one channel)
    #[arg(long, default_value_t = 3)]
    calls: u32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), demo::Error> {
    let cli = Cli::parse();
    let pki = demo::Pki::new()?;

    // Server.
    let config = mtls_server_config(
        demo::provider(),
        pki.server.clone(),
        pki.bundles.clone(),
        Authorizer::member_of(pki.trust_domain.clone()),
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let incoming = TlsIncoming::new(listener, Arc::new(config)).map_into::<grpc_echo::GrpcConn>();
    tokio::spawn(
        Server::builder()
            .add_service(grpc_echo::GreeterServer)
            .serve_with_incoming(incoming),
    );
    println!("server: {} listening on {addr}", demo::SERVER_ID);

    // Client. The URI is `http://`: the connector makes the connection TLS (tonic refuses
    // `https://` with a custom connector when one of its own TLS features is enabled).
    let connector = SpiffeConnector::mtls(
        demo::provider(),
        pki.client.clone(),
        pki.bundles.clone(),
        Authorizer::exact(SpiffeId::new(demo::SERVER_ID)?),
    )?;
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_with_connector(connector)
        .await?;
    for i in 0..cli.calls {
        let reply = grpc_echo::say_hello(channel.clone(), &format!("call {i}")).await?;
        println!(
            "client: {:?} (server saw caller {})",
            reply.message, reply.caller
        );
    }
    Ok(())
}
