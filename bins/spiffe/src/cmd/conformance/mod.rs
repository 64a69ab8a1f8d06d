//! `spiffe conformance …`: a conformance kit for other SPIFFE implementations.
//!
//! - `workload-api`: black-box checks of any Workload API endpoint, as a workload
//!   ([`workload_api`]), one line per check naming its requirement id of
//!   `SPIFFE-CONFORMANCE.md`.
//! - `vectors export|run|adapter`: the checked-in SPIFFE ID, X.509-SVID, JWT-SVID and bundle
//!   vectors as a portable suite ([`vectors`]), an external-command runner speaking a line
//!   protocol ([`run`]) and our own library as the reference adapter ([`adapter`]).

use std::io::{self, Write};

use clap::Subcommand;
use serde::Serialize;

use crate::output::{Answer, Failure, Output};

mod adapter;
mod report;
mod run;
mod vectors;
mod wapi_jwt;
mod wapi_validate;
mod wapi_x509;
mod workload_api;

pub(crate) use report::Verdict;

/// Subcommands of `spiffe conformance`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConformanceCommand {
    /// Check a Workload API endpoint (an agent, a library's server) against the standard, as a
    /// workload: one line per check with pass, fail or not-observable and the evidence. Exit
    /// status 1 when any check fails.
    #[command(after_help = "Examples:\n  \
        spiffe conformance workload-api --endpoint unix:///tmp/spire-agent/public/api.sock\n  \
        spiffe --output json conformance workload-api --audience my-service --watch 2m")]
    WorkloadApi(workload_api::WorkloadApiArgs),

    /// The SPIFFE ID, X.509-SVID, JWT-SVID and bundle vectors with expected verdicts.
    #[command(subcommand)]
    Vectors(VectorsCommand),
}

/// Subcommands of `spiffe conformance vectors`.
#[derive(Debug, Subcommand)]
pub(crate) enum VectorsCommand {
    /// Write every vector into DIR: `vectors.jsonl` (one vector a line) and `README.md` (the
    /// format).
    Export(vectors::ExportArgs),
    /// Run every vector through an external command (the adapter protocol: one vector per
    /// stdin line, one verdict per stdout line) and report per vector and per requirement id.
    #[command(after_help = "Examples:\n  \
        spiffe conformance vectors run -- spiffe conformance vectors adapter\n  \
        spiffe conformance vectors run --only jwt -- python3 my_adapter.py")]
    Run(run::RunArgs),
    /// The reference adapter: answers vectors on stdin with this implementation's verdicts
    /// (what `vectors run` starts as its command).
    Adapter(adapter::AdapterArgs),
}

// === impl ConformanceCommand ===

impl ConformanceCommand {
    /// Runs the subcommand, writing answers to `out`.
    pub(crate) fn run<W: Write>(self, out: &mut Output<W>) -> Result<(), Failure> {
        match self {
            Self::WorkloadApi(args) => workload_api::run(&args, out),
            Self::Vectors(VectorsCommand::Export(args)) => vectors::export(&args, out),
            Self::Vectors(VectorsCommand::Run(args)) => run::run(&args, out),
            Self::Vectors(VectorsCommand::Adapter(args)) => adapter::serve(&args),
        }
    }
}

/// The closing line of a report: counts of each verdict.
#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    valid: bool,
    summary: Counts,
}

/// How many checks (or vectors) ended each way.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Counts {
    pub(crate) pass: usize,
    pub(crate) fail: usize,
    pub(crate) not_observable: usize,
}

impl Summary {
    pub(crate) fn of<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> Self {
        let mut summary = Counts::default();
        for verdict in verdicts {
            match verdict {
                Verdict::Pass => summary.pass += 1,
                Verdict::Fail => summary.fail += 1,
                Verdict::NotObservable => summary.not_observable += 1,
            }
        }
        Self {
            valid: summary.fail == 0,
            summary,
        }
    }
}

impl Answer for Summary {
    fn is_valid(&self) -> bool {
        self.valid
    }

    fn write_human(&self, w: &mut dyn Write) -> io::Result<()> {
        let c = &self.summary;
        write!(
            w,
            "{} passed, {} failed, {} not observable",
            c.pass, c.fail, c.not_observable
        )
    }
}
