//! A gRPC service (tonic) over SPIFFE mTLS, and its client, both on the Workload API at
//! `SPIFFE_ENDPOINT_SOCKET`.
//!
//! The server takes any workload of its own trust domain through the mTLS handshake, then
//! authorizes each call by the caller's SPIFFE ID in the handler (tonic puts the verified
//! `PeerIdentity` of the connection in every request): callers not listed get
//! `PERMISSION_DENIED` naming them. The client talks only to the server ID it is given; any
//! other server fails the handshake.
//!
//! ```text
//! tonic_mtls serve --listen 127.0.0.1:50051 --allow spiffe://example.org/web
//! tonic_mtls call --connect 127.0.0.1:50051 --server spiffe://example.org/greeter hello
//! ```
//!
//! The service, `example.Echo/Say`, is written by hand below: two prost messages and the few
//! lines `tonic-build` would generate from a `.proto`, so this program needs no build script.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};

use clap::{Parser, Subcommand};
use spiffe_core::{SpiffeId, X509SvidSource};
use spiffe_tls::hyper::{PeerIdentity, SpiffeConnector, TlsIncoming};
use spiffe_tls::tokio::listen;
use spiffe_tls::{mtls_server_config, Authorizer, PeerRejected};
use spiffe_workload::X509Source;
use tonic::codegen::{http, BoxFuture, Service, StdError};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

/// A gRPC echo over SPIFFE mTLS; identities from the Workload API at SPIFFE_ENDPOINT_SOCKET.
#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve `example.Echo` to workloads of this trust domain; answer only the allowed ones.
    Serve {
        /// The address to listen on (port 0 picks one; the chosen address is printed).
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// A caller allowed to call; repeat for several.
        #[arg(long = "allow", value_name = "SPIFFE_ID", required = true)]
        allowed: Vec<SpiffeId>,
    },
    /// Call `example.Echo/Say` once per message and print each reply.
    Call {
        /// The server's address.
        #[arg(long, value_name = "ADDR")]
        connect: SocketAddr,
        /// The server's SPIFFE ID; any other server is refused.
        #[arg(long, value_name = "SPIFFE_ID")]
        server: SpiffeId,
        /// The messages to send.
        #[arg(required = true)]
        messages: Vec<String>,
    },
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve { listen, allowed } => serve(listen, allowed).await,
        Command::Call {
            connect,
            server,
            messages,
        } => call(connect, server, &messages).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The crypto provider both sides use: ours to choose, passed to every configuration.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

// === the messages and the method's path (what a .proto would declare) ===

/// `message EchoRequest { string message = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
struct EchoRequest {
    #[prost(string, tag = "1")]
    message: String,
}

/// `message EchoReply { string message = 1; string caller = 2; }`
#[derive(Clone, PartialEq, prost::Message)]
struct EchoReply {
    #[prost(string, tag = "1")]
    message: String,
    /// The caller's SPIFFE ID, as the server saw it.
    #[prost(string, tag = "2")]
    caller: String,
}

/// `service Echo { rpc Say(EchoRequest) returns (EchoReply); }` in `package example`.
const SAY: &str = "/example.Echo/Say";

// === the server ===

spiffe_tls::tonic_connection!(
    /// An mTLS connection as tonic serves it, carrying the client's `PeerIdentity`.
    struct MtlsConn;
);

async fn serve(addr: SocketAddr, allowed: Vec<SpiffeId>) -> Result<(), Error> {
    // Fails at once, saying why, if SPIFFE_ENDPOINT_SOCKET is unset or names no socket.
    let x509 = X509Source::from_env().await?;
    let me = x509
        .x509_svid()
        .ok_or("the Workload API gave no X.509-SVID")?;
    println!("serving as {}", me.spiffe_id());

    // The handshake: any workload of our trust domain. The handler decides per call.
    let trust_domain = me.spiffe_id().trust_domain();
    let config = mtls_server_config(
        provider(),
        x509.clone(),
        x509,
        Authorizer::member_of(trust_domain),
    )?;
    let listener = listen(addr, config)
        .await?
        .on_handshake_error(|peer, error| match PeerRejected::from_io(error) {
            Some(rejected) => println!("{peer}: refused: {rejected}"),
            None => println!("{peer}: handshake failed: {error}"),
        });
    let bound = listener.local_addr().ok_or("the listener has no address")?;
    println!("listening on {bound}");

    let incoming = TlsIncoming::from(listener).map_into::<MtlsConn>();
    let echo = EchoServer {
        allowed: allowed.into(),
    };
    Server::builder()
        .add_service(echo)
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}

