//! A one-method gRPC service written by hand against tonic's server and client building blocks
//! (what `tonic-build` would generate for `service Greeter { rpc SayHello(HelloRequest)
//! returns (HelloReply); }`), served over `spiffe_tls::hyper::TlsIncoming` with the connection
//! type `spiffe_tls::tonic_connection!` declares. Shared by `examples/tonic_mtls.rs` and
//! `tests/tonic.rs`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::task::{Context, Poll};

use spiffe_tls::hyper::PeerIdentity;
use tonic::codegen::{http, BoxFuture, Service, StdError};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

/// The request.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HelloRequest {
    /// Who says hello.
    #[prost(string, tag = "1")]
    pub(crate) name: String,
}

/// The reply.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HelloReply {
    /// The greeting.
    #[prost(string, tag = "1")]
    pub(crate) message: String,
    /// The caller's SPIFFE ID as the server saw it on the mTLS connection.
    #[prost(string, tag = "2")]
    pub(crate) caller: String,
}

const SAY_HELLO: &str = "/demo.Greeter/SayHello";

// === the tonic glue ===

spiffe_tls::tonic_connection!(
    /// An mTLS connection as tonic serves it: tonic puts its client's `PeerIdentity` in every
    /// request's extensions.
    pub(crate) struct GrpcConn;
);

// === the server ===

/// The Greeter service: answers `hello, NAME` and echoes the caller's SPIFFE ID, which it
/// reads from the request's extensions.
#[derive(Clone, Debug, Default)]
pub(crate) struct GreeterServer;

impl NamedService for GreeterServer {
    const NAME: &'static str = "demo.Greeter";
}

struct SayHello;

impl UnaryService<HelloRequest> for SayHello {
    type Response = HelloReply;
    type Future = BoxFuture<Response<HelloReply>, Status>;

    fn call(&mut self, request: Request<HelloRequest>) -> Self::Future {
        // The peer identity our `Connected` impl returned, per request.
        let caller = request
            .extensions()
            .get::<PeerIdentity>()
            .and_then(|peer| peer.spiffe_id())
            .map(ToString::to_string);
        Box::pin(async move {
            let Some(caller) = caller else {
                return Err(Status::unauthenticated("no SPIFFE ID on this connection"));
            };
            let name = request.into_inner().name;
            println!("server: SayHello({name:?}) from {caller}");
            Ok(Response::new(HelloReply {
                message: format!("hello, {name}"),
                caller,
            }))
        })
    }
}

impl<B> Service<http::Request<B>> for GreeterServer
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
        if request.uri().path() != SAY_HELLO {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        Box::pin(async move {
            let mut grpc = Grpc::new(ProstCodec::<HelloReply, HelloRequest>::default());
            Ok(grpc.unary(SayHello, request).await)
        })
    }
}

// === the client ===

/// Calls `SayHello` on a channel.
pub(crate) async fn say_hello(
    channel: tonic::transport::Channel,
    name: &str,
) -> Result<HelloReply, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let request = Request::new(HelloRequest {
        name: name.to_owned(),
    });
    let response = grpc
        .unary(
            request,
            http::uri::PathAndQuery::from_static(SAY_HELLO),
            ProstCodec::<HelloRequest, HelloReply>::default(),
        )
        .await?;
    Ok(response.into_inner())
}
