//! An HTTP service (hyper 1) that authenticates each request by a JWT-SVID, and a client that
//! calls it with one, both on the Workload API at `SPIFFE_ENDPOINT_SOCKET`.
//!
//! The service validates the `Authorization: Bearer <JWT-SVID>` header in its handler against
//! the JWT bundles of a `JwtSource` (which follows bundle rotations in the background): the
//! signature, the expiry and the audience. A request without a valid token gets
//! `401 Unauthorized` with the reason in the body; a valid token of a caller not allowed gets
//! `403 Forbidden`. The client fetches a JWT-SVID for the service's audience (a `JwtSource`
//! caches it until half its life is gone) and sends it.
//!
//! ```text
//! jwt_hyper_service serve --listen 127.0.0.1:8080 --audience orders --allow spiffe://example.org/web
//! jwt_hyper_service call --url http://127.0.0.1:8080/orders --audience orders
//! ```
//!
//! A bearer token is a secret: outside a loopback demo, send it over TLS only (with
//! `spiffe-tls`, as `mtls_jwt_echo` does), or anyone on the path can replay it until it expires.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use spiffe_core::{JwtSvid, SpiffeId};
use spiffe_workload::JwtSource;
use tokio::net::TcpListener;

/// An HTTP service authenticating callers by JWT-SVID, and its client; identities from the
/// Workload API at SPIFFE_ENDPOINT_SOCKET.
#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve HTTP, answering only requests with a valid JWT-SVID.
    Serve {
        /// The address to listen on (port 0 picks one; the chosen address is printed).
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// The audience JWT-SVIDs must be for (this service's name).
        #[arg(long)]
        audience: String,
        /// A caller allowed in; repeat for several. Without any, every caller with a valid
        /// JWT-SVID (of any trust domain whose JWT bundle we have) is allowed.
        #[arg(long = "allow", value_name = "SPIFFE_ID")]
        allowed: Vec<SpiffeId>,
    },
    /// GET a URL with a JWT-SVID for the audience, and print the answer.
    Call {
        /// The URL to GET (`http://`).
        #[arg(long)]
        url: hyper::Uri,
        /// The audience of the JWT-SVID sent.
        #[arg(long)]
        audience: String,
    },
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve {
            listen,
            audience,
            allowed,
        } => serve(listen, audience, allowed).await,
        Command::Call { url, audience } => call(url, &audience).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

// === the service ===

/// What every request handler needs.
struct Service {
    jwt: JwtSource,
    audience: String,
    allowed: Vec<SpiffeId>,
}

async fn serve(addr: SocketAddr, audience: String, allowed: Vec<SpiffeId>) -> Result<(), Error> {
    // Fails at once, saying why, if SPIFFE_ENDPOINT_SOCKET is unset or names no socket.
    let jwt = JwtSource::from_env().await?;
    let service = Arc::new(Service {
        jwt,
        audience,
        allowed,
    });

    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        let service = service.clone();
        tokio::spawn(async move {
            let handler = service_fn(move |request| {
                let service = service.clone();
                async move { Ok::<_, Infallible>(service.handle(&request)) }
            });
            // HTTP/1 keeps the connection open for further requests.
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), handler)
                .await
            {
                println!("connection failed: {error}");
            }
        });
    }
}

impl Service {
    /// One request: who is calling, and are they allowed?
    fn handle(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let (method, path) = (request.method(), request.uri().path());
        let caller = match self.authenticate(request) {
            Ok(caller) => caller,
            Err(reason) => {
                println!("{method} {path}: 401 {reason}");
                let mut response = text(StatusCode::UNAUTHORIZED, format!("{reason}\n"));
                // RFC 6750: a 401 names the scheme the client should use.
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
        };
        if !self.allowed.is_empty() && !self.allowed.contains(&caller) {
            println!("{method} {path}: 403 {caller} is not allowed");
            return text(StatusCode::FORBIDDEN, format!("{caller} is not allowed\n"));
        }
        println!("{method} {path}: 200 for {caller}");
        text(StatusCode::OK, format!("hello, {caller}\n"))
    }

    /// The caller's SPIFFE ID from a valid JWT-SVID in `Authorization`, or why there is none.
    fn authenticate(&self, request: &Request<Incoming>) -> Result<SpiffeId, String> {
        let header = request
            .headers()
            .get(AUTHORIZATION)
            .ok_or("no Authorization header (expected `Bearer <JWT-SVID>`)")?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or("the Authorization header is not `Bearer <JWT-SVID>`")?;
        // The signature against the JWT bundle of the token's trust domain, the expiry, and
        // that our audience is among the token's.
        let svid = JwtSvid::validate_now(token, &self.jwt, &[self.audience.as_str()])
            .map_err(|error| format!("invalid JWT-SVID: {error}"))?;
        Ok(svid.spiffe_id().clone())
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::from(body));
    *response.status_mut() = status;
    response
}

// === the client ===

async fn call(url: hyper::Uri, audience: &str) -> Result<(), Error> {
    let jwt = JwtSource::from_env().await?;
    let token = jwt.fetch_jwt_svid(&[audience]).await?;
    println!("calling as {}", token.spiffe_id());

    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = Request::get(&url)
        .header(AUTHORIZATION, format!("Bearer {}", token.token()))
        .body(Empty::new())?;
    let response = client
        .request(request)
        .await
        .map_err(|error| format!("GET {url}: {error}"))?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let body = String::from_utf8_lossy(&body);
    if !status.is_success() {
        return Err(format!("the service answered {status}: {}", body.trim_end()).into());
    }
    println!("{status}: {}", body.trim_end());
    Ok(())
}
