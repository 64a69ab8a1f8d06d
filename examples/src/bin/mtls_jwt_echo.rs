//! An mTLS echo service with JWT-SVID authentication, both sides on the Workload API.
//!
//! The server and the client each take their X.509-SVID and trust bundles from the Workload API
//! at `SPIFFE_ENDPOINT_SOCKET` (an `X509Source`, which rotates underneath live connections) and
//! authorize each other by SPIFFE ID during the mTLS handshake. The client then proves itself a
//! second time with a JWT-SVID for the server's audience from a `JwtSource`; the server
//! validates it against its own JWT bundles and requires its subject to be the mTLS peer.
//!
//! ```text
//! mtls_jwt_echo serve --listen 127.0.0.1:8443 --client spiffe://example.org/echo-client --audience echo
//! mtls_jwt_echo call --connect 127.0.0.1:8443 --server spiffe://example.org/echo-server --audience echo hello
//! ```
//!
//! The protocol, after the handshake: the client sends `Bearer <JWT-SVID>`; the server answers
//! `ok <SPIFFE ID>` or `denied: <reason>` (and closes), then echoes each line it reads.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use spiffe_core::{JwtSvid, SpiffeId};
use spiffe_tls::tokio::{dial, listen, PeerSpiffeId};
use spiffe_tls::{mtls_client_config, mtls_server_config, Authorizer, PeerRejected};
use spiffe_workload::{JwtSource, X509Source};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// mTLS echo with JWT-SVID authentication; identities from the Workload API at
/// SPIFFE_ENDPOINT_SOCKET.
#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the echo, to the given clients only.
    Serve {
        /// The address to listen on (port 0 picks one; the chosen address is printed).
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// A client SPIFFE ID allowed to connect; repeat for several.
        #[arg(long = "client", value_name = "SPIFFE_ID", required = true)]
        clients: Vec<SpiffeId>,
        /// The audience client JWT-SVIDs must be for.
        #[arg(long)]
        audience: String,
    },
    /// Send each message and print its echo.
    Call {
        /// The server's address.
        #[arg(long, value_name = "ADDR")]
        connect: SocketAddr,
        /// The server's SPIFFE ID; any other server is refused.
        #[arg(long, value_name = "SPIFFE_ID")]
        server: SpiffeId,
        /// The audience of the JWT-SVID sent to the server.
        #[arg(long)]
        audience: String,
        /// The lines to send.
        #[arg(required = true)]
        messages: Vec<String>,
    },
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve {
            listen,
            clients,
            audience,
        } => serve(listen, clients, audience).await,
        Command::Call {
            connect,
            server,
            audience,
            messages,
        } => call(connect, server, &audience, &messages).await,
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

// === the server ===

async fn serve(addr: SocketAddr, clients: Vec<SpiffeId>, audience: String) -> Result<(), Error> {
    // Both fail at once, saying why, if SPIFFE_ENDPOINT_SOCKET is unset or names no socket.
    let x509 = X509Source::from_env().await?;
    let jwt = JwtSource::from_env().await?;

    // The handshake only completes for the listed clients.
    let config = mtls_server_config(
        provider(),
        x509.clone(),
        x509.clone(),
        Authorizer::one_of(clients),
    )?;
    let mut listener = listen(addr, config)
        .await?
        .on_handshake_error(|peer, error| match PeerRejected::from_io(error) {
            Some(rejected) => println!("{peer}: refused: {rejected}"),
            None => println!("{peer}: handshake failed: {error}"),
        });
    let bound = listener.local_addr().ok_or("the listener has no address")?;
    println!("listening on {bound}");

    let audience: Arc<str> = audience.into();
    loop {
        let (stream, peer) = listener.accept().await?;
        let (jwt, audience) = (jwt.clone(), audience.clone());
        tokio::spawn(async move {
            if let Err(error) = echo(stream, &jwt, &audience).await {
                println!("{peer}: {error}");
            }
        });
    }
}

/// One connection: the JWT-SVID check, then the echo.
async fn echo<S>(stream: S, jwt: &JwtSource, audience: &str) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + PeerSpiffeId + Unpin,
{
    let peer = stream.peer_spiffe_id().ok_or("the peer has no SPIFFE ID")?;
    let (reader, mut writer) = tokio::io::split(stream);
    let mut lines = BufReader::new(reader).lines();

    let first = lines.next_line().await?.unwrap_or_default();
    let token = first.strip_prefix("Bearer ").unwrap_or_default();
    let verdict = match JwtSvid::validate_now(token, jwt, &[audience]) {
        Ok(svid) if svid.spiffe_id() == &peer => Ok(()),
        Ok(svid) => Err(format!(
            "the JWT-SVID is for {}, the connection is from {peer}",
            svid.spiffe_id()
        )),
        Err(error) => Err(format!("invalid JWT-SVID: {error}")),
    };
    if let Err(reason) = verdict {
        println!("{peer}: denied: {reason}");
        writer
            .write_all(format!("denied: {reason}\n").as_bytes())
            .await?;
        writer.shutdown().await?;
        return Ok(());
    }
    println!("{peer}: authenticated by mTLS and JWT-SVID");
    writer.write_all(format!("ok {peer}\n").as_bytes()).await?;

    while let Some(line) = lines.next_line().await? {
        writer.write_all(format!("{line}\n").as_bytes()).await?;
    }
    writer.shutdown().await?;
    Ok(())
}

// === the client ===

async fn call(
    addr: SocketAddr,
    server: SpiffeId,
    audience: &str,
    messages: &[String],
) -> Result<(), Error> {
    let x509 = X509Source::from_env().await?;
    let jwt = JwtSource::from_env().await?;
    let token = jwt.fetch_jwt_svid(&[audience]).await?;

    let config = mtls_client_config(provider(), x509.clone(), x509, Authorizer::exact(server))?;
    let stream = dial(addr, config)
        .await
        .map_err(|error| match PeerRejected::from_io(&error) {
            Some(rejected) => format!("server refused: {rejected}").into(),
            None => Error::from(error),
        })?;
    let server = stream
        .peer_spiffe_id()
        .ok_or("the server has no SPIFFE ID")?;
    println!("server: {server}");

    let (reader, mut writer) = tokio::io::split(stream);
    let mut lines = BufReader::new(reader).lines();
    writer
        .write_all(format!("Bearer {}\n", token.token()).as_bytes())
        .await?;
    // A client the server refused in the handshake learns it here (TLS 1.3), as a read error.
    let answer = lines.next_line().await?.unwrap_or_default();
    let Some(me) = answer.strip_prefix("ok ") else {
        return Err(format!("the server said: {answer}").into());
    };
    println!("authenticated as {me}");

    for message in messages {
        writer.write_all(format!("{message}\n").as_bytes()).await?;
        let echoed = lines.next_line().await?.ok_or("the server closed")?;
        println!("echo: {echoed}");
    }
    writer.shutdown().await?;
    Ok(())
}
