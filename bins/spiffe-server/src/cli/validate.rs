//! `spiffe-server validate -config F`: decodes and checks a configuration as `run` would,
//! without starting anything, and says so in SPIRE's words.

use super::client::Env;
use super::Command;
use crate::config::{RunFlagSet, ServerConfig};

/// `validate`.
#[derive(Debug)]
pub(super) struct ValidateCommand;

impl Command for ValidateCommand {
    fn name(&self) -> &'static str {
        "validate"
    }

    fn synopsis(&self) -> &'static str {
        "Validates a SPIRE server configuration file"
    }

    fn help(&self) -> String {
        RunFlagSet::new("validate").help()
    }

    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let flags = match RunFlagSet::new("validate").parse(args, &mut env.stderr) {
            Ok(flags) => flags,
            Err(e) => {
                env.eprintln(&format!("SPIRE server configuration file is invalid: {e}"));
                return 1;
            }
        };
        let checked = ServerConfig::load(&flags).and_then(|config| {
            config.check_supported()?;
            Ok(config)
        });
        match checked {
            Ok(_) => {
                env.println("SPIRE server configuration file is valid.");
                0
            }
            Err(e) => {
                env.eprintln(&format!(
                    "SPIRE server configuration file is invalid: {}",
                    spire_config::cli::error_chain(&e)
                ));
                1
            }
        }
    }
}
