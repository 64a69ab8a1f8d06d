//! `spiffe workload …`: the SPIFFE Workload API from the command line: `serve` a static one
//! from files (a test fake), and, as a client, `fetch` and `watch` what an agent serves.

use std::io::Write;

use clap::Subcommand;

use crate::output::{Failure, Output};

mod jwt_key;
mod serve;

/// Subcommands of `spiffe workload`.
#[derive(Debug, Subcommand)]
pub(crate) enum WorkloadCommand {
    /// Serve a static Workload API on a Unix socket: one X.509-SVID and its bundles from files
    /// (and JWT-SVIDs with `--jwt-key`), reloaded when the files change. Runs until SIGINT or
    /// SIGTERM, then removes the socket.
    #[command(after_help = "Example:\n  \
        spiffe workload serve --socket unix:///tmp/agent.sock \\\n    \
        --svid svid.pem --key svid.key --bundle bundle.pem \\\n    \
        --jwt-key jwt.key --jwt-kid k1 --federated other.org=other.json")]
    Serve(serve::ServeArgs),
}

// === impl WorkloadCommand ===

impl WorkloadCommand {
    /// Runs the subcommand, writing answers to `out`.
    pub(crate) fn run<W: Write>(self, out: &mut Output<W>) -> Result<(), Failure> {
        match self {
            Self::Serve(args) => serve::serve(&args, out),
        }
    }
}