/// The service: answers allowed callers with their message and their SPIFFE ID.
#[derive(Clone)]
struct EchoServer {
    allowed: Arc<[SpiffeId]>,
}

impl EchoServer {
    async fn say(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        // The verified client SPIFFE ID of this request's connection.
        let caller = request
            .extensions()
            .get::<PeerIdentity>()
            .and_then(PeerIdentity::spiffe_id)
            .cloned()
            .ok_or_else(|| Status::unauthenticated("no SPIFFE ID on this connection"))?;
        if !self.allowed.contains(&caller) {
            println!("Say from {caller}: denied");
            return Err(Status::permission_denied(format!(
                "{caller} is not allowed to call example.Echo"
            )));
        }
        let message = request.into_inner().message;
        println!("Say({message:?}) from {caller}");
        Ok(Response::new(EchoReply {
            message,
            caller: caller.to_string(),
        }))
    }
}

// What tonic-build would generate: the service's name, and the routing of each method's path
// to its handler through tonic's codec.

impl NamedService for EchoServer {
    const NAME: &'static str = "example.Echo";
}

impl UnaryService<EchoRequest> for EchoServer {
    type Response = EchoReply;
    type Future = BoxFuture<Response<EchoReply>, Status>;

    fn call(&mut self, request: Request<EchoRequest>) -> Self::Future {
        let server = self.clone();
        Box::pin(async move { server.say(request).await })
    }
}

impl<B> Service<http::Request<B>> for EchoServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let server = self.clone();
        Box::pin(async move {
            if request.uri().path() != SAY {
                return Ok(Status::unimplemented(request.uri().path().to_owned()).into_http());
            }
            let mut grpc = Grpc::new(ProstCodec::<EchoReply, EchoRequest>::default());
            Ok(grpc.unary(server, request).await)
        })
    }
}

// === the client ===

async fn call(addr: SocketAddr, server: SpiffeId, messages: &[String]) -> Result<(), Error> {
    let x509 = X509Source::from_env().await?;
    let connector =
        SpiffeConnector::mtls(provider(), x509.clone(), x509, Authorizer::exact(server))?;
    // `http://`: the connector makes the connection TLS itself.
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_with_connector(connector)
        .await
        .map_err(|error| format!("cannot connect to {addr}: {}", cause(&error)))?;

    let mut grpc = tonic::client::Grpc::new(channel);
    for message in messages {
        grpc.ready().await?;
        let request = Request::new(EchoRequest {
            message: message.clone(),
        });
        let reply = grpc
            .unary(
                request,
                http::uri::PathAndQuery::from_static(SAY),
                ProstCodec::<EchoRequest, EchoReply>::default(),
            )
            .await
            .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
            .into_inner();
        println!(
            "reply: {:?} (the server saw {})",
            reply.message, reply.caller
        );
    }
    Ok(())
}

/// Why the connection failed: a refused server named by the `PeerRejected` in the error's
/// chain, else the innermost error.
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = error;
    loop {
        let rejected = inner
            .downcast_ref::<rustls::Error>()
            .and_then(PeerRejected::from_rustls)
            .or_else(|| {
                inner
                    .downcast_ref::<std::io::Error>()
                    .and_then(PeerRejected::from_io)
            });
        if let Some(rejected) = rejected {
            return format!("server refused: {rejected}");
        }
        match inner.source() {
            Some(source) => inner = source,
            None => return inner.to_string(),
        }
    }
}
