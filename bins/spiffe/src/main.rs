//! `spiffe`: the command-line tool of the SDK. Checks SPIFFE IDs, X.509-SVIDs, JWT-SVIDs and
//! trust bundles, for people in the terminal (`--output human`) and for
//! programs and test harnesses (`--output json`, one JSON object per answer).
//!
//! Exit status: 0 when everything asked about is valid, 1 when something is invalid or an I/O
//! error occurred, 2 for usage errors.
#![forbid(unsafe_code)]

mod cmd;
mod input;
mod output;
mod time;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::{Format, Output};

/// Check SPIFFE IDs, SVIDs and bundles against the SPIFFE standards.
#[derive(Debug, Parser)]
#[command(
    name = "spiffe",
    version,
    about,
    propagate_version = true,
    after_help = "Exit status: 0 when every answer is valid, 1 when one is invalid or an input \
        cannot be read (the error names the file), 2 for usage errors.\n\n\
        Examples:\n  \
        spiffe id check spiffe://example.org/web\n  \
        spiffe x509 verify --bundle example.org=bundle.pem svid.pem\n  \
        spiffe --output json jwt validate --bundle example.org=jwks.json --audience api - < t.jwt"
)]
struct Cli {
    /// How answers are printed: `human` (a line each, inspect answers add indented details)
    /// or `json` (one JSON object per line).
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    output: Format,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// SPIFFE IDs (SPIFFE-ID.md).
    #[command(subcommand)]
    Id(cmd::id::IdCommand),
    /// X.509-SVIDs (X509-SVID.md): inspect and verify certificate chains.
    #[command(subcommand)]
    X509(cmd::x509::X509Command),
    /// JWT-SVIDs (JWT-SVID.md): inspect and validate tokens.
    #[command(subcommand)]
    Jwt(cmd::jwt::JwtCommand),
    /// A local CA in a directory: create it, show and rotate its authorities (prepare, activate,
    /// taint, revoke); mint with `x509 mint` and `jwt mint`.
    #[command(subcommand)]
    Ca(cmd::ca::CaCommand),
    /// Trust bundles (SPIFFE_Trust_Domain_and_Bundle.md): inspect and convert.
    #[command(subcommand)]
    Bundle(cmd::bundle::BundleCommand),
    /// The SPIFFE Workload API: serve a static one from files (a test fake), fetch and watch.
    #[command(subcommand)]
    Workload(cmd::workload::WorkloadCommand),
    /// Keep SVIDs and bundles from the Workload API in files for programs that only read files,
    /// and start or signal them on every rotation: a drop-in for spiffe-helper (its config file
    /// and flags: `-config helper.conf`, `-daemon-mode=false`, `-exitWhenReady`).
    #[command(after_help = "Examples:\n  \
        spiffe helper -config helper.conf\n  \
        spiffe helper -config init.conf -daemon-mode=false\n\n\
        See docs/helper.md for the config keys.")]
    Helper(cmd::helper::HelperArgs),
    /// A conformance kit for other implementations: check a Workload API, export and run the
    /// SVID, bundle and ID vectors.
    #[command(subcommand)]
    Conformance(cmd::conformance::ConformanceCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = Output::stdout(cli.output);
    let result = match cli.command {
        Command::Id(command) => command.run(&mut out),
        Command::X509(command) => command.run(&mut out),
        Command::Jwt(command) => command.run(&mut out),
        Command::Bundle(command) => command.run(&mut out),
        Command::Ca(command) => command.run(&mut out),
        Command::Workload(command) => command.run(&mut out),
        // Exits with its child's status, so it reports on its own.
        Command::Helper(args) => return cmd::helper::main(args),
        Command::Conformance(command) => command.run(&mut out),
    };
    out.finish(result)
}
