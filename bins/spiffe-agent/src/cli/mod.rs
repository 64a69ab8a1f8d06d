//! `spiffe-agent`'s command line, SPIRE's `spire-agent` verbs with their flags, texts and exit
//! codes, dispatched by `spire-config`'s mitchellh/cli reimplementation:
//!
//! | command | what it does |
//! |---|---|
//! | `run` | runs the agent ([`crate::daemon`]) |
//! | `validate` | checks a configuration file |
//! | `healthcheck` | asks a running agent whether it serves |
//! | `api fetch x509`, `api fetch jwt`, `api fetch jwtbundle`, `api validate jwt`, `api watch` | Workload API calls, as a workload |
//! | `logger get`, `logger set`, `logger reset` | reads, changes, resets a running agent's log level (admin socket's Logger API) |
//! | `debug getinfo` | a running agent's uptime, sync and cache counters, SVID chain (admin socket's Debug API) |

mod admin;
mod api;
mod debug;
mod healthcheck;
mod logger;
mod run;
mod time;

use std::io::Write;
use std::sync::Arc;

use spire_config::cli::{Cli, Dispatch};

/// Where a command writes.
pub struct Env {
    /// Standard output.
    pub stdout: Box<dyn Write + Send>,
    /// Standard error.
    pub stderr: Box<dyn Write + Send>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}

impl Env {
    /// The process's stdout and stderr.
    pub fn std() -> Self {
        Self {
            stdout: Box::new(std::io::stdout()),
            stderr: Box::new(std::io::stderr()),
        }
    }

    /// Writes `line` and a newline to stdout (write errors are ignored, as Go's CLI does).
    pub fn println(&mut self, line: &str) {
        let _ = writeln!(self.stdout, "{line}");
    }

    /// Writes `line` and a newline to stderr.
    pub fn eprintln(&mut self, line: &str) {
        let _ = writeln!(self.stderr, "{line}");
    }
}

/// One `spiffe-agent` command.
pub trait Command: Send + Sync {
    /// Its full name (`run`, `api fetch x509`).
    fn name(&self) -> &'static str;
    /// Its one-line description.
    fn synopsis(&self) -> &'static str;
    /// Its help text.
    fn help(&self) -> String;
    /// Runs it with the arguments after its name; returns the exit code.
    fn run(&self, args: &[String], env: &mut Env) -> i32;
}

/// Every command.
pub fn commands() -> Vec<Arc<dyn Command>> {
    let mut commands: Vec<Arc<dyn Command>> = vec![
        Arc::new(run::RunCommand),
        Arc::new(run::ValidateCommand),
        Arc::new(healthcheck::HealthcheckCommand),
        Arc::new(debug::DebugGetInfoCommand),
    ];
    commands.extend(logger::commands());
    commands.extend(api::commands());
    commands
}

/// Runs the command line `args` (without the program name); returns the exit code.
pub fn run_cli(args: &[String], env: &mut Env) -> i32 {
    let commands = commands();
    let mut cli = Cli::new("spiffe-agent", env!("CARGO_PKG_VERSION"));
    for command in &commands {
        let help_of = command.clone();
        cli.command(command.name(), command.synopsis(), move || help_of.help());
    }
    match cli.dispatch(args) {
        Dispatch::Exit { code, output } => {
            let _ = env.stderr.write_all(output.as_bytes());
            code
        }
        Dispatch::Run { command, args } => match commands.iter().find(|c| c.name() == command) {
            Some(c) => c.run(&args, env),
            None => 127,
        },
    }
}

/// The program: runs `std::env::args()` with the process's stdout and stderr.
pub fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = run_cli(&args, &mut Env::std());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// A gRPC channel over the Unix socket at `path`, connected now.
pub(crate) async fn uds_channel(
    path: &std::path::Path,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let path = path.to_owned();
    tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
}

/// A current-thread runtime for a client command.
pub(crate) fn client_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("unable to start the async runtime: {e}"))
}
