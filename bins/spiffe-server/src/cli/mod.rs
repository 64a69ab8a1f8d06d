//! `spiffe-server`'s command line, SPIRE's `spire-server` verbs with their flags, texts and
//! exit codes, dispatched by `spire-config`'s mitchellh/cli reimplementation.
//!
//! Each command is one module implementing [`Command`] and one line in [`commands`]. The
//! admin verbs (entry, agent, bundle, token, x509, jwt, localauthority, federation, logger…)
//! talk to a running server over the admin socket through [`client`] (socket flags, the
//! connection, SPIRE's `Error: …` reporting).

mod agent;
mod authority;
mod bundle;
pub mod client;
pub mod common;
mod entry;
mod federation;
mod healthcheck;
mod logger;
mod run;
mod svid;
mod token;
mod validate;

use std::sync::Arc;

use spire_api_proto::cli_text::logger::LoggerVerb;
use spire_config::cli::{Cli, Dispatch};

pub use client::Env;

/// One `spiffe-server` command.
pub trait Command: Send + Sync {
    /// Its full name (`run`, `entry create`).
    fn name(&self) -> &'static str;
    /// Its one-line description, shown in command lists.
    fn synopsis(&self) -> &'static str;
    /// Its help text (for SPIRE's commands: the flag usage then `flag: help requested`).
    fn help(&self) -> String;
    /// Runs it with the arguments after its name; returns the exit code.
    fn run(&self, args: &[String], env: &mut Env) -> i32;
}

/// Every command.
pub fn commands() -> Vec<Arc<dyn Command>> {
    let commands: Vec<Arc<dyn Command>> = vec![
        Arc::new(run::RunCommand),
        Arc::new(validate::ValidateCommand),
        Arc::new(healthcheck::HealthcheckCommand),
        Arc::new(agent::OneAgentCommand::Ban),
        Arc::new(agent::CountCommand),
        Arc::new(agent::OneAgentCommand::Evict),
        Arc::new(agent::ListCommand),
        Arc::new(agent::PurgeCommand),
        Arc::new(agent::OneAgentCommand::Show),
        Arc::new(bundle::CountCommand),
        Arc::new(bundle::DeleteCommand),
        Arc::new(bundle::ListCommand),
        Arc::new(bundle::SetCommand),
        Arc::new(bundle::ShowCommand),
        Arc::new(logger::DebugGetInfoCommand),
        Arc::new(entry::CountCommand),
        Arc::new(entry::CreateCommand),
        Arc::new(entry::DeleteCommand),
        Arc::new(entry::ShowCommand),
        Arc::new(entry::UpdateCommand),
        Arc::new(federation::WriteCommand { update: false }),
        Arc::new(federation::OneCommand::Delete),
        Arc::new(federation::ListCommand),
        Arc::new(federation::OneCommand::Refresh),
        Arc::new(federation::OneCommand::Show),
        Arc::new(federation::WriteCommand { update: true }),
        Arc::new(svid::JwtMintCommand),
        Arc::new(logger::LoggerCommand(LoggerVerb::Get)),
        Arc::new(logger::LoggerCommand(LoggerVerb::Reset)),
        Arc::new(logger::LoggerCommand(LoggerVerb::Set)),
        Arc::new(svid::X509MintCommand),
        Arc::new(token::TokenGenerateCommand),
        Arc::new(authority::LocalAuthorityCommand(
            authority::Kind::Jwt,
            authority::Op::Activate,
        )),
        Arc::new(authority::LocalAuthorityCommand(
            authority::Kind::Jwt,
            authority::Op::Prepare,
        )),
        Arc::new(authority::LocalAuthorityCommand(
            authority::Kind::Jwt,
            authority::Op::Revoke,
        )),
        Arc::new(authority::LocalAuthorityCommand(
            authority::Kind::Jwt,
            authority::Op::Show,
        )),
        Arc::new(authority::LocalAuthorityCommand(
            authority::Kind::Jwt,
            authority::Op::Taint,
        )),
        Arc::new(authority::LocalAuthorityCommand(
            authority::Kind::X509,
            authority::Op::Activate,
        )),
        Arc::new(authority::LocalAuthorityCommand(
            authority::Kind::X509,
            authority::Op::Prepare,
        )),
        Arc::new(authority::LocalAuthorityCommand(
            authority::Kind::X509,
            authority::Op::Revoke,
        )),
        Arc::new(authority::LocalAuthorityCommand(
            authority::Kind::X509,
            authority::Op::Show,
        )),
        Arc::new(authority::LocalAuthorityCommand(
            authority::Kind::X509,
            authority::Op::Taint,
        )),
        Arc::new(authority::UpstreamCommand(authority::Op::Revoke)),
        Arc::new(authority::UpstreamCommand(authority::Op::Taint)),
    ];
    commands
}

/// Runs the command line `args` (without the program name); returns the exit code.
pub fn run_cli(args: &[String], env: &mut Env) -> i32 {
    let commands = commands();
    let mut cli = Cli::new("spiffe-server", env!("CARGO_PKG_VERSION"));
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
