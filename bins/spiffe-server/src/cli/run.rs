//! `spiffe-server run`: loads the configuration (flags over the file), sets up logging, and
//! serves until SIGTERM or SIGINT (exit 0 after a clean stop, 1 on any failure, with SPIRE's
//! messages).

use super::client::Env;
use super::Command;
use crate::config::{RunFlagSet, ServerConfig};

/// `run`.
#[derive(Debug)]
pub(super) struct RunCommand;

impl Command for RunCommand {
    fn name(&self) -> &'static str {
        "run"
    }

    fn synopsis(&self) -> &'static str {
        "Runs the server"
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
        let config = match ServerConfig::load(&flags).and_then(|config| {
            config.check_supported()?;
            Ok(config)
        }) {
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
        let result = runtime.block_on(crate::server::run(config, Some(log)));
        // A task still blocked (e.g. a connection attempt to an upstream server that failed
        // the start) must not hold the process: give them 5 s, then exit.
        runtime.shutdown_timeout(std::time::Duration::from_secs(5));
        match result {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!(error = %spire_config::cli::error_chain(&e), "Server crashed");
                1
            }
        }
    }
}
