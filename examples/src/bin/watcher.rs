//! Watches the Workload API at `SPIFFE_ENDPOINT_SOCKET` and prints every update as it arrives:
//! each X.509 context (the workload's X.509-SVIDs with serial and expiry, and the trust domains
//! of the X.509 bundles it trusts) and each set of JWT bundles.
//!
//! ```text
//! watcher              # until Ctrl-C
//! watcher --count 3    # stop after three X.509 context updates (the first one and two rotations)
//! ```
//!
//! The streams stay open across agent restarts: the client re-opens them with backoff and
//! prints each failure meanwhile on stderr. An update is always the complete new state, never
//! a difference.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use spiffe_core::time::CivilTime;
use spiffe_core::{BundleSet, X509Bundle};
use spiffe_workload::{WorkloadApiClient, X509Context};
use tokio::signal::unix::{signal, SignalKind};

/// Prints each X.509 context and JWT bundle update from the Workload API at
/// SPIFFE_ENDPOINT_SOCKET.
#[derive(Parser, Debug)]
struct Cli {
    /// Stop after this many X.509 context updates (default: run until interrupted).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    match watch(Cli::parse().count).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn watch(count: Option<u64>) -> Result<(), Error> {
    // Fails at once, saying why, if SPIFFE_ENDPOINT_SOCKET is unset, invalid, or names no
    // socket; a socket that exists but answers nothing yet is retried by the watches.
    let client = WorkloadApiClient::from_env().await?;
    let mut x509 = client.watch_x509_context();
    let mut jwt = client.watch_jwt_bundles();
    // Registered now, so that a Ctrl-C at any moment from here on ends the loop cleanly.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut x509_updates = 0;
    let mut jwt_updates = 0;

    while count.is_none_or(|count| x509_updates < count) {
        tokio::select! {
            update = x509.next() => match update {
                Some(Ok(context)) => {
                    x509_updates += 1;
                    print_x509(x509_updates, &context);
                }
                // Retried by the watch: no identity yet, the agent restarting, ...
                Some(Err(error)) => eprintln!("X.509 context: {error}"),
                None => return Err("the Workload API closed the X.509 context stream".into()),
            },
            update = jwt.next() => match update {
                Some(Ok(bundles)) => {
                    jwt_updates += 1;
                    print_jwt(jwt_updates, &bundles);
                }
                Some(Err(error)) => eprintln!("JWT bundles: {error}"),
                None => return Err("the Workload API closed the JWT bundles stream".into()),
            },
            _ = interrupt.recv() => {
                println!("interrupted");
                break;
            }
        }
    }
    Ok(())
}

fn print_x509(n: u64, context: &X509Context) {
    println!("X.509 context update {n}:");
    for entry in &context.svids {
        let leaf = entry.svid.leaf();
        let hint = if entry.hint.is_empty() {
            String::new()
        } else {
            format!(" (hint {:?})", entry.hint)
        };
        println!(
            "  SVID {} serial {} expires {}{hint}",
            entry.svid.spiffe_id(),
            leaf.serial_hex(),
            CivilTime::from_unix(leaf.not_after()),
        );
    }
    for bundle in &context.bundles {
        print_x509_bundle(bundle);
    }
}

fn print_x509_bundle(bundle: &Arc<X509Bundle>) {
    println!(
        "  X.509 bundle {}: {} authorities",
        bundle.trust_domain(),
        bundle.authorities().len()
    );
}

fn print_jwt(n: u64, bundles: &BundleSet) {
    println!("JWT bundles update {n}:");
    for (trust_domain, entry) in bundles.iter() {
        let keys = entry.jwt().map_or(0, |bundle| bundle.len());
        println!("  JWT bundle {trust_domain}: {keys} keys");
    }
}
