//! `spiffe workload …`: the SPIFFE Workload API from the command line: `serve` a static one
//! from files (a test fake), and, as a client, `fetch` and `watch` what an agent serves.

use std::future::Future;
use std::io::Write;

use clap::{Args, Subcommand};
use std::time::Duration;

use spiffe_workload::{Backoff, ClientError};
use spiffe_workload::{EndpointAddress, WorkloadApiClient};

use crate::output::{Failure, Output};

mod fetch;
mod jwt_key;
mod serve;
mod watch;

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

    /// Fetch from a Workload API once (`SPIFFE_ENDPOINT_SOCKET`, or `--socket`).
    #[command(subcommand)]
    Fetch(fetch::FetchCommand),

    /// Print every update of a Workload API stream as it arrives; reconnects with backoff.
    #[command(after_help = "Examples:\n  \
        spiffe workload watch\n  \
        spiffe --output json workload watch bundles --socket unix:///tmp/agent.sock --count 2")]
    Watch(watch::WatchArgs),
}

/// How a client finds the Workload API.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// The Workload API address: `unix:///path`, `unix:/path`, `tcp://IP:port` or a plain
    /// socket path. Default: the `SPIFFE_ENDPOINT_SOCKET` environment variable.
    #[arg(long, value_name = "ADDR")]
    socket: Option<String>,

    /// Keep retrying for up to this long while the Workload API is unreachable or has no
    /// identity for this process yet (e.g. `30s`, `2m`; units s, m, h, d), with the client's backoff; invalid
    /// requests fail at once. Default: one attempt.
    #[arg(long, value_name = "DURATION", value_parser = super::ca::parse_duration)]
    wait: Option<Duration>,
}

// === impl ClientArgs ===

impl ClientArgs {
    /// Runs `call` on a client of the configured Workload API: once, or with `--wait` again
    /// after each retryable failure (UNAVAILABLE, PERMISSION_DENIED, no connection) until the
    /// time is up, each retry after the client's backoff delay.
    async fn call<T, F, Fut>(&self, what: &'static str, mut call: F) -> Result<T, Failure>
    where
        F: FnMut(WorkloadApiClient) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let Some(wait) = self.wait else {
            let client = self.connect().await?;
            return call(client).await.map_err(call_failure(what));
        };
        let deadline = tokio::time::Instant::now() + wait;
        let client = WorkloadApiClient::connect_lazy(&self.address()?)
            .map_err(call_failure("connecting"))?;
        let mut backoff = Backoff::new(*client.backoff());
        loop {
            match call(client.clone()).await {
                Ok(answer) => return Ok(answer),
                Err(error) if error.is_retryable() => {
                    let next = tokio::time::Instant::now() + backoff.next_delay();
                    if next >= deadline {
                        return Err(call_failure(what)(error));
                    }
                    tokio::time::sleep_until(next).await;
                }
                Err(error) => return Err(call_failure(what)(error)),
            }
        }
    }

    /// Connects to the configured Workload API.
    async fn connect(&self) -> Result<WorkloadApiClient, Failure> {
        WorkloadApiClient::connect(&self.address()?)
            .await
            .map_err(call_failure("connecting"))
    }

    /// The configured Workload API address.
    fn address(&self) -> Result<EndpointAddress, Failure> {
        let address = match &self.socket {
            Some(socket) if !socket.starts_with("unix:") && !socket.starts_with("tcp:") => {
                EndpointAddress::Unix(serve::socket_path(socket)?)
            }
            explicit => {
                EndpointAddress::resolve(explicit.as_deref()).map_err(|e| Failure::Input {
                    what: match explicit {
                        Some(socket) => format!("socket address `{socket}`"),
                        None => spiffe_workload::ENDPOINT_ENV_VAR.to_owned(),
                    },
                    error: Box::new(e),
                })?
            }
        };
        Ok(address)
    }
}

// === impl WorkloadCommand ===

impl WorkloadCommand {
    /// Runs the subcommand, writing answers to `out`.
    pub(crate) fn run<W: Write>(self, out: &mut Output<W>) -> Result<(), Failure> {
        match self {
            Self::Serve(args) => serve::serve(&args, out),
            Self::Fetch(command) => command.run(out),
            Self::Watch(args) => watch::watch(&args, out),
        }
    }
}

/// Runs `future` on a single-threaded runtime.
fn block_on<T>(future: impl Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::io("starting the async runtime"))?
        .block_on(future)
}

/// A failed Workload API call (`what`: the RPC or step).
fn call_failure(what: &'static str) -> impl FnOnce(ClientError) -> Failure {
    move |error| Failure::Input {
        what: format!("Workload API ({what})"),
        error: Box::new(error),
    }
}
