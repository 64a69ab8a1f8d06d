//! `spiffe-agent run` and `spiffe-agent validate`, which share SPIRE's `run` flags.

use super::{Command, Env};
use crate::config::{AgentConfig, RunFlagSet};

/// `run`.
#[derive(Debug)]
pub(super) struct RunCommand;

impl Command for RunCommand {
    fn name(&self) -> &'static str {
        "run"
    }

    fn synopsis(&self) -> &'static str {
        "Runs the agent"
    }

    fn help(&self) -> String {
        RunFlagSet::new("run").help()
    }

    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let flags = match RunFlagSet::new("run").parse(args, &mut env.stderr) {
            Ok(flags) => flags,
            Err(e) => {
                env.eprintln(&e.to_string());
                return 1;
            }
        };
        let config = match AgentConfig::load(&flags) {
            Ok(config) => config,
            Err(e) => {
                env.eprintln(&spire_config::cli::error_chain(&e));
                return 1;
            }
        };
        let log = match daemon_telemetry::logging::init(&config.log) {
            Ok(handle) => handle,
            Err(e) => {
                env.eprintln(&format!(
                    "could not start logger: {}",
                    spire_config::cli::error_chain(&e)
                ));
                return 1;
            }
        };
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                env.eprintln(&format!("unable to start the async runtime: {e}"));
                return 1;
            }
        };
        match runtime.block_on(crate::daemon::run(config, Some(log))) {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!(error = %spire_config::cli::error_chain(&e), "Agent crashed");
                1
            }
        }
    }
}

/// `validate`.
#[derive(Debug)]
pub(super) struct ValidateCommand;

impl Command for ValidateCommand {
    fn name(&self) -> &'static str {
        "validate"
    }

    fn synopsis(&self) -> &'static str {
        "Validates a SPIRE agent configuration file"
    }

    fn help(&self) -> String {
        RunFlagSet::new("validate").help()
    }

    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let flags = match RunFlagSet::new("validate").parse(args, &mut env.stderr) {
            Ok(flags) => flags,
            Err(e) => {
                env.eprintln(&format!("SPIRE agent configuration file is invalid: {e}"));
                return 1;
            }
        };
        match AgentConfig::load(&flags) {
            Ok(_) => {
                env.println("SPIRE agent configuration file is valid.");
                0
            }
            Err(e) => {
                env.eprintln(&format!(
                    "SPIRE agent configuration file is invalid: {}",
                    spire_config::cli::error_chain(&e)
                ));
                1
            }
        }
    }
}
