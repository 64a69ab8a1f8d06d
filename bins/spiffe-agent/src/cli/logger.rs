//! `spiffe-agent logger get|set|reset`: the agent's Logger API on its admin socket, with
//! SPIRE's flags, texts and exit codes (`cmd/spire-agent/cli/logger`). The texts are
//! `spire_api_proto::cli_text::logger`'s, which the server's `logger` commands print too.

use std::sync::Arc;

use spire_api_proto::agent::logger::v1 as loggerv1;
use spire_api_proto::cli_text::logger::{
    logger_json, logger_pretty, parse_level_flag, LoggerVerb, LEVEL_FLAG,
};
use spire_api_proto::types;
use spire_config::flags::Flag;

use super::admin::{run_admin, AdminFlags, Printed};
use super::{Command, Env};

type Client = loggerv1::logger_client::LoggerClient<tonic::transport::Channel>;

/// The `logger` commands.
pub(super) fn commands() -> Vec<Arc<dyn Command>> {
    LoggerVerb::ALL
        .into_iter()
        .map(|verb| Arc::new(LoggerCommand(verb)) as Arc<dyn Command>)
        .collect()
}

/// `logger get`, `logger set`, `logger reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LoggerCommand(LoggerVerb);

impl LoggerCommand {
    fn flags(self) -> (AdminFlags, Option<Flag<String>>) {
        let mut level = None;
        let flags = AdminFlags::new(self.name(), |fs| {
            if self.0 == LoggerVerb::Set {
                let (name, usage) = LEVEL_FLAG;
                level = Some(fs.string(name, "", usage));
            }
        });
        (flags, level)
    }
}

fn printed(logger: &types::Logger) -> Printed {
    Printed {
        pretty: logger_pretty(logger),
        json: logger_json(logger),
    }
}

impl Command for LoggerCommand {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn synopsis(&self) -> &'static str {
        self.0.synopsis()
    }

    fn help(&self) -> String {
        self.flags().0.fs.help()
    }

    fn run(&self, args: &[String], env: &mut Env) -> i32 {
        let (flags, level) = self.flags();
        let verb = self.0;
        run_admin(&flags, args, env, |call| {
            let failed = |e| format!("{}: {e}", verb.failure());
            let logger = match verb {
                LoggerVerb::Get => call
                    .call(|c| async move {
                        Client::new(c)
                            .get_logger(loggerv1::GetLoggerRequest {})
                            .await
                    })
                    .map_err(failed)?,
                LoggerVerb::Set => {
                    let given = level
                        .map(|f| call.parsed.get(&f).clone())
                        .unwrap_or_default();
                    let new_level = parse_level_flag(&given)? as i32;
                    call.call(|c| async move {
                        Client::new(c)
                            .set_log_level(loggerv1::SetLogLevelRequest { new_level })
                            .await
                    })
                    .map_err(failed)?
                }
                LoggerVerb::Reset => call
                    .call(|c| async move {
                        Client::new(c)
                            .reset_log_level(loggerv1::ResetLogLevelRequest {})
                            .await
                    })
                    .map_err(failed)?,
            };
            Ok(printed(&logger))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The usage texts of SPIRE's `cmd/spire-agent/cli/logger` tests (POSIX).
    #[test]
    fn usage_texts_are_spires() {
        let rest = "  -output value\n    \tDesired output format (pretty, json); default: pretty.\n  -socketPath string\n    \tPath to the SPIRE Agent admin API socket (default \"/tmp/spire-agent/private/admin.sock\")\n";
        assert_eq!(
            LoggerCommand(LoggerVerb::Get).flags().0.fs.usage(),
            format!("Usage of logger get:\n{rest}")
        );
        assert_eq!(
            LoggerCommand(LoggerVerb::Set).flags().0.fs.usage(),
            format!("Usage of logger set:\n  -level string\n    \tThe new log level, one of (panic, fatal, error, warn, info, debug, trace)\n{rest}")
        );
        assert_eq!(
            LoggerCommand(LoggerVerb::Reset).flags().0.fs.usage(),
            format!("Usage of logger reset:\n{rest}")
        );
    }
}
