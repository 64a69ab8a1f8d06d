//! An mTLS client keyed on SPIFFE IDs: it presents its X.509-SVID, accepts only a server the
//! authorizer allows, sends one line, and prints the server's SPIFFE ID and the echo.
//!
//! ```text
//! cargo run --release -p spiffe-tls --example mtls_client -- --connect 127.0.0.1:8443 \
//!     --svid client/svid.pem --key client/svid.key --bundle example.org=client/bundle.pem \
//!     --authorize spiffe://example.org/server
//! ```
//!
//! With the SVID and bundles from the Workload API instead:
//! `--socket unix:///run/spire/agent.sock` in place of `--svid`, `--key` and `--bundle`.
#![allow(missing_docs)]

mod common;

use std::net::SocketAddr;

use clap::Parser;
use spiffe_tls::mtls_client_config;
use spiffe_tls::tokio::{dial, PeerSpiffeId};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// mTLS echo client keyed on SPIFFE IDs; SVID and bundles from the Workload API (`--socket`)
/// or from files (`--svid`, `--key`, `--bundle`).
#[derive(Parser, Debug)]
struct Cli {
    /// The server's address
    #[arg(long, value_name = "ADDR")]
    connect: SocketAddr,

    /// The line to send
    #[arg(long, default_value = "hello over SPIFFE mTLS")]
    message: String,

    #[command(flatten)]
    identity: common::Identity,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), common::Error> {
    let identity = cli.identity.load().await?;
    let config = mtls_client_config(
        common::provider(),
        identity.svids,
        identity.bundles,
        identity.authorizer,
    )?;
    // The SPIFFE verifier authenticates the server by its SPIFFE ID; no server name is needed.
    let stream = dial(cli.connect, config).await.map_err(|e| {
        match spiffe_tls::PeerRejected::from_io(&e) {
            Some(rejected) => format!("server refused: {rejected}").into(),
            None => common::Error::from(e),
        }
    })?;
    match stream.peer_spiffe_id() {
        Some(id) => println!("server: {id}"),
        None => println!("server: no SPIFFE ID"),
    }
    let (reader, mut writer) = tokio::io::split(stream);
    writer.write_all(cli.message.as_bytes()).await?;
    writer.write_all(b"\n").await?;
    writer.flush().await?;
    let mut echo = String::new();
    BufReader::new(reader).read_line(&mut echo).await?;
    println!("echo: {}", echo.trim_end_matches('\n'));
    writer.shutdown().await?;
    Ok(())
}
