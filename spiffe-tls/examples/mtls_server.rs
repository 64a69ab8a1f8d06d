//! An mTLS echo server keyed on SPIFFE IDs: it presents its X.509-SVID, accepts only clients
//! the authorizer allows, logs each peer's SPIFFE ID and echoes what it reads.
//!
//! ```text
//! cargo run --release -p spiffe-tls --example mtls_server -- --listen 127.0.0.1:8443 \
//!     --svid server/svid.pem --key server/svid.key --bundle example.org=server/bundle.pem \
//!     --authorize spiffe://example.org/client
//! ```
//!
//! With the SVID and bundles from the Workload API instead (they rotate without a restart):
//! `--socket unix:///run/spire/agent.sock` in place of `--svid`, `--key` and `--bundle`.
#![allow(missing_docs)]

mod common;

use std::net::SocketAddr;

use clap::Parser;
use spiffe_tls::tokio::{listen, PeerSpiffeId};
use spiffe_tls::{mtls_server_config, PeerRejected};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// mTLS echo server keyed on SPIFFE IDs; SVID and bundles from the Workload API (`--socket`)
/// or from files (`--svid`, `--key`, `--bundle`).
#[derive(Parser, Debug)]
struct Cli {
    /// The address to listen on
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,

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
    println!("serving as {}", identity.spiffe_id());
    let config = mtls_server_config(
        common::provider(),
        identity.svids,
        identity.bundles,
        identity.authorizer,
    )?;
    // Handshakes run concurrently, each within the default time limit; refused clients are
    // logged here and never accepted.
    let mut listener = listen(cli.listen, config)
        .await?
        .on_handshake_error(|addr, e| match PeerRejected::from_io(e) {
            Some(rejected) => println!("{addr}: client refused: {rejected}"),
            None => println!("{addr}: handshake failed: {e}"),
        });
    println!(
        "listening on {}",
        listener.local_addr().ok_or("no local address")?
    );
    loop {
        let (stream, addr) = listener.accept().await?;
        tokio::spawn(async move {
            match stream.peer_spiffe_id() {
                Some(id) => println!("{addr}: peer {id}"),
                None => println!("{addr}: peer without a SPIFFE ID"),
            }
            let (reader, mut writer) = tokio::io::split(stream);
            let mut lines = BufReader::new(reader).lines();
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        let echoed = async {
                            writer.write_all(line.as_bytes()).await?;
                            writer.write_all(b"\n").await?;
                            writer.flush().await
                        };
                        if let Err(e) = echoed.await {
                            println!("{addr}: write failed: {e}");
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        println!("{addr}: read failed: {e}");
                        return;
                    }
                }
            }
            let _ = writer.shutdown().await;
            println!("{addr}: closed");
        });
    }
}
